"""Run a real procrastinate worker process against the test database.

Jobs only see committed rows, so tests that use the worker need `transactional_db` (the `worker` fixture asks
for it). The worker beats every second and counts a worker silent for 6 seconds as dead, so crash recovery can
be tested in seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from schemaadmin.services import jobs
from schemaadmin.services.jobs import JobKind

HEARTBEAT_SECONDS = 1.0
# Six missed beats: a live worker on a busy machine, whose beat can come a second or two late, is not taken for
# dead by the tests that check a live worker's job is left alone, and a killed one is still recovered in seconds.
STALLED_SECONDS = 6.0


def database_url() -> str:
    """Return a URL for the database the tests use (the test database, on this process's server)."""
    params = connection.settings_dict
    host = quote(params["HOST"] or "", safe="")
    port = f":{params['PORT']}" if params["PORT"] else ""
    password = f":{quote(params['PASSWORD'], safe='')}" if params["PASSWORD"] else ""
    return f"postgres://{quote(params['USER'] or '', safe='')}{password}@{host}{port}/{params['NAME']}"


class Worker:
    """A `manage.py procrastinate worker` child process; kill() it to play a crash, start() to bring it back."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "SCHEMAADMIN_WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "SCHEMAADMIN_WORKER_STALLED_SECONDS": str(STALLED_SECONDS),
        }
        env.pop("PYTEST_XDIST_WORKER", None)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "procrastinate", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """Kill the worker with SIGKILL, as a crash or the OOM killer would."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """Ask the worker to stop, then kill it if it has not within 10 seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(
    condition: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.2, what: str = ""
) -> object:
    """Return condition()'s first truthy value, polling until timeout; fail the test if it never comes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what or condition}.")


def clear_jobs() -> None:
    """Forget every procrastinate job: a transactional test's flush leaves the queue alone."""
    with connection.cursor() as cur:
        cur.execute("TRUNCATE procrastinate_jobs CASCADE")


@pytest.fixture
def worker(transactional_db, tmp_path) -> Iterator[Worker]:
    """Start a worker on the test database for this test, on an empty queue; stop it after."""
    clear_jobs()
    running = Worker(tmp_path / "worker.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()
        clear_jobs()


@pytest.fixture
def short_stall(settings) -> None:
    """Recovery in the test process counts a worker dead after STALLED_SECONDS, as the test worker does, not the
    default 30 s (which left a crash test's recovery a few seconds inside its wait)."""
    settings.PROCRASTINATE_WORKER_DEFAULTS = {
        **settings.PROCRASTINATE_WORKER_DEFAULTS,
        "stalled_worker_timeout": STALLED_SECONDS,
    }


def recovered_after_kill(worker: Worker, kind: JobKind[Any]) -> list[Any]:
    """Kill the worker, then return the records of kind that recovery ends once its beat is STALLED_SECONDS old."""
    worker.kill()
    return wait_for(  # type: ignore[return-value]
        lambda: jobs.recover(kind),
        timeout=STALLED_SECONDS + 30,
        interval=0.5,
        what=f"recovery of the killed worker's {kind.task_name} job",
    )
