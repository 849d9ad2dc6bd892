"""Jobs the procrastinate worker runs. Each is thin: it calls a service, and the service records the outcome."""

from __future__ import annotations

from procrastinate import JobContext
from procrastinate.contrib.django import app
from procrastinate.exceptions import JobAborted

__all__ = ["app", "apply_migrations", "rebuild_index", "recall_check", "recover_rebuilds", "recover_recall_checks"]


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


# Every minute, and so soon after a worker starts: fail and clean up rebuilds whose worker died.
@app.periodic(cron="* * * * *", periodic_id="recover_rebuilds")
@app.task(name="schemaadmin.recover_rebuilds", queueing_lock="schemaadmin.recover_rebuilds")
def recover_rebuilds(timestamp: int) -> int:
    """Recover rebuilds whose worker stopped mid-build; return how many."""
    from schemaadmin.services.rebuilds import recover_stalled_rebuilds

    return len(recover_stalled_rebuilds())


@app.task(name="schemaadmin.recall_check")
def recall_check(check_id: int) -> str:
    """Measure one index's recall against exact search (locked per index by the caller)."""
    from schemaadmin.services.recall import run_recall_check

    return run_recall_check(check_id)


# Every minute, as for rebuilds: fail recall checks whose worker died mid-check.
@app.periodic(cron="* * * * *", periodic_id="recover_recall_checks")
@app.task(name="schemaadmin.recover_recall_checks", queueing_lock="schemaadmin.recover_recall_checks")
def recover_recall_checks(timestamp: int) -> int:
    """Fail recall checks whose worker stopped mid-check; return how many."""
    from schemaadmin.services.recall import recover_stalled_recall_checks

    return len(recover_stalled_recall_checks())
