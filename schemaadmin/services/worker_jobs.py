"""What the worker's jobs share: finding the job records whose worker died, so each kind can recover its own."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Status

from schemaadmin.models import ACTIVE_STATES, JobState
from schemaadmin.models.operations import WorkerJobRecord

__all__ = ["orphaned_records", "queue_job", "stalled_seconds"]


def queue_job(task: Any, record: WorkerJobRecord, *, lock: str, queueing_lock: str | None = None, **args: Any) -> bool:
    """Defer task for record under lock and keep its job id; False when queueing_lock already has a queued job.

    The insert runs in a savepoint: a refused one must not abort the caller's transaction.
    """
    try:
        with transaction.atomic():
            job_id = task.configure(lock=lock, queueing_lock=queueing_lock).defer(**args)
    except AlreadyEnqueued:
        return False
    type(record)._default_manager.filter(pk=record.pk).update(job_id=job_id)
    record.job_id = job_id
    return True


def stalled_seconds() -> float:
    """Return how long a worker may go without a heartbeat before its jobs count as stalled."""
    return float(getattr(settings, "PROCRASTINATE_WORKER_DEFAULTS", {}).get("stalled_worker_timeout", 30))


def orphaned_records[Record: WorkerJobRecord](model: type[Record], task_name: str) -> list[Record]:
    """Return the model's active records whose worker died, or whose job ended without finishing them.

    Jobs of task_name held by a worker without a heartbeat are marked failed in procrastinate's queue first,
    so a restarted worker does not pick them up again; the caller marks the records and cleans up.
    """
    from schemaadmin.tasks import app

    manager = app.job_manager
    orphans: dict[int, Record] = {}
    for job in async_to_sync(manager.get_stalled_jobs)(task_name=task_name, seconds_since_heartbeat=stalled_seconds()):
        assert job.id is not None
        async_to_sync(manager.finish_job_by_id_async)(job_id=job.id, status=Status.FAILED, delete_job=False)
        for stalled in model._default_manager.filter(job_id=job.id, state__in=ACTIVE_STATES):
            orphans[stalled.pk] = stalled
    for running in model._default_manager.filter(state=JobState.RUNNING, job_id__isnull=False):
        if running.pk not in orphans and _job_status(running.job_id) != Status.DOING:
            orphans[running.pk] = running
    return list(orphans.values())


def _job_status(job_id: int | None) -> Status | None:
    from schemaadmin.tasks import app

    if job_id is None:
        return None
    try:
        return app.job_manager.get_job_status(job_id)
    except Exception:  # the job row is gone (deleted by hand or by a cleanup)
        return None
