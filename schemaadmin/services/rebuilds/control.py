"""Start, cancel, retry and watch rebuilds; recover the ones whose worker died."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from schemaadmin import audit
from schemaadmin.models import IndexRebuild, JobState
from schemaadmin.pg.index_builds import cancel_build, temporary_index_name
from schemaadmin.pg.indexes import VECTOR_METHODS
from schemaadmin.pg.names import qualify
from schemaadmin.pg.progress import as_percent, index_build_progress, is_waiting, waited_fraction
from schemaadmin.pg.sessions import session_pids
from schemaadmin.services import jobs
from schemaadmin.services.rebuilds.plan import (
    INDEX_CHANGED,
    NOT_REVIEWED,
    NameNotTyped,
    RebuildAlreadyActive,
    RebuildPlan,
    RebuildRefused,
    ReviewOutdated,
    plan_rebuild,
)
from schemaadmin.services.rebuilds.run import REBUILD, WORKER_STOPPED, application_name

__all__ = [
    "build_session_gone",
    "WORKER_STOPPED",
    "BuildProgress",
    "active_rebuild",
    "build_progress",
    "awaits_recall_check",
    "cancel_rebuild",
    "refuse_start",
    "retry_rebuild",
    "start_rebuild",
]


def _queueing_lock(using: str, schema: str, name: str) -> str:
    return f"schemaadmin.rebuild:{using}:{qualify(schema, name)}"


def active_rebuild(schema: str, name: str, *, using: str = "default") -> IndexRebuild | None:
    """Return the queued or running rebuild of index schema.name, if any."""
    return jobs.active(REBUILD, database_alias=using, schema_name=schema, index_name=name)


# After a vector index's rebuild succeeds, the job queues its recall check a moment later (a second transaction):
# a page that saw the success but no check yet keeps watching this long for it.
RECALL_CHECK_GRACE_SECONDS = 60


def awaits_recall_check(rebuild: IndexRebuild, *, checks: int) -> bool:
    """Return whether a recall check should follow this rebuild and has not been queued yet (checks: how many exist)."""
    if rebuild.state != JobState.SUCCEEDED or rebuild.method not in VECTOR_METHODS or checks:
        return False
    if "recall check not started" in (rebuild.log or ""):
        return False
    ended = rebuild.finished_at
    return ended is not None and (timezone.now() - ended).total_seconds() < RECALL_CHECK_GRACE_SECONDS


def start_rebuild(
    plan: RebuildPlan,
    *,
    user: Any,
    request: HttpRequest | None = None,
    retry_of: IndexRebuild | None = None,
    as_username: str = "",
    reviewed: str | None = None,
    typed_name: str | None = None,
) -> IndexRebuild:
    """Record the rebuild, audit it and queue its job, one at a time per database; refuse a second one on the same
    index, a confirmation of a review that is not this plan's, and a replace confirmed without the index's name typed.

    reviewed is the fingerprint of the plan the confirming user was shown (RebuildPlan.fingerprint), None where there
    is no review step (the command line); the record keeps the plan's, which the job checks before it builds.
    typed_name is what the confirming user typed as the index's name, None where there is no such step (the command
    line names the index itself): a replace drops the index as it is now, so nothing else confirms it.
    """
    refused: RebuildRefused | None = None
    if reviewed is not None and reviewed != plan.fingerprint:
        refused = ReviewOutdated(INDEX_CHANGED if reviewed else NOT_REVIEWED)
    elif (
        plan.kind == IndexRebuild.Kind.REPLACE and typed_name is not None and typed_name.strip() != plan.qualified_name
    ):
        refused = NameNotTyped(plan)
    if refused is not None:
        refuse_start(plan, str(refused), user=user, request=request, as_username=as_username, retry_of=retry_of)
        raise refused
    new_name = temporary_index_name(plan.name) if plan.kind == IndexRebuild.Kind.REPLACE else f"{plan.name}_ccnew"
    try:
        return jobs.start(
            REBUILD,
            user=user,
            request=request,
            as_username=as_username,
            queueing_lock=_queueing_lock(plan.using, plan.schema, plan.name),
            refused="The worker already has a rebuild of this index queued.",
            detail={
                "kind": plan.kind,
                "method": plan.target_method,
                "parameters": plan.parameters,
                "retry_of": retry_of.pk if retry_of else None,
                "fingerprint": plan.fingerprint,
                "source": "web" if request is not None else ("command line" if user is None else "service"),
            },
            database_alias=plan.using,
            schema_name=plan.schema,
            index_name=plan.name,
            table_name=plan.table,
            kind=plan.kind,
            method=plan.target_method,
            parameters=plan.parameters,
            estimate=plan.estimate.as_dict(),
            new_index_name=new_name[:63],
            retry_of=retry_of,
            fingerprint=plan.fingerprint,
        )
    except jobs.JobAlreadyActive as active:
        already = RebuildAlreadyActive(active.record)
        refuse_start(plan, str(already), user=user, request=request, as_username=as_username, retry_of=retry_of)
        raise already from None
    except jobs.JobRefused:  # its record was written, audited as requested and failed with the reason
        raise RebuildRefused(
            f"The worker already has a rebuild of {plan.qualified_name} queued; wait for it or clear it in the admin."
        ) from None


def refuse_start(
    plan: RebuildPlan | str,
    reason: str,
    *,
    user: Any,
    request: HttpRequest | None = None,
    as_username: str = "",
    retry_of: IndexRebuild | None = None,
) -> None:
    """Audit a rebuild that was asked for and refused (rebuild.start_refused, rebuild.retry_refused for a retry),
    with the reason; plan is the index as written when the request named none that could be planned."""
    index = plan.qualified_name if isinstance(plan, RebuildPlan) else plan
    planned = {"kind": plan.kind, "method": plan.target_method} if isinstance(plan, RebuildPlan) else {}
    audit.record_refusal(
        request,
        "rebuild.retry_refused" if retry_of else "rebuild.start_refused",
        index,
        reason,
        actor=user,
        as_username=as_username,
        retry_of=retry_of.pk if retry_of else None,
        **planned,
    )


def cancel_rebuild(rebuild: IndexRebuild, *, user: Any, request: HttpRequest | None = None) -> None:
    """Cancel a queued rebuild at once, or ask the running one's job and backend to stop (it then cleans up)."""
    if not jobs.cancel(REBUILD, rebuild, user=user, request=request):
        raise _refused(
            rebuild,
            "cancel",
            f"Rebuild {rebuild.pk} already ended ({rebuild.state}); there is nothing to cancel.",
            user=user,
            request=request,
        )
    # Running: the job's watcher sees cancelled_by within a second, cancels its own statement unless it is
    # swapping, drops leftovers and records "cancelled by". Cancelling the build here too saves that second.
    if rebuild.state == JobState.RUNNING and rebuild.backend_pid:
        cancel_build(rebuild.backend_pid, using=rebuild.database_alias)


def retry_rebuild(
    rebuild: IndexRebuild, *, user: Any, request: HttpRequest | None = None, typed_name: str | None = None
) -> IndexRebuild:
    """Start the same rebuild again after it failed or was cancelled: planned again from the index as it is now, and
    refused when that plan is not the one the first was started with (its fingerprint), which nobody reviewed; a
    replace, which drops the index as it is now, with its name typed again (typed_name, as start_rebuild takes it)."""
    if rebuild.state not in (JobState.FAILED, JobState.CANCELLED):
        doing: str = {"queued": "is queued", "running": "is running"}.get(rebuild.state, rebuild.state)
        sentence = f"Only a failed or cancelled rebuild can be retried; rebuild {rebuild.pk} {doing}."
        raise _refused(rebuild, "retry", sentence, user=user, request=request)
    index = qualify(rebuild.schema_name, rebuild.index_name)
    try:
        if rebuild.kind == IndexRebuild.Kind.REINDEX:
            plan = plan_rebuild(index, using=rebuild.database_alias)
        else:
            plan = plan_rebuild(
                index, kind=rebuild.kind, method=rebuild.method, using=rebuild.database_alias, **rebuild.parameters
            )
    except RebuildRefused as refused:  # the index dropped, or no longer one that can be rebuilt
        raise _refused(rebuild, "retry", str(refused), user=user, request=request) from None
    if rebuild.fingerprint and plan.fingerprint != rebuild.fingerprint:
        sentence = (
            f"{index} changed since rebuild {rebuild.pk} was started, so a retry would run statements nobody "
            "reviewed: start a new rebuild from the form and review them."
        )
        raise _refused(rebuild, "retry", sentence, user=user, request=request)
    return start_rebuild(plan, user=user, request=request, retry_of=rebuild, typed_name=typed_name)


def _refused(
    rebuild: IndexRebuild, action: str, sentence: str, *, user: Any, request: HttpRequest | None
) -> RebuildRefused:
    """Audit an asked-for action the rebuild's state refuses (rebuild.<action>_refused); return the refusal."""
    target = qualify(rebuild.schema_name, rebuild.index_name)
    audit.record_refusal(
        request, f"rebuild.{action}_refused", target, sentence, actor=user, rebuild=rebuild.pk, state=rebuild.state
    )
    return RebuildRefused(sentence)


@dataclass(frozen=True, slots=True)
class BuildProgress:
    phase: str
    command: str
    blocks_done: int
    blocks_total: int
    tuples_done: int
    tuples_total: int
    # While the build waits for other transactions: how many it waited for, and whom it waits for now.
    waiting: bool
    lockers_done: int
    lockers_total: int
    current_locker_pid: int
    percent: float | None
    elapsed_seconds: float | None
    eta_seconds: float | None
    live: bool  # read from pg_stat_progress_create_index now, not the last snapshot saved


def build_progress(rebuild: IndexRebuild) -> BuildProgress | None:
    """Return how far the rebuild is: live while its backend builds, else the last snapshot; None before it starts."""
    stored: dict[str, Any] = rebuild.progress if isinstance(rebuild.progress, dict) else {}
    elapsed = rebuild.duration.total_seconds() if rebuild.duration is not None else None
    row = None
    if rebuild.state == JobState.RUNNING and rebuild.backend_pid:
        row = index_build_progress(rebuild.backend_pid, using=rebuild.database_alias)
    if row is not None:
        started = stored.get("phase_started_at") if stored.get("phase") == row.phase else None
        live = {**row.as_dict(), "percent": row.percent}
        # A wait for other transactions ends when they do: its pace says nothing of what is left.
        eta = None if row.waiting else _eta(row.fraction, started)
        return _progress(live, elapsed_seconds=elapsed, eta_seconds=eta, live=True)
    if rebuild.state == JobState.SUCCEEDED:
        done = {**stored, "phase": "done", "percent": 100.0, "waiting": False}
        return _progress(done, elapsed_seconds=elapsed, eta_seconds=0.0, live=False)
    if not stored:
        return None
    return _progress(stored, elapsed_seconds=elapsed, eta_seconds=None, live=False)


def build_session_gone(rebuild: IndexRebuild) -> bool:
    """Return whether a running rebuild's build session is gone: its worker stopped (killed, its machine lost), and the
    record waits for recovery, which runs when a worker does. The page said "Building" for as long as none ran."""
    if rebuild.state != JobState.RUNNING or not rebuild.backend_pid:
        return False
    return rebuild.backend_pid not in session_pids(application_name(rebuild.pk), using=rebuild.database_alias)


def _progress(
    sample: Mapping[str, Any], *, elapsed_seconds: float | None, eta_seconds: float | None, live: bool
) -> BuildProgress:
    """Read a progress sample: a progress row's fields and its percent, read now or as the job saved them."""
    waiting = bool(sample.get("waiting", is_waiting(str(sample.get("phase", "")))))
    lockers_done, lockers_total = int(sample.get("lockers_done", 0)), int(sample.get("lockers_total", 0))
    percent = sample.get("percent")
    if waiting:  # a sample saved before waits were counted kept the last scan's percent
        percent = as_percent(waited_fraction(lockers_done, lockers_total))
    return BuildProgress(
        phase=str(sample.get("phase", "")),
        command=str(sample.get("command", "")),
        blocks_done=int(sample.get("blocks_done", 0)),
        blocks_total=int(sample.get("blocks_total", 0)),
        tuples_done=int(sample.get("tuples_done", 0)),
        tuples_total=int(sample.get("tuples_total", 0)),
        waiting=waiting,
        lockers_done=lockers_done,
        lockers_total=lockers_total,
        current_locker_pid=int(sample.get("current_locker_pid", 0)),
        percent=percent,
        elapsed_seconds=elapsed_seconds,
        eta_seconds=eta_seconds,
        live=live,
    )


def _eta(fraction: float | None, phase_started_at: str | None) -> float | None:
    """Return the seconds left in this phase at its pace so far; None too early to tell."""
    if fraction is None or fraction < 0.02 or not phase_started_at:
        return None
    spent = (timezone.now() - datetime.fromisoformat(phase_started_at)).total_seconds()
    return max(spent * (1 - fraction) / fraction, 0.0)
