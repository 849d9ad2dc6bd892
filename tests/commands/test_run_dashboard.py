"""`make run`'s launcher: serves the dashboard with a worker, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from tests.worker import wait_for

PROJECT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, launcher: subprocess.Popen, *, limit: float = 900) -> dict:
    """Poll url until it answers; fail at once if the launcher exits first.

    Setup (initdb, migrations, the first start) takes seconds on a quiet machine and minutes on a busy CI one,
    so the state decides, not a guess; limit only stops a launcher that hangs without ever serving.
    """
    deadline = time.monotonic() + limit
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if launcher.poll() is not None:
                raise AssertionError(f"run_dashboard exited ({launcher.returncode}) before serving") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _postgres_running(data_dir: Path) -> bool:
    return any(
        p.info["name"] == "postgres" and str(data_dir) in " ".join(p.info["cmdline"] or [])
        for p in psutil.process_iter(["name", "cmdline"])
    )


def _client_sessions(data_dir: Path) -> int:
    """Return how many client sessions the embedded server of data_dir has (its backends on the unix socket)."""
    postmaster = next(
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres" and str(data_dir) in " ".join(p.info["cmdline"] or [])
    )
    return sum("[local]" in " ".join(child.cmdline()) for child in postmaster.children())


def test_run_dashboard_serves_then_ctrl_c_stops_web_worker_and_postgres(server_dir):
    data_dir = server_dir / "pgdata"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL"}}
    env.update(SCHEMAADMIN_PGDATA=str(data_dir), DJANGO_DEBUG="1")
    launcher = subprocess.Popen(
        [sys.executable, "manage.py", "run_dashboard", "--no-seed", "--addrport", f"127.0.0.1:{port}"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives `make run`
    )
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/healthz", launcher) == {
            "status": "ok",
            "database": "reachable",
        }
        children = psutil.Process(launcher.pid).children(recursive=True)
        commands = [" ".join(c.cmdline()) for c in children]
        assert any("runserver" in c for c in commands) and any("procrastinate worker" in c for c in commands)
        assert _postgres_running(data_dir)
        # runserver answers each request in a thread of its own: no request leaves its session open behind it.
        # The worker's sessions (and the launcher's setup) come and go on their own; the web's would pile up.
        before = _client_sessions(data_dir)
        for _ in range(30):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as response:
                assert response.status == 200
        # A closed session leaves the server a moment after its response: wait for that state.
        wait_for(lambda: _client_sessions(data_dir) <= before, timeout=120, what="the requests' sessions to close")

        os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C does
        output, _ = launcher.communicate(timeout=300)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode == 0, output
    assert "Demo accounts on database" in output and "dba" in output
    assert "Embedded PostgreSQL stopped." in output
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not _postgres_running(data_dir)
