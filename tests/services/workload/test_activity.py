"""services/workload/activity.py on a real server: the report, the blocking tree and flags."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.db import connection

from schemaadmin.pg.activity import Session
from schemaadmin.pg.sessions import application_name
from schemaadmin.services.workload.activity import ActivityThresholds, SessionRow, activity_report, blocking_tree
from tests.blocking import BLOCKER_APP, blocking, blocking_factory, own_session  # noqa: F401 -- the fixtures

pytestmark = pytest.mark.django_db


def test_the_report_puts_the_waiter_under_its_blocker(blocking):  # noqa: F811
    report = activity_report(show_query_text=True)
    roots = [node for node in report.blocking_tree if node.row.pid == blocking.blocker_pid]
    assert len(roots) == 1
    assert [w.row.pid for w in roots[0].waiters] == [blocking.waiter_pid]
    assert report.row(blocking.blocker_pid).blocking == (blocking.waiter_pid,)
    assert report.waiting_count >= 1 and report.locks.waiting >= 1
    assert report.by_application[BLOCKER_APP] == 1
    assert not report.row(blocking.blocker_pid).own
    assert "balance - 1" in report.row(blocking.blocker_pid).query


def test_without_the_permission_the_report_holds_shapes_only(blocking):  # noqa: F811
    report = activity_report(show_query_text=False)
    row = report.row(blocking.waiter_pid)
    assert not row.query_shown
    assert row.query == f"UPDATE {blocking.table} SET balance = balance + ? WHERE id = ?"  # noqa: S608


def test_thresholds_flag_idle_in_transaction_and_long_running(blocking):  # noqa: F811
    strict = ActivityThresholds(long_running_seconds=0, idle_in_transaction_seconds=0, connections_near_max_ratio=0)
    report = activity_report(show_query_text=True, thresholds=strict)
    assert report.row(blocking.blocker_pid).idle_in_transaction
    assert report.row(blocking.waiter_pid).long_running
    assert report.near_max
    lenient = ActivityThresholds(
        long_running_seconds=3600, idle_in_transaction_seconds=3600, connections_near_max_ratio=1
    )
    report = activity_report(show_query_text=True, thresholds=lenient)
    assert not report.row(blocking.blocker_pid).flagged and not report.row(blocking.waiter_pid).flagged
    assert not report.near_max


def _row(pid: int, blocked_by: tuple[int, ...] = ()) -> SessionRow:
    session = Session(
        pid=pid, database="d", role="r", application="a", client="", backend_type="client backend", state="active",
        wait_event_type="Lock" if blocked_by else None, wait_event=None, query="", query_truncated=False,
        backend_start=None, xact_start=None, query_start=None, state_change=None, query_seconds=None,
        xact_seconds=None, state_seconds=None, blocked_by=blocked_by, is_current=False, needs_superuser=False,
        our_role=False,
    )  # fmt: skip
    return SessionRow(session, "", True, False, False, False, ())


def _shape(nodes) -> list:
    return [(n.row.pid, _shape(n.waiters)) for n in nodes]


def test_blocking_tree_chains_shares_and_cycles():
    # 1 blocks 2, 2 blocks 3; 4 waits on 1 and 5; 6 and 7 wait on each other (a deadlock before detection).
    rows = [_row(1), _row(2, (1,)), _row(3, (2,)), _row(4, (1, 5)), _row(5), _row(6, (7,)), _row(7, (6,)), _row(8)]
    assert _shape(blocking_tree(rows)) == [
        (1, [(2, [(3, [])]), (4, [])]),
        (5, [(4, [])]),
        (7, [(6, [])]),
    ]


def test_a_blocker_outside_the_report_leaves_its_waiter_as_a_root():
    assert _shape(blocking_tree([_row(2, (99,)), _row(3, (2,))])) == [(2, [(3, [])])]


def test_a_client_calling_itself_schemaadmin_under_another_role_is_not_ours(superuser_sql, settings):
    """The "ours" badge (and the second confirmation it asks for, and the findings it spares) needs our role too:
    any client may set application_name to "schemaadmin"."""
    role = f"impostor_{uuid.uuid4().hex[:8]}"
    superuser_sql(f'CREATE ROLE "{role}" LOGIN')
    db = connection.settings_dict
    try:
        with (
            own_session() as ours,
            psycopg.connect(host=db["HOST"], user=role, dbname=db["NAME"], application_name=application_name()) as conn,
        ):
            report = activity_report(show_query_text=True)
            assert report.row(ours).own
            impostor = report.row(conn.info.backend_pid)
            assert impostor.session.application == application_name() and not impostor.own
            # The EXPLAIN console's own role is named ours, not found by membership (a superuser is in every role).
            settings.SCHEMAADMIN = {"EXPLAIN_ROLE": role}
            assert activity_report(show_query_text=True).row(conn.info.backend_pid).own
    finally:
        superuser_sql(f'DROP ROLE "{role}"')


def test_a_waiter_whose_blockers_are_not_sessions_here_is_a_root_of_its_own():
    """Blocked by a prepared transaction (pid 0) or by a session past the report's cut: counted as waiting, so in the
    tree too, where it was missing."""
    assert _shape(blocking_tree([_row(4, (0,)), _row(5, (77,)), _row(6)])) == [(4, []), (5, [])]


def test_the_drawn_tree_shows_a_waiter_of_two_blockers_once_and_points_back_to_it():
    """pid 4 waits on 1 and 5: drawn in full under 1 (with its actions), and under 5 a line that says where it is."""
    from schemaadmin.templatetags.activity import blocking_tree as drawn_tree

    rows = [_row(1), _row(4, (1, 5)), _row(5)]
    html = drawn_tree(blocking_tree(rows), can_signal=True)
    assert html.count('data-pid="4"') == 1 and html.count('aria-label="Terminate pid 4"') == 1
    assert (
        '<li class="blocking-node small text-body-secondary" data-again-pid="4">pid 4, shown above: it waits for 1, 5'
        in html
    )
    # A waiter (and an active blocker) runs a statement a cancel stops; the tree offers it beside terminate.
    assert 'aria-label="Cancel pid 4"' in html and 'aria-label="Cancel pid 1"' in html


def test_a_blocker_idle_in_its_transaction_is_offered_terminate_only():
    from dataclasses import replace

    from schemaadmin.templatetags.activity import blocking_tree as drawn_tree

    idle = _row(1)
    idle = replace(idle, session=replace(idle.session, state="idle in transaction"))
    html = drawn_tree(blocking_tree([idle, _row(2, (1,))]), can_signal=True)
    assert 'aria-label="Terminate pid 1"' in html and 'aria-label="Cancel pid 1"' not in html
    assert "Cancel" not in drawn_tree(blocking_tree([idle, _row(2, (1,))]), can_signal=False)
