"""pg/activity.py against a real server: a real blocked session, locks counted in SQL, real signals."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from schemaadmin.pg.activity import (
    MAX_PID,
    SignalRefused,
    cancel_backend,
    connection_counts,
    connection_slots,
    lock_summary,
    session,
    sessions,
    terminate_backend,
)
from tests.blocking import BLOCKER_APP, WAITER_APP, blocking, blocking_factory, poll  # noqa: F401 -- the fixtures
from tests.planting import connect_to_test_database

pytestmark = pytest.mark.django_db


def test_a_waiting_session_names_its_blocker(blocking):  # noqa: F811
    by_pid = {s.pid: s for s in sessions()}
    waiter, blocker = by_pid[blocking.waiter_pid], by_pid[blocking.blocker_pid]
    assert waiter.blocked_by == (blocking.blocker_pid,)
    assert waiter.wait_event_type == "Lock"
    assert waiter.state == "active"
    assert waiter.application == WAITER_APP
    assert "UPDATE" in waiter.query and blocking.table in waiter.query
    assert blocker.blocked_by == ()
    assert blocker.state == "idle in transaction"
    assert blocker.application == BLOCKER_APP
    assert blocker.xact_seconds is not None and blocker.xact_seconds >= 0
    # A unix socket's client is "local"; over TCP, its address and port.
    on_socket = (connection.settings_dict["HOST"] or "/").startswith("/")
    assert (blocker.client == "local") == on_socket and blocker.backend_type == "client backend"
    # Lock waiters come first, whatever else runs on the server.
    assert sessions()[0].wait_event_type == "Lock"


def test_one_session_by_pid_and_none_for_what_is_not_a_backend(blocking):  # noqa: F811
    assert session(blocking.waiter_pid).blocked_by == (blocking.blocker_pid,)
    for pid in (0, -1, MAX_PID, MAX_PID + 1, 10**30):
        assert session(pid) is None


def test_query_text_is_cut_on_the_server(blocking):  # noqa: F811
    cut = session(blocking.waiter_pid, query_chars=10)
    assert cut.query == "UPDATE pla" and cut.query_truncated
    assert not session(blocking.waiter_pid).query_truncated


def test_the_current_backend_is_marked():
    current = [s for s in sessions() if s.is_current]
    assert len(current) == 1


def test_locks_are_counted_by_mode_and_relation(blocking):  # noqa: F811
    summary = lock_summary()
    counts = summary.counts
    waiting = [c for c in counts if not c.granted]
    assert sum(c.locks for c in waiting) >= 1
    assert any(c.locktype == "transactionid" and c.mode == "ShareLock" and not c.granted for c in counts)
    relations = {r.relation: r for r in summary.relations}
    held = relations[blocking.table]
    assert "RowExclusiveLock" in held.modes and held.locks >= 2


def test_many_locks_stay_a_few_rows(planter):
    with connect_to_test_database(autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(i) FROM generate_series(1, 5000) AS i")
        counts = lock_summary().counts
        advisory = [c for c in counts if c.locktype == "advisory"]
        assert sum(c.locks for c in advisory) >= 5000
        assert len(counts) < 40
        conn.rollback()


def test_the_reading_sessions_own_locks_are_left_out():
    from django.db import connection

    with connection.cursor() as cur:  # this test's transaction holds them until it ends
        cur.execute("SELECT pg_advisory_xact_lock(i) FROM generate_series(1, 50) AS i")
    assert not any(c.locktype == "advisory" for c in lock_summary().counts)


def test_connections_are_counted_against_the_slots(blocking):  # noqa: F811
    slots = connection_slots()
    assert slots.max_connections > 0 and 0 <= slots.reserved < slots.max_connections
    assert slots.total >= 3  # this test's own connection, the blocker, the waiter
    counts = connection_counts()
    applications = {c.value: c.sessions for c in counts if c.dimension == "application"}
    assert applications[BLOCKER_APP] == 1 and applications[WAITER_APP] == 1
    states = {c.value: c.sessions for c in counts if c.dimension == "state"}
    assert states["idle in transaction"] >= 1 and states["active"] >= 2
    assert sum(states.values()) == slots.total


def test_cancel_stops_the_waiting_statement(blocking):  # noqa: F811
    assert cancel_backend(blocking.waiter_pid) is True
    poll(blocking.waiter_finished, what="the waiter to stop")
    assert isinstance(blocking.outcome["error"], psycopg.errors.QueryCanceled)
    # The blocker still holds its row.
    assert blocking.blocker.execute("SELECT 1").fetchone() == (1,)


def test_terminate_ends_the_blocker_and_the_waiter_goes_on(blocking):  # noqa: F811
    assert terminate_backend(blocking.blocker_pid) is True
    poll(blocking.waiter_finished, what="the waiter to get its row")
    assert blocking.outcome == {"done": True}
    with pytest.raises(psycopg.OperationalError):
        blocking.blocker.execute("SELECT 1")


@pytest.mark.parametrize("pid", [0, -5, MAX_PID, 10**12])
def test_signalling_what_is_not_a_backend_says_false(pid):
    assert cancel_backend(pid) is False
    assert terminate_backend(pid) is False


def test_a_superuser_backend_cannot_be_signalled(superuser_sql):
    from django.db import connection

    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], user="postgres", dbname=db["NAME"], autocommit=True) as conn:
        with pytest.raises(SignalRefused, match="permission denied|Only roles with the SUPERUSER|must be a superuser"):
            cancel_backend(conn.info.backend_pid)
        assert session(conn.info.backend_pid).needs_superuser


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql://u:p@db.example:5432/app", {"application_name": "schemaadmin"}),
        (
            "postgresql://u:p@db.example/app?application_name=ours&sslmode=require",
            {"application_name": "ours", "sslmode": "require"},
        ),
    ],
)
def test_connections_are_labelled_unless_the_url_names_them(monkeypatch, url, expected):
    from pathlib import Path

    from schemaadmin.embedded import database_settings

    monkeypatch.setenv("DATABASE_URL", url)
    assert database_settings(Path(".")).default["OPTIONS"] == expected


def test_our_connections_carry_the_label():
    from schemaadmin.pg.sessions import application_name

    assert application_name() == "schemaadmin"
    assert [s.application for s in sessions() if s.is_current] == ["schemaadmin"]
