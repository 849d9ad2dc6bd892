"""Replay the applied migrations in the worker, so the drift page never creates and migrates a database itself.

A replay creates a throwaway database on the server and migrates it: starting one is a DBA's act (the page asks
for the apply_migrations permission), reading its stored result is everyone's who may see the schema.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from schemaadmin.conf import app_settings
from schemaadmin.models import DriftCheck, JobState
from schemaadmin.pg.connection import validated_alias
from schemaadmin.services import jobs
from schemaadmin.services.jobs import JobLog
from schemaadmin.services.schema.migrations import problem_of
from schemaadmin.services.schema.shadow import (
    applied_migrations,
    build_shadow_snapshot,
    shadow_fingerprint,
    snapshot_to_json,
)

__all__ = [
    "DRIFT_CHECK",
    "WORKER_STOPPED",
    "active_drift_check",
    "last_drift_check",
    "run_drift_check",
    "start_drift_check",
]

WORKER_STOPPED = "The worker stopped while replaying the migrations; compare again."

DRIFT_CHECK = jobs.register(
    jobs.JobKind(
        name="drift check",
        model=DriftCheck,
        task_name="schemaadmin.drift_check",
        key="check",
        actions={
            "requested": "drift.check_requested",
            JobState.SUCCEEDED: "drift.checked",
            JobState.FAILED: "drift.check_failed",
        },
        target=lambda check: check.database_alias,
        outcome=lambda check: {"applied_count": check.applied_count, "fingerprint": check.fingerprint},
        worker_stopped=WORKER_STOPPED,
    )
)


def active_drift_check(*, using: str = "default") -> DriftCheck | None:
    """Return the queued or running replay of this database, if any."""
    return jobs.active(DRIFT_CHECK, database_alias=using)


def last_drift_check(*, using: str = "default") -> DriftCheck | None:
    """Return the newest replay of this database that ended, whatever migrations it replayed."""
    return (
        DriftCheck.objects.filter(database_alias=using, state__in=(JobState.SUCCEEDED, JobState.FAILED))
        .order_by("-id")
        .first()
    )


def start_drift_check(*, user: Any, request: HttpRequest | None = None, using: str = "default") -> DriftCheck:
    """Queue a replay of the applied migrations (one per database: a second request gets the queued one)."""
    validated_alias(using)
    try:
        return jobs.start(
            DRIFT_CHECK,
            user=user,
            request=request,
            queueing_lock=f"schemaadmin.drift:{using}",
            refused="The worker already has a drift check queued for this database.",
            database_alias=using,
        )
    except jobs.JobAlreadyActive as active:
        return active.record
    except jobs.JobRefused as refused:
        return refused.record


def run_drift_check(check_id: int) -> str:
    """Replay the applied migrations in a shadow database and store the schema they build (the job's body)."""
    check = DriftCheck.objects.select_related("requested_by").get(pk=check_id)
    if check.state != JobState.QUEUED:
        return check.state
    using = check.database_alias
    schemas = tuple(app_settings()["APP_SCHEMAS"])
    try:
        applied = applied_migrations(using=using)
    except Exception as exc:  # a file that does not import, a dependency on a migration that is not there
        if jobs.claim(DRIFT_CHECK, check):
            message = problem_of(exc)
            with JobLog(DRIFT_CHECK, check.pk) as log:
                log.write(f"FAILED: {message}")
            jobs.finish(DRIFT_CHECK, check, JobState.FAILED, error=message)
        else:
            check.refresh_from_db()
        return check.state
    if not jobs.claim(DRIFT_CHECK, check, fingerprint=shadow_fingerprint(applied, schemas), applied_count=len(applied)):
        check.refresh_from_db()
        return check.state
    with JobLog(DRIFT_CHECK, check.pk) as log:
        log.write(f"Replaying {len(applied)} applied migrations of {using!r} in a throwaway database")
        try:
            snapshot = build_shadow_snapshot(applied, schemas, using=using)
        except Exception as exc:  # ShadowUnavailable says why in a sentence; anything else is recorded as it is
            message = str(exc).strip() or type(exc).__name__
            log.write(f"FAILED: {message}")
            jobs.finish(DRIFT_CHECK, check, JobState.FAILED, error=message)
        else:
            log.write(f"Stored the schema they build: {len(snapshot.tables)} tables, {len(snapshot.indexes)} indexes")
            jobs.finish(DRIFT_CHECK, check, JobState.SUCCEEDED, snapshot=snapshot_to_json(snapshot))
    return check.state
