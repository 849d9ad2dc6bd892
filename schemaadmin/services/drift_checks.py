"""Replay the applied migrations in the worker, so the drift page never creates and migrates a database itself."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from schemaadmin.audit import record
from schemaadmin.conf import app_settings
from schemaadmin.models import ACTIVE_STATES, DriftCheck, JobState
from schemaadmin.pg.connection import validated_alias
from schemaadmin.services.shadow import (
    ShadowUnavailable,
    applied_migrations,
    build_shadow_snapshot,
    shadow_fingerprint,
    snapshot_to_json,
)
from schemaadmin.services.worker_jobs import orphaned_records, queue_job

__all__ = ["active_drift_check", "recover_stalled_drift_checks", "run_drift_check", "start_drift_check"]

TASK_NAME = "schemaadmin.drift_check"
WORKER_STOPPED = "The worker stopped while replaying the migrations; compare again."


def active_drift_check(*, using: str = "default") -> DriftCheck | None:
    """Return the queued or running replay of this database, if any."""
    return DriftCheck.objects.filter(database_alias=using, state__in=ACTIVE_STATES).first()


def start_drift_check(*, user: Any, request: HttpRequest | None = None, using: str = "default") -> DriftCheck:
    """Queue a replay of the applied migrations (one per database: a second request gets the queued one)."""
    from schemaadmin.tasks import drift_check

    validated_alias(using)
    try:
        with transaction.atomic():
            check = DriftCheck.objects.create(database_alias=using, requested_by=user)
    except IntegrityError:
        active = active_drift_check(using=using)
        if active is None:
            raise
        return active
    record(request, "drift.check_requested", using, actor=user, check=check.pk)
    lock = f"schemaadmin.drift:{using}"
    if not queue_job(drift_check, check, lock=lock, queueing_lock=lock, check_id=check.pk):
        _finish(check, JobState.FAILED, error="The worker already has a drift check queued for this database.")
    return check


def run_drift_check(check_id: int) -> str:
    """Replay the applied migrations in a shadow database and store the schema they build (the job's body)."""
    check = DriftCheck.objects.get(pk=check_id)
    if check.state != JobState.QUEUED:
        return check.state
    using = check.database_alias
    schemas = tuple(app_settings()["APP_SCHEMAS"])
    applied = applied_migrations(using=using)
    check.state, check.started_at = JobState.RUNNING, timezone.now()
    check.fingerprint, check.applied_count = shadow_fingerprint(applied, schemas), len(applied)
    check.save(update_fields=["state", "started_at", "fingerprint", "applied_count"])
    try:
        snapshot = build_shadow_snapshot(applied, schemas, using=using)
    except ShadowUnavailable as exc:
        _finish(check, JobState.FAILED, error=str(exc))
    else:
        _finish(check, JobState.SUCCEEDED, snapshot=snapshot_to_json(snapshot))
    return check.state


def recover_stalled_drift_checks() -> list[DriftCheck]:
    """Fail the drift checks whose worker died mid-replay (the next replay drops the shadow it left)."""
    recovered = []
    for check in orphaned_records(DriftCheck, TASK_NAME):
        check.refresh_from_db(fields=["state"])
        if check.is_active:
            _finish(check, JobState.FAILED, error=WORKER_STOPPED)
            recovered.append(check)
    return recovered


def _finish(check: DriftCheck, state: str, **fields: Any) -> None:
    check.state, check.finished_at = state, timezone.now()
    for name, value in fields.items():
        setattr(check, name, value)
    check.save()
