"""A job record's log (services/jobs.py's lifecycle): stamped lines appended in the records' database as the job
goes, never in the database the job works on; and which database that is (records_database, which jobs.py names
too)."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

import psycopg
from django.db import router

from schemaadmin.pg.connection import own_connection
from schemaadmin.pg.jobs import append_log

if TYPE_CHECKING:
    from schemaadmin.services.jobs import JobKind

__all__ = ["JobLog", "records_database"]


def records_database(kind: JobKind[Any]) -> str:
    """Return the alias of the database the kind's records live in, whatever database its jobs work on."""
    return router.db_for_write(kind.model)


class JobLog:
    """A record's log: stamped lines appended in the records' database and committed at once; safe from two threads.

    Lines always go to the database the records live in, never to the one the job works on. They go through the
    writing thread's Django connection to it, in autocommit. A job whose own work holds a transaction on that very
    connection (migrations applied to `default`) asks for a connection of its own with `apart=True`: a line
    written inside the migration's transaction would show only when it commits, and vanish if it fails.
    With an interval, lines are written at most once per interval; flush() and close() write the rest.
    """

    def __init__(self, kind: JobKind[Any], record_id: int, *, interval: float = 0.0, apart: bool = False) -> None:
        self._table = kind.model._meta.db_table
        self._using = records_database(kind)
        self._record_id = record_id
        self._interval = interval
        self._apart = apart
        self._connection: psycopg.Connection | None = None
        self._pending: list[str] = []
        self._flushed_at = 0.0
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        """Add one line, stamped with the time; write it now unless the last write is younger than the interval."""
        with self._lock:
            # An exact UTC instant: pages show it in the viewer's zone (formats.log_html), and lines may cross midnight.
            self._pending.append(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line.rstrip()}\n")
            if time.monotonic() - self._flushed_at >= self._interval:
                self._flush()

    def flush(self) -> None:
        """Write the lines not written yet."""
        with self._lock:
            self._flush()

    def close(self) -> None:
        """Write the lines not written yet and close the connection of its own, if it opened one."""
        with self._lock:
            try:
                self._flush()
            finally:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None

    def __enter__(self) -> JobLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _flush(self) -> None:
        if self._pending:
            text = "".join(self._pending)
            if self._apart:
                if self._connection is None:
                    self._connection = own_connection(self._using)
                append_log(self._table, self._record_id, text, connection=self._connection)
            else:
                append_log(self._table, self._record_id, text, using=self._using)
            self._pending.clear()
        self._flushed_at = time.monotonic()
