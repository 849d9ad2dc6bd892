"""Audit events and EXPLAIN runs past their retention are deleted by the daily prune, which audits what went."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from schemaadmin.audit import record
from schemaadmin.models import AuditEvent, ExplainRun
from schemaadmin.services.retention import prune_records

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _events(ages_in_days: list[float]) -> None:
    for n, age in enumerate(ages_in_days):
        event = record(None, "conversation.view", f"conversation:{n}", as_username="support")
        AuditEvent.objects.filter(pk=event.pk).update(at=NOW - timedelta(days=age))


def _runs(ages_in_days: list[float]) -> None:
    for age in ages_in_days:
        run = ExplainRun.objects.create(sql="SELECT 1", outcome="ok", plan=[{"Plan": {}}])
        ExplainRun.objects.filter(pk=run.pk).update(created_at=NOW - timedelta(days=age))


def test_nothing_is_pruned_unless_a_retention_is_set():
    _events([400, 1])
    _runs([400])
    assert prune_records(now=NOW) == []
    assert AuditEvent.objects.count() == 2 and ExplainRun.objects.count() == 1


def test_records_older_than_their_days_go_in_batches_and_the_prune_is_audited(settings):
    settings.SCHEMAADMIN = {"AUDIT_RETENTION_DAYS": 90, "EXPLAIN_RUN_RETENTION_DAYS": 30}
    _events([365, 200, 91, 90.5, 89.9, 1])
    _runs([31, 29])
    with CaptureQueriesContext(connection) as captured:
        audit, runs = prune_records(now=NOW, batch=2)
    deletes = [q["sql"] for q in captured if q["sql"].startswith('DELETE FROM "schemaadmin_auditevent"')]
    assert len(deletes) == 3  # the four old events, two a statement, and one that finds none left
    assert all("LIMIT 2" in sql for sql in deletes)  # each deletes from within the database, no ids sent
    assert (audit.setting, audit.deleted, runs.deleted) == ("AUDIT_RETENTION_DAYS", 4, 1)
    left = AuditEvent.objects.exclude(action="records.pruned")
    assert sorted(round((NOW - e.at).total_seconds() / 86400, 1) for e in left) == [1.0, 89.9]
    assert [round((NOW - r.created_at).days) for r in ExplainRun.objects.all()] == [29]
    pruned = AuditEvent.objects.filter(action="records.pruned").order_by("target")
    assert [(e.target, e.actor_username, e.detail["deleted"]) for e in pruned] == [
        ("schemaadmin_auditevent", "worker", 4),
        ("schemaadmin_explainrun", "worker", 1),
    ]
    assert prune_records(now=NOW)[0].deleted == 0  # the prune's own events are new


def test_the_prune_runs_daily():
    from procrastinate.contrib.django import app

    import schemaadmin.tasks  # noqa: F401 -- registers the tasks

    (periodic,) = [p for key, p in app.periodic_registry.periodic_tasks.items() if key[1] == "prune_records"]
    assert periodic.task.name == "schemaadmin.prune_records" and periodic.cron == "37 3 * * *"
