"""The side connection: a read beside the caller's, on another session, kept between reads, under the caller's
execute wrappers; at once on the caller's own connection inside a transaction."""

from __future__ import annotations

import threading

import pytest
from django.db import ProgrammingError, connection, transaction

from schemaadmin.middleware import _StatementTimeout
from schemaadmin.pg.beside import read_beside
from schemaadmin.pg.connection import fetch_one


def _backend_pid() -> int:
    row = fetch_one("SELECT pg_backend_pid()")
    assert row is not None
    return int(row[0])


@pytest.mark.django_db(transaction=True)
def test_a_read_beside_runs_on_another_session_kept_between_reads():
    first = read_beside(_backend_pid, using="default")
    second = read_beside(_backend_pid, using="default")

    side = first()
    assert side != _backend_pid()
    # The same session twice: its relation cache, the point of reading beside, is kept warm.
    assert second() == side


@pytest.mark.django_db(transaction=True)
def test_a_read_beside_overlaps_the_callers_own():
    """While the side read waits on a lock, the caller's connection goes on and can release it."""
    finished = threading.Event()

    def wait_for_the_lock():
        row = fetch_one("SELECT pg_advisory_lock(4242), pg_advisory_unlock(4242)")
        finished.set()
        return row

    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(4242)")
        try:
            waiting = read_beside(wait_for_the_lock, using="default")
            # The side session waits for the lock (a read run here would have taken it at once and finished).
            seen_waiting = 0
            while not seen_waiting and not finished.is_set():
                cur.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted"
                )
                (seen_waiting,) = cur.fetchone()
        finally:
            cur.execute("SELECT pg_advisory_unlock(4242)")
    assert seen_waiting == 1
    assert waiting() == ("", True)


@pytest.mark.django_db(transaction=True)
def test_a_failed_read_beside_raises_for_the_caller_and_the_next_read_works():
    failed = read_beside(lambda: fetch_one("SELECT * FROM no_such_table_here"), using="default")
    with pytest.raises(ProgrammingError, match="no_such_table_here"):
        failed()
    assert read_beside(lambda: fetch_one("SELECT 1"), using="default")() == (1,)


@pytest.mark.django_db(transaction=True)
def test_a_read_beside_runs_under_the_callers_statement_timeout():
    timeout = _StatementTimeout(4321)
    with connection.execute_wrapper(timeout):
        setting = read_beside(lambda: fetch_one("SELECT current_setting('statement_timeout')"), using="default")()
    assert setting == ("4321ms",)


@pytest.mark.django_db
def test_inside_a_transaction_the_read_runs_on_the_callers_connection_and_sees_its_changes():
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("CREATE TABLE uncommitted_here (id int)")
        read = read_beside(
            lambda: (_backend_pid(), fetch_one("SELECT to_regclass('uncommitted_here') IS NOT NULL")),
            using="default",
        )
        pid, (sees_table,) = read()
        assert pid == _backend_pid()
        assert sees_table
