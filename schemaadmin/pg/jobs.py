"""SQL a worker job runs around its work: session timeouts, its backend's pid, a log that outlives a rollback."""

from __future__ import annotations

import time

from psycopg import sql

from schemaadmin.pg.connection import cursor, fetch_one, own_connection

__all__ = ["LogWriter", "backend_pid", "reset_session_timeouts", "set_session_timeouts"]


def set_session_timeouts(*, lock_timeout_ms: int, statement_timeout_ms: int, using: str = "default") -> None:
    """Set lock_timeout and statement_timeout for the rest of this connection's session (0 means none)."""
    with cursor(using) as cur:
        cur.execute(
            """
            SELECT set_config('lock_timeout', %s, false) AS lock_timeout,
                   set_config('statement_timeout', %s, false) AS statement_timeout
            """,
            [f"{lock_timeout_ms}ms", f"{statement_timeout_ms}ms"],
        )


def reset_session_timeouts(*, using: str = "default") -> None:
    """Put lock_timeout and statement_timeout back to the server's defaults for this connection."""
    with cursor(using) as cur:
        cur.execute("RESET lock_timeout")
        cur.execute("RESET statement_timeout")


def backend_pid(*, using: str = "default") -> int:
    """Return the pid of the server process serving this connection."""
    row = fetch_one("SELECT pg_backend_pid() AS pid", using=using)
    assert row is not None
    return int(row[0])


class LogWriter:
    """Append lines to a job record's log column through a connection of its own, committed at once.

    A migration runs inside its own transaction on the job's connection; a log written there would stay
    invisible until the migration commits, and vanish if it fails. Writes are batched every `interval` seconds.
    """

    def __init__(self, table: str, pk: int, *, using: str = "default", interval: float = 0.5) -> None:
        self._conn = own_connection(using)
        self._statement = sql.SQL("UPDATE {table} SET log = log || %s WHERE id = %s").format(
            table=sql.Identifier(table)
        )
        self._pk = pk
        self._interval = interval
        self._pending: list[str] = []
        self._flushed_at = 0.0

    def write(self, line: str) -> None:
        """Add one line, stamped with the time; flush if the last flush is older than the interval."""
        self._pending.append(f"{time.strftime('%H:%M:%S')} {line.rstrip()}\n")
        if time.monotonic() - self._flushed_at >= self._interval:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._conn.execute(self._statement, ["".join(self._pending), self._pk])
            self._pending.clear()
        self._flushed_at = time.monotonic()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._conn.close()
