"""The side connection: a read beside the caller's, on another session, kept between reads, under the caller's
execute wrappers; at once on the caller's own connection inside a transaction."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.signals import request_finished
from django.db import ProgrammingError, connection, connections, transaction

from schemaadmin.middleware import _SessionTimeouts
from schemaadmin.pg.beside import _side, close_side_connections, read_beside
from schemaadmin.pg.connection import fetch_one
from schemaadmin.services.index_health.snapshot import take_snapshot


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
        try:
            return fetch_one("SELECT pg_advisory_lock(4242), pg_advisory_unlock(4242)")
        finally:
            finished.set()

    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(4242)")
        try:
            waiting = read_beside(wait_for_the_lock, using="default")
            # The side session waits for the lock (a read run here would have taken it at once and finished).
            seen_waiting = 0
            # A safety net, not a wait: the side session queues for the lock within milliseconds.
            deadline = time.monotonic() + 120
            while not seen_waiting and not finished.is_set():
                assert time.monotonic() < deadline, "the side read never waited for the lock"
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
def test_a_read_beside_runs_under_the_callers_statement_and_lock_timeouts():
    timeouts = _SessionTimeouts(4321, 1234)
    try:
        with connection.execute_wrapper(timeouts):
            settings = read_beside(
                lambda: fetch_one("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"),
                using="default",
            )()
    finally:
        close_side_connections()  # the kept session would hold the settings for later tests
    assert settings == ("4321ms", "1234ms")


@pytest.mark.django_db(transaction=True)
def test_a_side_connection_past_conn_max_age_is_closed_when_a_request_finishes():
    first = read_beside(_backend_pid, using="default")()
    # As if CONN_MAX_AGE had passed since it connected.
    read_beside(lambda: setattr(connections["default"], "close_at", 0), using="default")()
    request_finished.send(sender=None)
    assert _side.submit(lambda: connections["default"].connection is None).result()
    assert read_beside(_backend_pid, using="default")() != first


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_reads_the_tables_on_the_side_connection():
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE side_read_here (id int PRIMARY KEY, note text)")
    threads = {}

    def where(execute, sql, params, many, context):
        threads.setdefault(threading.current_thread().name.split("_")[0], []).append(sql)
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(where):
            snapshot = take_snapshot()
    finally:
        with connection.cursor() as cur:
            cur.execute("DROP TABLE side_read_here")
    assert any(t.name == "side_read_here" for t in snapshot.tables)
    assert [sql for sql in threads["schemaadmin-beside"] if "pg_stat_get_live_tuples" in sql]
    assert not [
        sql
        for name, run in threads.items()
        if name != "schemaadmin-beside"
        for sql in run
        if "pg_stat_get_live_tuples" in sql
    ]


@pytest.mark.django_db(transaction=True)
def test_in_a_transaction_without_an_atomic_block_the_read_runs_on_the_callers_connection():
    transaction.set_autocommit(False)
    try:
        pid = read_beside(_backend_pid, using="default")()
        assert pid == _backend_pid()
    finally:
        transaction.rollback()
        transaction.set_autocommit(True)


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
