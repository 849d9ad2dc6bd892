"""`make run`'s launcher: serves the dashboard with a worker, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

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
    return sum("[local]" in _command_line(child) for child in postmaster.children())


def _command_line(process: psutil.Process) -> str:
    """Return a process's command line, "" once it has exited: a session ending between the listing of the server's
    children and this read (what the test waits for) is no session, not an error."""
    try:
        return " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return ""


@pytest.mark.parametrize("debug", ["1", "0"])
def test_run_dashboard_serves_then_ctrl_c_stops_web_worker_and_postgres(server_dir, debug):
    """With DJANGO_DEBUG as `make run` sets it, and without, as `manage.py run_dashboard` alone runs: every page
    answered 500 then (no static files manifest), and its Secure cookies never came back over plain http."""
    data_dir = server_dir / "pgdata"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL"}}
    # Without debug it collects static files: into a folder of its own, not the one this run's processes read.
    env.update(SCHEMAADMIN_PGDATA=str(data_dir), DJANGO_DEBUG=debug, DJANGO_STATIC_ROOT=str(server_dir / "static"))
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
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=30) as response:
            assert response.status == 200
            cookies = response.headers.get_all("Set-Cookie") or []
            stylesheet = re.search(r'href="(/static/schemaadmin/schemaadmin[^"]*\.css)"', response.read().decode())
        assert cookies and not any("Secure" in cookie for cookie in cookies), cookies
        assert stylesheet is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{stylesheet.group(1)}", timeout=30) as response:
            assert response.status == 200
        children = psutil.Process(launcher.pid).children(recursive=True)
        commands = [_command_line(c) for c in children]
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


@pytest.mark.django_db
def test_on_a_database_of_its_own_it_applies_nothing_and_names_what_is_pending(capsys):
    """With DATABASE_URL, migrations are reviewed (lint, SQL, drift) and applied on the Schema page, not on start."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from schemaadmin.management.commands.run_dashboard import Command

    [(_, latest)] = MigrationLoader(connection).graph.leaf_nodes("schemaadmin")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'schemaadmin' AND name = %s", [latest])
    command = Command()
    command._leave_migrations_to_review()
    said = capsys.readouterr().err
    assert "1 migration is not applied" in said and f"schemaadmin.{latest}" in said and "Schema page" in said
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'schemaadmin' AND name = %s", [latest])
        assert cursor.fetchone() == (0,)  # still pending: nothing was applied


@pytest.mark.django_db
def test_a_database_with_auth_but_not_schemaadmin_s_tables_is_refused_with_what_to_run():
    """A first migrate stopped at SchemaAdmin's 0001 (pgvector refused) leaves auth's tables: not one to serve."""
    from django.core.management import CommandError
    from django.db import connection

    from schemaadmin.management.commands.run_dashboard import Command
    from schemaadmin.models import AuditEvent

    with connection.cursor() as cursor:  # rolled back with the test
        cursor.execute(f"ALTER TABLE {AuditEvent._meta.db_table} RENAME TO not_yet_migrated")
    with pytest.raises(CommandError, match="has no SchemaAdmin tables yet"):
        Command()._leave_migrations_to_review()


@pytest.mark.parametrize("addrport", ["abc", "127.0.0.1:0", "127.0.0.1:70000", "host:port:8000", ""])
def test_an_address_runserver_would_refuse_is_refused_before_anything_starts(addrport):
    from django.core.management import CommandError

    from schemaadmin.management.commands.run_dashboard import check_address

    with pytest.raises(CommandError, match="is not a port"):
        check_address(addrport)


def test_a_taken_port_is_refused_with_a_sentence_and_a_free_one_passes():
    from django.core.management import CommandError

    from schemaadmin.management.commands.run_dashboard import check_address

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=rf"Cannot listen on 127.0.0.1:{port}: it is in use"):
            check_address(f"127.0.0.1:{port}")
    check_address(f"127.0.0.1:{_free_port()}")  # closed again: free


def test_the_server_is_left_running_while_another_live_process_holds_it(tmp_path):
    """A second dashboard refused its port used to stop the embedded server the first one was serving from."""
    from schemaadmin.embedded import other_holders

    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    try:
        (tmp_path / ".handle_pids.json").write_text(json.dumps([os.getpid(), ended.pid, other.pid]))
        # This run's own pid and a process that ended (killed ones never take themselves off the list) do not count.
        assert other_holders(tmp_path, exclude={os.getpid()}) == [other.pid]
    finally:
        other.communicate(b"")
    assert other_holders(tmp_path, exclude={os.getpid()}) == []
    (tmp_path / ".handle_pids.json").write_text("not json")
    assert other_holders(tmp_path, exclude=set()) == []
