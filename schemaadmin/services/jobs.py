"""One lifecycle for the jobs the procrastinate worker runs: start, claim, log, finish, cancel, recover.

A job is a record (a WorkerJobRecord, kept in the records' database, `default`) and a procrastinate job queued by
task name. Every change of a record's state is one conditional UPDATE, so the job's body, a cancel and recovery
may race and exactly one of them decides how the record ends: claim moves it from queued to running, finish and
recovery from active to ended, a cancel from queued to cancelled. Each kind of job (rebuild, recall check,
migration apply, drift check) registers a JobKind here and keeps only its body and its own recovery extras;
tasks.py adapts procrastinate's calls to those bodies, and nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Status

from schemaadmin.audit import record as audit
from schemaadmin.models import ACTIVE_STATES, JobState
from schemaadmin.models.operations import WorkerJobRecord, active_record_fields
from schemaadmin.services.job_log import JobLog, records_database

__all__ = [
    "KINDS",
    "JobAlreadyActive",
    "JobKind",
    "JobLog",
    "JobRefused",
    "Recovered",
    "active",
    "cancel",
    "claim",
    "database_lock",
    "finish",
    "records_database",
    "recover",
    "recover_stalled_jobs",
    "register",
    "stalled_seconds",
    "start",
]


# Why recovery ends a queued record whose job in the worker ended (or was deleted) without beginning it.
NEVER_STARTED = "Its job in the worker ended before it began (the worker's log says why); start it again."


@dataclass(frozen=True, slots=True)
class Recovered:
    """How a dead worker's job really ended, found by its kind's on_stalled: recorded instead of the failure."""

    state: str
    note: str


# Compared and hashed by identity: each kind is one object, registered once.
@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class JobKind[R: WorkerJobRecord]:
    """What the lifecycle needs to know of one kind of job; the kind's module keeps the body."""

    name: str  # as reports and logs name it: "rebuild"
    model: type[R]
    task_name: str  # the procrastinate task that runs the body (tasks.py registers it under this name)
    key: str  # the job's argument is `<key>_id`; audit events carry the record's id under `<key>`
    # Audit actions: "requested", "cancel_requested" (if it can be cancelled) and one per final state.
    actions: Mapping[str, str]
    target: Callable[[R], str]  # what the audit events name
    outcome: Callable[[R], dict[str, Any]]  # what the outcome event says beside the record's id and error
    worker_stopped: str  # the error recovery records
    # Recovery extras: before the record is ended, stop what the dead worker left running; after, clean up.
    # on_stalled may say the dead worker's job in fact ended otherwise (a rebuild whose swap it finished): recorded
    # instead of the worker_stopped failure.
    on_stalled: Callable[[R, JobLog], Recovered | None] | None = None
    on_recovered: Callable[[R, JobLog], None] | None = None

    @property
    def one_active_per(self) -> tuple[str, ...]:
        """The fields of the model's one_active_per() constraint: one active record per their values (none: any)."""
        return active_record_fields(self.model)


KINDS: dict[str, JobKind[Any]] = {}


def register[R: WorkerJobRecord](kind: JobKind[R]) -> JobKind[R]:
    """Add the kind to those recovery looks after; return it."""
    KINDS[kind.name] = kind
    return kind


class JobAlreadyActive[R: WorkerJobRecord](Exception):
    """The constraint allowing one active record refused a second: `.record` is the active one."""

    def __init__(self, record: R) -> None:
        super().__init__(f"{record} is already {record.state}.")
        self.record = record


class JobRefused[R: WorkerJobRecord](Exception):
    """Procrastinate already holds a queued job under the same queueing lock; the new record was failed."""

    def __init__(self, record: R) -> None:
        super().__init__(record.error)
        self.record = record


# --- start ------------------------------------------------------------------------------------------------------


def database_lock(using: str) -> str:
    """Return the procrastinate lock start() queues every kind's job under on database using: one rebuild, recall
    check, migration apply or drift replay runs at a time per database (two builds would share its memory, a replay
    would read a schema an apply is changing), while the worker's other slots keep the periodic tasks (query
    statistics snapshots, recovery, pruning) running beside a build of hours."""
    return f"schemaadmin.database:{using}"


def start[R: WorkerJobRecord](
    kind: JobKind[R],
    /,
    *,
    user: Any,
    request: HttpRequest | None = None,
    as_username: str = "",
    queueing_lock: str | None = None,
    refused: str = "The worker already has this job queued.",
    detail: Mapping[str, Any] | None = None,
    **fields: Any,
) -> R:
    """Create the record, audit the request and queue its job by task name under the record's database_lock().

    Raise JobAlreadyActive when the kind's constraint finds an active record, and JobRefused (the record failed
    with `refused`) when procrastinate already has a job queued under queueing_lock. Each write runs in a
    savepoint: a refusal never aborts the caller's transaction.
    """
    manager = kind.model._default_manager
    try:
        with transaction.atomic():
            job_record = manager.create(requested_by=user, **fields)
    except IntegrityError:
        active = _active(kind, fields)
        if active is None:
            raise
        raise JobAlreadyActive(active) from None
    audit(
        request,
        kind.actions["requested"],
        kind.target(job_record),
        actor=user,
        as_username=as_username,  # who acted where no account did (a command line's os:<user>)
        **{kind.key: job_record.pk, **(detail or {})},
    )
    try:
        with transaction.atomic():
            deferrer = app.configure_task(
                kind.task_name,
                allow_unknown=False,
                lock=database_lock(job_record.database_alias),
                queueing_lock=queueing_lock,
            )
            job_id = deferrer.defer(**{f"{kind.key}_id": job_record.pk})
    except AlreadyEnqueued:
        finish(kind, job_record, JobState.FAILED, expected=(JobState.QUEUED,), error=refused)
        raise JobRefused(job_record) from None
    except Exception as exc:
        # A record left queued without a job would look active for ever, and block the next request.
        finish(kind, job_record, JobState.FAILED, expected=(JobState.QUEUED,), error=f"Could not queue the job: {exc}")
        raise
    manager.filter(pk=job_record.pk).update(job_id=job_id)
    job_record.job_id = job_id
    return job_record


def active[R: WorkerJobRecord](kind: JobKind[R], /, **fields: Any) -> R | None:
    """Return the kind's queued or running record whose fields have these values, if any."""
    return kind.model._default_manager.filter(state__in=ACTIVE_STATES, **fields).first()


def _active[R: WorkerJobRecord](kind: JobKind[R], fields: Mapping[str, Any]) -> R | None:
    if not kind.one_active_per:
        return None
    same = {name: fields[name] if name in fields else _default(kind.model, name) for name in kind.one_active_per}
    return active(kind, **same)


def _default(model: type[WorkerJobRecord], name: str) -> Any:
    field = model._meta.get_field(name)
    return field.get_default() if isinstance(field, models.Field) else None


# --- claim and finish -------------------------------------------------------------------------------------------


def claim(kind: JobKind[Any], job_record: WorkerJobRecord, /, **fields: Any) -> bool:
    """Move the record from queued to running, setting fields too; return whether this caller won it."""
    now = timezone.now()
    won = (
        kind.model._default_manager.filter(pk=job_record.pk, state=JobState.QUEUED).update(
            state=JobState.RUNNING, started_at=now, **fields
        )
        == 1
    )
    if won:
        job_record.state, job_record.started_at = JobState.RUNNING, now
        for name, value in fields.items():
            setattr(job_record, name, value)
    return won


def finish(
    kind: JobKind[Any],
    job_record: WorkerJobRecord,
    state: str,
    /,
    *,
    error: str = "",
    expected: Collection[str] = (JobState.RUNNING,),
    request: HttpRequest | None = None,
    detail: Mapping[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """End the record in state, with error and fields, if it is still in an expected state; audit the outcome.

    Return False, writing nothing, when something else (recovery, a cancel, the body) ended it first. The record
    is read again either way, so it shows how the job ended. The end and its audit event commit together: whoever
    sees the one sees the other.
    """
    with transaction.atomic(using=records_database(kind)):
        ended = (
            kind.model._default_manager.filter(pk=job_record.pk, state__in=list(expected)).update(
                state=state, finished_at=timezone.now(), error=error, **fields
            )
            == 1
        )
        job_record.refresh_from_db()
        if ended:
            _audit_outcome(kind, job_record, request, detail or {})
    return ended


def _audit_outcome(
    kind: JobKind[Any], job_record: WorkerJobRecord, request: HttpRequest | None, detail: Mapping[str, Any]
) -> None:
    state = job_record.state
    actor = job_record.requested_by
    if state == JobState.CANCELLED and job_record.cancelled_by is not None:
        actor = job_record.cancelled_by
    audit(
        request,
        kind.actions.get(state, kind.actions[JobState.FAILED]),
        kind.target(job_record),
        actor=actor,
        # The caller's detail says more than the record can (what a run applied) and wins over the kind's.
        **{kind.key: job_record.pk, **kind.outcome(job_record), "error": job_record.error[:500], **detail},
    )


# --- cancel -----------------------------------------------------------------------------------------------------


def cancel(kind: JobKind[Any], job_record: WorkerJobRecord, *, user: Any, request: HttpRequest | None = None) -> bool:
    """Cancel the job; return False when its record had already ended.

    A queued record ends cancelled at once and its procrastinate job is cancelled. A running one gets
    cancelled_by set and its job asked to abort: the body sees either, stops, and records how it ended.
    """
    job_record.refresh_from_db()
    if not job_record.is_active:
        return False
    manager = kind.model._default_manager
    target = kind.target(job_record)
    detail: dict[str, Any] = {kind.key: job_record.pk, "state": job_record.state}
    audit(request, kind.actions["cancel_requested"], target, actor=user, **detail)
    who = user.get_username() if user is not None else "the command line"
    if job_record.state == JobState.QUEUED and finish(
        kind,
        job_record,
        JobState.CANCELLED,
        expected=(JobState.QUEUED,),
        error=f"Cancelled by {who}.",
        cancelled_by=user,
        request=request,
        detail={"before_start": True},
    ):
        if job_record.job_id is not None:
            app.job_manager.cancel_job_by_id(job_record.job_id)
        return True
    # Running (or claimed since it was read): the body stops at its next look and records the cancel.
    manager.filter(pk=job_record.pk, state=JobState.RUNNING, cancelled_by__isnull=True).update(cancelled_by=user)
    if job_record.job_id is not None:
        app.job_manager.cancel_job_by_id(job_record.job_id, abort=True)
    job_record.refresh_from_db()
    return job_record.is_active or job_record.state == JobState.CANCELLED


# --- recover ----------------------------------------------------------------------------------------------------


def stalled_seconds() -> float:
    """Return how long a worker may go without a heartbeat before its jobs count as stalled."""
    return float(getattr(settings, "PROCRASTINATE_WORKER_DEFAULTS", {}).get("stalled_worker_timeout", 30))


def recover[R: WorkerJobRecord](kind: JobKind[R]) -> list[R]:
    """Fail the kind's records whose worker died or whose job ended without them; return the ones this call ended."""
    recovered = []
    for orphan, began in _orphans(kind):
        with JobLog(kind, orphan.pk) as log:
            found: Recovered | None
            if not began:  # nothing of it to clean up
                found = Recovered(JobState.FAILED, NEVER_STARTED)
            else:
                found = kind.on_stalled(orphan, log) if kind.on_stalled is not None else None
            state, note = (found.state, found.note) if found else (JobState.FAILED, kind.worker_stopped)
            if not finish(kind, orphan, state, expected=ACTIVE_STATES, error=note, detail={"recovered": True}):
                continue  # the body, a cancel or another recovery ended it first
            log.write(f"recovery: {note}")
            if kind.on_recovered is not None:
                kind.on_recovered(orphan, log)
        recovered.append(orphan)
    return recovered


def recover_stalled_jobs() -> int:
    """Recover the stalled jobs of every registered kind; return how many records were ended. Then fail the stalled
    rows of every other task (the periodic ones), which a killed worker left `doing`."""
    ended = sum(len(recover(kind)) for kind in KINDS.values())
    for job in async_to_sync(app.job_manager.get_stalled_jobs)(seconds_since_heartbeat=stalled_seconds()):
        assert job.id is not None
        async_to_sync(app.job_manager.finish_job_by_id_async)(job_id=job.id, status=Status.FAILED, delete_job=False)
    return ended


def _orphans[R: WorkerJobRecord](kind: JobKind[R]) -> list[tuple[R, bool]]:
    """Return the kind's active records whose worker died, or whose job ended without finishing them, each with
    whether its job began (a queued record's job may have ended before its body claimed it).

    The kind's jobs held by a worker without a heartbeat are marked failed in procrastinate's queue first, so a
    restarted worker does not pick them up again.
    """
    manager = kind.model._default_manager
    job_manager = app.job_manager
    orphans: dict[int, tuple[R, bool]] = {}
    stalled = async_to_sync(job_manager.get_stalled_jobs)(
        task_name=kind.task_name, seconds_since_heartbeat=stalled_seconds()
    )
    for job in stalled:
        assert job.id is not None
        async_to_sync(job_manager.finish_job_by_id_async)(job_id=job.id, status=Status.FAILED, delete_job=False)
        for active in manager.filter(job_id=job.id, state__in=ACTIVE_STATES):
            orphans[active.pk] = (active, True)
    for running in manager.filter(state=JobState.RUNNING, job_id__isnull=False):
        if running.pk in orphans or _job_status(running.job_id) == Status.DOING:
            continue
        # A body ends its record before its job's row ends (or goes): read again, a job that just ended is no orphan.
        if manager.filter(pk=running.pk, state=JobState.RUNNING).exists():
            orphans[running.pk] = (running, True)
    # A queued record whose job ended (or went) without claiming it would stay queued for good, and a start that
    # finds an active record answers with it: the body failed before its claim.
    for queued in manager.filter(state=JobState.QUEUED, job_id__isnull=False):
        if queued.pk in orphans or _job_status(queued.job_id) in (Status.TODO, Status.DOING):
            continue
        if manager.filter(pk=queued.pk, state=JobState.QUEUED).exists():
            orphans[queued.pk] = (queued, False)
    return list(orphans.values())


def _job_status(job_id: int | None) -> Status | None:
    if job_id is None:
        return None
    try:
        return app.job_manager.get_job_status(job_id)
    except Exception:  # the job row is gone (deleted by hand or by a cleanup)
        return None
