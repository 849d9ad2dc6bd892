"""Jobs the procrastinate worker runs. Each is thin: it calls a service, and the service records the outcome."""

from __future__ import annotations

from procrastinate import JobContext
from procrastinate.contrib.django import app
from procrastinate.exceptions import JobAborted

__all__ = ["app", "apply_migrations", "drift_check", "rebuild_index", "recall_check", "recover_stalled_jobs"]


@app.task(name="schemaadmin.apply_migrations")
def apply_migrations(apply_id: int) -> None:
    """Apply the confirmed plan of pending migrations (locked per database by the caller)."""
    from schemaadmin.services.migration_apply import run_apply

    run_apply(apply_id)


@app.task(name="schemaadmin.rebuild_index", pass_context=True)
def rebuild_index(context: JobContext, rebuild_id: int) -> str:
    """Rebuild one index (locked per index by the caller); a cancel from the page or the worker stops it."""
    from schemaadmin.services.rebuilds import run_rebuild

    def abort_reason() -> str | None:
        reason = context.abort_reason()
        return None if reason is None else str(reason.value)

    state = run_rebuild(rebuild_id, abort_reason=abort_reason)
    if state == "cancelled" and context.should_abort():
        raise JobAborted(f"rebuild {rebuild_id} cancelled")
    return state


@app.task(name="schemaadmin.recall_check")
def recall_check(check_id: int) -> str:
    """Measure one index's recall against exact search (locked per index by the caller)."""
    from schemaadmin.services.recall import run_recall_check

    return run_recall_check(check_id)


@app.task(name="schemaadmin.drift_check")
def drift_check(check_id: int) -> str:
    """Replay the applied migrations in a shadow database and store its schema (locked per database by the caller)."""
    from schemaadmin.services.drift_checks import run_drift_check

    return run_drift_check(check_id)


# Every minute, and so soon after a worker starts: fail the jobs whose worker died, and clean what they left.
@app.periodic(cron="* * * * *", periodic_id="recover_stalled_jobs")
@app.task(name="schemaadmin.recover_stalled_jobs", queueing_lock="schemaadmin.recover_stalled_jobs")
def recover_stalled_jobs(timestamp: int) -> int:
    """Recover rebuilds, recall checks, migration applies and drift checks whose worker stopped; return how many."""
    from schemaadmin.services.drift_checks import recover_stalled_drift_checks
    from schemaadmin.services.migration_apply import recover_stalled_applies
    from schemaadmin.services.rebuilds import recover_stalled_rebuilds
    from schemaadmin.services.recall import recover_stalled_recall_checks

    return sum(
        len(recovered)
        for recovered in (
            recover_stalled_rebuilds(),
            recover_stalled_recall_checks(),
            recover_stalled_applies(),
            recover_stalled_drift_checks(),
        )
    )
