"""The activity health findings on a real server: a session idle in its transaction, a long one, connections."""

from __future__ import annotations

import pytest
from django.db import connection

from schemaadmin.pg.activity import ConnectionSlots
from schemaadmin.services.index_health import health_report
from schemaadmin.services.index_health.activity_rules import ACTIVITY_CODES, connections_near_max
from schemaadmin.services.workload.activity import ActivityFacts, ActivityThresholds
from tests.blocking import BLOCKER_APP, blocking, blocking_factory  # noqa: F401 -- the fixtures

pytestmark = pytest.mark.django_db

STRICT = {
    "ACTIVITY_LONG_RUNNING_SECONDS": 0,
    "ACTIVITY_IDLE_IN_TRANSACTION_SECONDS": 0,
    "ACTIVITY_CONNECTIONS_NEAR_MAX_RATIO": 0.0001,
}
LENIENT = {
    "ACTIVITY_LONG_RUNNING_SECONDS": 10**6,
    "ACTIVITY_IDLE_IN_TRANSACTION_SECONDS": 10**6,
    "ACTIVITY_CONNECTIONS_NEAR_MAX_RATIO": 1.0,
}


def _activity(report) -> dict:
    return {f.code: f for f in report.findings if f.code in ACTIVITY_CODES}


def test_the_findings_name_the_sessions_and_link_to_activity(settings, blocking):  # noqa: F811
    settings.SCHEMAADMIN = STRICT
    found = _activity(health_report())
    idle = found["idle_in_transaction"]
    assert f"pid {blocking.blocker_pid}" in idle.message and BLOCKER_APP in idle.message
    assert f"pg_terminate_backend({blocking.blocker_pid})" in idle.fix
    # The idle session's own role (the application's: schemaadmin on the embedded server, DATABASE_URL's elsewhere).
    role = connection.settings_dict["USER"]
    assert f"ALTER ROLE {role} SET idle_in_transaction_session_timeout" in idle.fix
    long = found["long_running_transaction"]
    assert str(blocking.waiter_pid) in long.object and f"pid {blocking.waiter_pid}" in long.message
    near = found["connections_near_max"]
    assert "max_connections" in near.message and "test waiter 1" in near.message
    for finding in found.values():
        assert finding.url == "/activity/" and finding.severity == "warning" and finding.table == ""


def test_our_own_sessions_are_not_findings(settings, blocking):  # noqa: F811
    settings.SCHEMAADMIN = STRICT
    long = _activity(health_report())["long_running_transaction"]
    # This test's own connection runs the snapshot inside a transaction, as application "schemaadmin": left out.
    assert long.object == f"session {blocking.waiter_pid}"


def test_under_the_thresholds_there_is_nothing(settings, blocking):  # noqa: F811
    settings.SCHEMAADMIN = LENIENT
    assert _activity(health_report()) == {}


def _facts(total: int, max_connections: int = 100, reserved: int = 3) -> ActivityFacts:
    return ActivityFacts(sessions=[], slots=ConnectionSlots(total, max_connections, reserved), own_label="schemaadmin")


@pytest.mark.parametrize("total, expected", [(77, False), (78, True), (97, True)])
def test_near_max_counts_against_max_minus_reserved(total, expected):
    thresholds = ActivityThresholds(
        long_running_seconds=60, idle_in_transaction_seconds=10, connections_near_max_ratio=0.8
    )
    found = list(connections_near_max(_facts(total), thresholds, "default"))
    assert bool(found) is expected
    if found:
        assert f"{total} of 97 connections" == found[0].object
