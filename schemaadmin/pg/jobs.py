"""SQL a worker job runs around its work (session timeouts, its backend's pid, appending to its record's log), and the
prune of procrastinate's rows of finished jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from schemaadmin.pg.connection import cursor, fetch_one

__all__ = [
    "FINISHED_JOB_STATUSES",
    "append_log",
    "backend_pid",
    "delete_finished_jobs",
    "reset_session_timeouts",
    "set_session_timeouts",
]

# The states of a procrastinate job that never runs again (retry_failed_job aside, which the dashboard never calls).
FINISHED_JOB_STATUSES = ("succeeded", "failed", "cancelled", "aborted")


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


def append_log(
    table: str, record_id: int, text: str, *, using: str = "default", connection: psycopg.Connection | None = None
) -> bool:
    """Append text to the log of row record_id in table, through connection if given; return whether the row exists.

    Without a connection the alias's Django connection runs it, committed at once unless a transaction is open there.
    """
    statement = sql.SQL(
        """
        UPDATE {table}
        SET log = log || %(text)s
        WHERE id = %(id)s
        """
    ).format(table=sql.Identifier(table))
    params: dict[str, Any] = {"text": text, "id": record_id}
    if connection is not None:
        return connection.execute(statement, params).rowcount == 1
    with cursor(using) as cur:
        cur.execute(statement, params)
        return cur.rowcount == 1


def delete_finished_jobs(cutoff: datetime, batch: int, *, using: str = "default") -> int:
    """Delete procrastinate's rows of the jobs that finished before cutoff (their last event is older), batch rows
    a statement, oldest first; return how many went. Their events go with them (ON DELETE CASCADE), and a periodic
    task's reference to its last job is cleared by procrastinate's own trigger."""
    statement = """
        DELETE FROM procrastinate_jobs
        WHERE id IN (
            SELECT job.id
            FROM procrastinate_jobs AS job
            WHERE job.status::text = ANY(%(statuses)s)
              AND NOT EXISTS (
                  SELECT FROM procrastinate_events AS event WHERE event.job_id = job.id AND event.at >= %(cutoff)s
              )
            ORDER BY job.id
            LIMIT %(batch)s
        )
    """
    params: dict[str, Any] = {"statuses": list(FINISHED_JOB_STATUSES), "cutoff": cutoff, "batch": batch}
    deleted = 0
    with cursor(using) as cur:
        while True:
            cur.execute(statement, params)
            deleted += cur.rowcount
            if cur.rowcount < batch:
                return deleted
