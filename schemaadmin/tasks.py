"""Procrastinate's entry points. Each adapts one job to its service's body, under the name the service queues it by.

Services never import this module: they queue by task name (services/jobs.py), and the job's kind names its task.
The worker runs several jobs at once (PROCRASTINATE_WORKER_DEFAULTS' concurrency): the jobs of one database share
jobs.database_lock(). The periodic tasks take no procrastinate lock (a worker killed mid-task would leave its row
`doing`, holding the lock for ever); each is safe beside itself (recovery's finishes are conditional, snapshots take
an advisory lock, the deletions are idempotent), and recovery fails the stalled rows of every task.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from procrastinate import JobContext
from procrastinate.contrib.django import app
from procrastinate.exceptions import JobAborted

from schemaadmin.conf import app_settings
from schemaadmin.services import jobs, retention
from schemaadmin.services.rebuilds.run import REBUILD, run_rebuild
from schemaadmin.services.recall import RECALL_CHECK, run_recall_check
from schemaadmin.services.schema.apply import APPLY, run_apply
from schemaadmin.services.schema.drift_checks import DRIFT_CHECK, run_drift_check
from schemaadmin.services.workload.snapshots import snapshot_and_prune

__all__ = [
    "app",
    "apply_migrations",
    "clear_expired_sessions",
    "drift_check",
    "prune_records",
    "query_stats_snapshot",
    "rebuild_index",
    "recall_check",
    "recover_stalled_jobs",
]


@app.task(name=APPLY.task_name)
def apply_migrations(apply_id: int) -> None:
    """Apply the confirmed plan of pending migrations (one job at a time per database)."""
    run_apply(apply_id)


@app.task(name=REBUILD.task_name, pass_context=True)
def rebuild_index(context: JobContext, rebuild_id: int) -> str:
    """Rebuild one index (one job at a time per database); a cancel from the page or the worker stops it."""

    def abort_reason() -> str | None:
        reason = context.abort_reason()
        return None if reason is None else str(reason.value)

    state = run_rebuild(rebuild_id, abort_reason=abort_reason)
    if state == "cancelled" and context.should_abort():
        raise JobAborted(f"rebuild {rebuild_id} cancelled")
    return state


@app.task(name=RECALL_CHECK.task_name)
def recall_check(check_id: int) -> str:
    """Measure one index's recall against exact search (one job at a time per database)."""
    return run_recall_check(check_id)


@app.task(name=DRIFT_CHECK.task_name)
def drift_check(check_id: int) -> str:
    """Replay the applied migrations in a shadow database and store its schema (one job at a time per database)."""
    return run_drift_check(check_id)


# Every minute, and so soon after a worker starts: fail the jobs whose worker died, and clean what they left.
@app.periodic(cron="* * * * *", periodic_id="recover_stalled_jobs")
@app.task(name="schemaadmin.recover_stalled_jobs", queueing_lock="schemaadmin.recover_stalled_jobs")
def recover_stalled_jobs(timestamp: int) -> int:
    """Recover the jobs of every registered kind whose worker stopped; return how many records were ended."""
    return jobs.recover_stalled_jobs()


# Every five minutes by default (QUERY_STATS_SNAPSHOT_CRON, read when the worker starts): what each statement did
# since the last snapshot, kept QUERY_STATS_RETENTION_DAYS.
@app.periodic(cron=app_settings()["QUERY_STATS_SNAPSHOT_CRON"], periodic_id="query_stats_snapshot")
@app.task(name="schemaadmin.query_stats_snapshot", queueing_lock="schemaadmin.query_stats_snapshot")
def query_stats_snapshot(timestamp: int) -> str:
    """Snapshot pg_stat_statements of the default database's server and prune old snapshots; say what was done."""
    return snapshot_and_prune().message


# Once a day: signed-out and expired sessions. Django only drops a session its user signs out of; the others (a
# closed browser, the 8-hour expiry) stay in django_session until this runs, as `manage.py clearsessions` would.
@app.periodic(cron="17 3 * * *", periodic_id="clear_expired_sessions")
@app.task(name="schemaadmin.clear_expired_sessions", queueing_lock="schemaadmin.clear_expired_sessions")
def clear_expired_sessions(timestamp: int) -> None:
    """Delete the sessions past their expiry, as the session engine's own clear_expired() does."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()


# Once a day: audit events and EXPLAIN runs past AUDIT_RETENTION_DAYS / EXPLAIN_RUN_RETENTION_DAYS (both None by
# default: kept for ever), and procrastinate's rows of finished jobs past WORKER_JOB_RETENTION_DAYS (30), deleted in
# batches and the deletion audited (services/retention.py).
@app.periodic(cron="37 3 * * *", periodic_id="prune_records")
@app.task(name="schemaadmin.prune_records", queueing_lock="schemaadmin.prune_records")
def prune_records(timestamp: int) -> str:
    """Delete the records past their retention; say what went."""
    done = retention.prune_records()
    return "; ".join(f"{p.deleted} past {p.setting} (before {p.cutoff:%Y-%m-%d})" for p in done) or "nothing is pruned"
