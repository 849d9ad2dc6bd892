"""Audit events, EXPLAIN runs and procrastinate's rows of finished jobs past their retention are deleted by the daily
prune, which audits what went."""

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


def _job(status: str, age_in_days: float) -> int:
    """Queue a procrastinate job, put it in status, and date every event of it age_in_days before NOW."""
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args) VALUES ('default', 'test.job', '{}') "
            "RETURNING id"
        )
        (job_id,) = cur.fetchone()
        if status != "todo":
            cur.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s", [job_id])
        if status not in ("todo", "doing"):
            cur.execute("UPDATE procrastinate_jobs SET status = %s WHERE id = %s", [status, job_id])
        cur.execute(
            "UPDATE procrastinate_events SET at = %s WHERE job_id = %s", [NOW - timedelta(days=age_in_days), job_id]
        )
    return job_id


def _jobs_left() -> set[int]:
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM procrastinate_jobs")
        return {row[0] for row in cur.fetchall()}


def test_audit_events_and_explain_runs_are_kept_unless_a_retention_is_set():
    _events([400, 1])
    _runs([400])
    assert [p.setting for p in prune_records(now=NOW)] == ["WORKER_JOB_RETENTION_DAYS"]
    assert AuditEvent.objects.count() == 2 and ExplainRun.objects.count() == 1


def test_finished_jobs_rows_go_after_30_days_and_queued_or_running_ones_never():
    old = [_job("failed", 40), _job("cancelled", 31), _job("aborted", 45), _job("succeeded", 60)]
    kept = [_job("failed", 29), _job("todo", 90), _job("doing", 50)]
    retried = _job("failed", 40)  # failed long ago, then retried: its last event is new
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO procrastinate_events (job_id, type, at) VALUES (%s, 'deferred_for_retry', %s)",
            [retried, NOW - timedelta(days=1)],
        )
        # A periodic task's last run, failed long ago: its row goes, and the periodic task forgets it.
        cur.execute(
            "INSERT INTO procrastinate_periodic_defers (task_name, periodic_id, defer_timestamp, job_id) "
            "VALUES ('test.job', '', 1, %s)",
            [old[0]],
        )
    (jobs,) = prune_records(now=NOW, batch=3)
    assert (jobs.setting, jobs.deleted) == ("WORKER_JOB_RETENTION_DAYS", 4)
    assert _jobs_left() == {*kept, retried}
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM procrastinate_events WHERE job_id = ANY(%s)", [old])
        assert cur.fetchone() == (0,)
        cur.execute("SELECT job_id FROM procrastinate_periodic_defers WHERE task_name = 'test.job'")
        assert cur.fetchall() == [(None,)]
    pruned = AuditEvent.objects.get(action="records.pruned")
    assert (pruned.target, pruned.detail["deleted"], pruned.detail["days"]) == ("procrastinate_jobs", 4, 30)


def test_finished_jobs_rows_are_kept_for_ever_when_asked(settings):
    settings.SCHEMAADMIN = {"WORKER_JOB_RETENTION_DAYS": None}
    failed = _job("failed", 400)
    assert prune_records(now=NOW) == []
    assert _jobs_left() == {failed}


def test_records_older_than_their_days_go_in_batches_and_the_prune_is_audited(settings):
    settings.SCHEMAADMIN = {
        "AUDIT_RETENTION_DAYS": 90,
        "EXPLAIN_RUN_RETENTION_DAYS": 30,
        "WORKER_JOB_RETENTION_DAYS": None,
    }
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
