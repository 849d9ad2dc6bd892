"""A real blocked session: one connection holds a row lock in an open transaction, a second waits for it.

Both connect as the application's role but under their own application_name, so SchemaAdmin does not take them
for its own sessions. The waiting UPDATE runs in a thread; the fixture returns once PostgreSQL reports it waiting
on a lock held by the blocker, and ends both sessions at teardown, whatever the test did to them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
import pytest
from django.db import connection

from schemaadmin.pg.connection import own_connection

BLOCKER_APP = "test blocker"
WAITER_APP = "test waiter"
WAIT_SECONDS = 60


def poll(condition, *, timeout: float = WAIT_SECONDS, what: str = "the condition"):
    """Return condition()'s first truthy value, asked every 50 ms; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(0.05)


@dataclass
class Blocking:
    table: str
    blocker: psycopg.Connection
    blocker_pid: int
    waiter_pid: int
    waiter: threading.Thread
    outcome: dict[str, object] = field(default_factory=dict)  # "done": True, or "error": the exception
    waiter_conn: psycopg.Connection | None = None

    def waiter_finished(self) -> bool:
        return not self.waiter.is_alive()


def _backend_gone(conn: psycopg.Connection, pid: int) -> bool:
    return conn.execute("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", [pid]).fetchone()[0]


def start_blocking(planter, django_db_blocker, table: str) -> Blocking:
    """Lock a row of table from a blocker session and queue a waiter behind it; return once it waits."""
    blocker = own_connection(autocommit=False, application_name=BLOCKER_APP)
    blocker.execute(f"UPDATE {table} SET balance = balance - 1 WHERE id = 1")  # noqa: S608 -- a test schema name
    blocker_pid = blocker.info.backend_pid
    waiter = own_connection(application_name=WAITER_APP)
    waiter_pid = waiter.info.backend_pid
    outcome: dict[str, object] = {}

    def wait_for_the_row() -> None:
        try:
            waiter.execute(f"UPDATE {table} SET balance = balance + 1 WHERE id = 1")  # noqa: S608
            outcome["done"] = True
        except psycopg.Error as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=wait_for_the_row, daemon=True)
    thread.start()
    poll(
        lambda: planter.sql("SELECT %s = ANY(pg_blocking_pids(%s))", [blocker_pid, waiter_pid])[0][0],
        what="the waiter to queue behind the blocker",
    )
    # A test inside a transaction keeps its first read of pg_stat_activity: make it read afresh.
    with django_db_blocker.unblock(), connection.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
    return Blocking(table, blocker, blocker_pid, waiter_pid, thread, outcome, waiter)


def stop_blocking(planter, state: Blocking) -> None:
    """End both sessions, whatever the test did to them, and wait until the server has let them go."""
    if not state.blocker.closed:
        try:
            state.blocker.rollback()
        except psycopg.Error:
            pass
        state.blocker.close()
    state.waiter.join(WAIT_SECONDS)
    state.waiter_conn.close()
    poll(
        lambda: _backend_gone(planter.conn, state.blocker_pid) and _backend_gone(planter.conn, state.waiter_pid),
        what="the test sessions to end",
    )


@pytest.fixture
def blocking_factory(planter, django_db_blocker) -> Iterator:
    """Return start(): it plants a table, blocks a row of it and returns the Blocking; both end at teardown."""
    started: list[Blocking] = []

    def start() -> Blocking:
        table = planter.table("accounts", "id int PRIMARY KEY, balance int", rows=3, fill="i, 100")
        started.append(start_blocking(planter, django_db_blocker, table))
        return started[-1]

    yield start
    for state in started:
        stop_blocking(planter, state)


@pytest.fixture
def blocking(blocking_factory) -> Blocking:
    """Return a Blocking: blocker_pid holds a row of a planted table locked, waiter_pid waits to update it."""
    return blocking_factory()


@contextmanager
def own_session() -> Iterator[int]:
    """Yield the pid of an idle session that carries SchemaAdmin's own application_name, closed afterwards."""
    conn = own_connection()
    try:
        yield conn.info.backend_pid
    finally:
        conn.close()


@contextmanager
def holding(statement: str) -> Iterator[int]:
    """Run statement in another session's transaction, left open inside the block (its locks held); yield its pid.

    The session gives up after 10 s when something already holds what statement locks, rather than hang the test,
    and ends its idle transaction after 60 s: long enough that a few requests on a busy machine never outlast it
    (which would free a table too soon), short enough that a failed test cannot hold it for ever.
    """
    with own_connection(autocommit=False) as holder:
        holder.execute("SET lock_timeout = '10s'")
        holder.execute("SET idle_in_transaction_session_timeout = '60s'")
        holder.execute(statement)
        try:
            yield holder.info.backend_pid
        finally:
            holder.rollback()


@contextmanager
def audit_unwritable(settings, caplog, logger: str) -> Iterator[None]:
    """Inside the block an audit event cannot be written: another session holds the audit table and the web's
    lock_timeout gives up after 200 ms. Errors of logger are captured in caplog. Needs transactional_db."""
    settings.SCHEMAADMIN = {"WEB_LOCK_TIMEOUT_MS": 200}
    with caplog.at_level(logging.ERROR, logger=logger):
        with holding("LOCK TABLE schemaadmin_auditevent IN ACCESS EXCLUSIVE MODE"):
            yield
