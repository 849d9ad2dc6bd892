"""Recall checks: how many of an ANN index's top-k answers exact search agrees with, and at what cost.

Query vectors are rows of the indexed table, drawn with TABLESAMPLE. Each is searched exactly (index scans off)
and through the index at the session's hnsw.ef_search / ivfflat.probes, then along a ladder of values; the
recommendation is the smallest value that reaches the target recall. A returned neighbour counts as found when
it is at least as near as the k-th exact neighbour, so ties at the k-th distance do not count as misses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.http import HttpRequest

from schemaadmin.audit import record_refusal
from schemaadmin.conf import app_settings
from schemaadmin.models import IndexRebuild, JobState, RecallCheck
from schemaadmin.pg.connection import validated_alias
from schemaadmin.pg.indexes import VECTOR_METHODS
from schemaadmin.pg.jobs import backend_pid
from schemaadmin.pg.names import qualify, split_qualified
from schemaadmin.pg.recall import (
    SEARCH_SETTINGS,
    IndexTarget,
    TimedAnswer,
    ann_answers,
    attached_index_names,
    exact_answers,
    index_target,
    sample_vectors,
    scanned_indexes,
    search_setting,
    unreadable_by,
)
from schemaadmin.services import jobs
from schemaadmin.services.jobs import JobLog

__all__ = [
    "RECALL_CHECK",
    "WORKER_STOPPED",
    "LadderStep",
    "RecallRefused",
    "RecallResult",
    "latest_recall_check",
    "measure_recall",
    "recall_of",
    "run_recall_check",
    "refuse_check",
    "start_recall_check",
    "validated_target",
]

SEED = 1
WORKER_STOPPED = "The worker stopped before the check finished; nothing was changed. Start a new check."


class RecallRefused(ValueError):
    """The recall check cannot run; the message says why, as a sentence for the user."""


@dataclass(frozen=True, slots=True)
class LadderStep:
    value: int
    recall: float
    mean_ms: float
    p95_ms: float


@dataclass(frozen=True, slots=True)
class RecallResult:
    index: str
    method: str
    setting: str  # hnsw.ef_search or ivfflat.probes
    current_value: int
    k: int
    samples: int  # asked for
    samples_used: int  # drawn: fewer when the table has fewer rows
    seed: int
    target: float
    recall: float  # at the current value
    ann_mean_ms: float
    ann_p95_ms: float
    exact_mean_ms: float
    exact_p95_ms: float
    ladder: tuple[LadderStep, ...]
    recommended: int | None
    recommendation: str
    uses_index: bool  # whether the planner walked this index for the ANN queries
    plan_note: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ladder"] = [asdict(step) for step in self.ladder]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecallResult:
        return cls(**{**data, "ladder": tuple(LadderStep(**step) for step in data["ladder"])})

    @property
    def setting_short(self) -> str:
        return self.setting.split(".", 1)[1]


def _split(qualified: str) -> tuple[str, str]:
    parts = split_qualified(qualified)
    if parts is None:
        raise RecallRefused(f"Name the index as schema.name, e.g. public.my_index (got {qualified!r}).")
    return parts


def _check_bounds(k: int, samples: int, target: float) -> None:
    settings = app_settings()
    if not 1 <= k <= settings["RECALL_MAX_K"]:
        raise RecallRefused(f"k must be between 1 and {settings['RECALL_MAX_K']} (got {k}).")
    if not 1 <= samples <= settings["RECALL_MAX_SAMPLES"]:
        raise RecallRefused(
            f"The number of samples must be between 1 and {settings['RECALL_MAX_SAMPLES']} (got {samples})."
        )
    if not (0 < target <= 1) or math.isnan(target):
        raise RecallRefused(f"The target recall must be above 0 and at most 1, e.g. 0.95 (got {target}).")


def validated_target(qualified: str, *, k: int, samples: int, target: float, using: str = "default") -> IndexTarget:
    """Return the index to check, or raise RecallRefused saying why it cannot be checked with these values."""
    _check_bounds(k, samples, target)
    schema, name = _split(qualified)
    found = index_target(schema, name, using=validated_alias(using))
    if found is None:
        raise RecallRefused(f"There is no index {qualified}.")
    if found.method not in VECTOR_METHODS:
        raise RecallRefused(
            f"{qualified} is a {found.method} index; recall is measured for approximate (hnsw or ivfflat) indexes only."
        )
    if found.operator is None:
        raise RecallRefused(f"{qualified} uses operator class {found.opclass}, which is not one of pgvector's.")
    if not found.is_valid:
        raise RecallRefused(f"{qualified} is invalid (a build failed or is still running); rebuild it first.")
    role = unreadable_by(found, using=using)
    if role is not None:
        raise RecallRefused(
            f"Role {role} may not read table {qualify(found.schema, found.table)}, which a recall check samples "
            f"and searches: grant it USAGE on schema {found.schema} and SELECT on the table (or on the columns the "
            f"index reads and ctid, which picks the samples), or check another index."
        )
    return found


def recall_of(ann: TimedAnswer, exact: TimedAnswer, k: int) -> float | None:
    """Return the share of the exact top-k the ANN answer found (None when exact search found nothing)."""
    wanted = exact.distances[:k]
    if not wanted:
        return None
    kth = wanted[-1]
    found = sum(1 for distance in ann.distances[:k] if distance <= kth)
    return min(found, len(wanted)) / len(wanted)


def _ms(answers: Sequence[TimedAnswer]) -> tuple[float, float]:
    """Return the mean and 95th percentile (nearest rank) of the answers' times, in milliseconds."""
    times = sorted(a.seconds * 1000 for a in answers)
    if not times:
        return 0.0, 0.0
    p95 = times[max(math.ceil(0.95 * len(times)) - 1, 0)]
    return sum(times) / len(times), p95


def _mean_recall(ann: Sequence[TimedAnswer], exact: Sequence[TimedAnswer], k: int) -> float:
    values = [r for a, e in zip(ann, exact, strict=True) if (r := recall_of(a, e, k)) is not None]
    return sum(values) / len(values) if values else 0.0


def _ladder_values(target: IndexTarget, k: int) -> list[int]:
    if target.method == "hnsw":
        values = [v for v in app_settings()["RECALL_HNSW_LADDER"] if v >= k]
        return values or [k]
    lists = target.lists or 1
    values, probes = [], 1
    while probes < lists:
        values.append(probes)
        probes *= 2
    return [*values, lists]


def _recommendation(
    target: IndexTarget, setting: str, ladder: Sequence[LadderStep], goal: float
) -> tuple[int | None, str]:
    short = setting.split(".", 1)[1]
    for step in ladder:
        if step.recall >= goal:
            return step.value, (
                f"Set {setting} = {step.value}: the smallest value tried that reaches recall {goal:.2f} "
                f"({step.recall:.3f}, {step.mean_ms:.2f} ms per query on average)."
            )
    if not ladder:
        return None, "No values were tried."
    best = max(ladder, key=lambda s: (s.recall, -s.value))
    cure = (
        "rebuild with a larger m or ef_construction"
        if target.method == "hnsw"
        else "rebuild with lists closer to rows / 1000, or check that the table changed little since the build"
    )
    return None, (
        f"No {short} value tried reaches recall {goal:.2f} (best {best.recall:.3f} at {short} = {best.value}); {cure}."
    )


def measure_recall(
    qualified: str,
    *,
    k: int = 10,
    samples: int = 100,
    target: float | None = None,
    ladder: Sequence[int] | None = None,
    using: str = "default",
    log: Callable[[str], None] | None = None,
) -> RecallResult:
    """Measure recall@k and latency of index `qualified` now, along a ladder of search settings."""
    say = log or (lambda line: None)
    target = app_settings()["RECALL_TARGET"] if target is None else target
    index = validated_target(qualified, k=k, samples=samples, target=target, using=using)
    timeout_ms = app_settings()["RECALL_STATEMENT_TIMEOUT_MS"]
    vectors = sample_vectors(index, samples, seed=SEED, using=using)
    if not vectors:
        raise RecallRefused(f"The table {index.schema}.{index.table} has no rows the index covers: nothing to sample.")
    setting, _default = SEARCH_SETTINGS[index.method]
    current = search_setting(index.method, using=using)
    say(f"Sampled {len(vectors)} vectors from {index.schema}.{index.table}; {setting} is {current}.")

    exact = exact_answers(index, vectors, k=k, timeout_ms=timeout_ms, using=using)
    exact_mean, exact_p95 = _ms(exact)
    say(f"Exact search: {len(exact)} queries, mean {exact_mean:.2f} ms, p95 {exact_p95:.2f} ms.")

    scanned = scanned_indexes(index, vectors[0], k=k, exact=False, using=using)
    # A partitioned index is walked through its partitions' indexes, each named in the plan by its own name.
    attached = attached_index_names(index, using=using)
    missed = sorted(attached.difference(scanned))
    uses_index = index.name in scanned or bool(attached) and not missed
    if uses_index:
        plan_note = ""
    elif attached and len(missed) < len(attached):
        plan_note = (
            f"The planner walked {qualified} on some partitions only (not through {', '.join(missed)}): the figures "
            "below mix exact and approximate answers."
        )
    else:
        plan_note = (
            f"The planner did not walk {qualified} for the ANN query (it used {', '.join(scanned) or 'no index'}): "
            "the figures below describe that plan, not this index."
        )
    if plan_note:
        say(plan_note)

    now = ann_answers(index, vectors, k=k, timeout_ms=timeout_ms, using=using)
    recall_now = _mean_recall(now, exact, k)
    ann_mean, ann_p95 = _ms(now)
    say(f"At {setting} = {current}: recall@{k} {recall_now:.3f}, mean {ann_mean:.2f} ms, p95 {ann_p95:.2f} ms.")

    steps = []
    for value in ladder if ladder is not None else _ladder_values(index, k):
        # The current value was just measured: its step is that measurement, not a second one that would show
        # other times for the same setting beside the first.
        answers = (
            now
            if value == current
            else ann_answers(index, vectors, k=k, search_value=value, timeout_ms=timeout_ms, using=using)
        )
        mean, p95 = _ms(answers)
        steps.append(LadderStep(value, _mean_recall(answers, exact, k), mean, p95))
        if value != current:  # the current value's line is in the log already
            say(f"At {setting} = {value}: recall@{k} {steps[-1].recall:.3f}, mean {mean:.2f} ms, p95 {p95:.2f} ms.")
    recommended, sentence = _recommendation(index, setting, steps, target)
    if plan_note:
        # Figures of another plan (or of one mixing it) say nothing of what this index's setting should be: the
        # index page showed "Set hnsw.ef_search = 10" from an exact scan of the primary key.
        recommended, sentence = None, f"No {setting} value is recommended: {plan_note}"
    say(sentence)
    return RecallResult(
        index=index.qualified_name,
        method=index.method,
        setting=setting,
        current_value=current,
        k=k,
        samples=samples,
        samples_used=len(vectors),
        seed=SEED,
        target=target,
        recall=recall_now,
        ann_mean_ms=ann_mean,
        ann_p95_ms=ann_p95,
        exact_mean_ms=exact_mean,
        exact_p95_ms=exact_p95,
        ladder=tuple(steps),
        recommended=recommended,
        recommendation=sentence,
        uses_index=uses_index,
        plan_note=plan_note,
    )


def latest_recall_check(schema: str, name: str, *, using: str = "default") -> RecallCheck | None:
    """Return the newest recall check of index schema.name (one indexed query)."""
    return (
        RecallCheck.objects.filter(database_alias=using, schema_name=schema, index_name=name)
        .order_by("-created_at", "-id")
        .first()
    )


def _outcome(check: RecallCheck) -> dict[str, Any]:
    result = check.result or {}
    return {"recall": result.get("recall"), "recommended": result.get("recommended")}


RECALL_CHECK = jobs.register(
    jobs.JobKind(
        name="recall check",
        model=RecallCheck,
        task_name="schemaadmin.recall_check",
        key="check",
        actions={
            "requested": "recall.check_requested",
            JobState.SUCCEEDED: "recall.checked",
            JobState.FAILED: "recall.check_failed",
        },
        target=lambda check: qualify(check.schema_name, check.index_name),
        outcome=_outcome,
        worker_stopped=WORKER_STOPPED,
    )
)


def start_recall_check(
    qualified: str,
    *,
    user: Any,
    request: HttpRequest | None = None,
    rebuild: IndexRebuild | None = None,
    k: int = 10,
    samples: int = 100,
    target: float | None = None,
    using: str = "default",
) -> RecallCheck:
    """Record a recall check, audit it and queue its job; refuse an index or values that cannot be checked, each
    refusal audited (recall.check_refused) with its sentence."""
    target = app_settings()["RECALL_TARGET"] if target is None else target
    try:
        index = validated_target(qualified, k=k, samples=samples, target=target, using=using)
    except RecallRefused as refused:
        asked = {"k": k, "samples": samples, "target_recall": target, "rebuild": rebuild.pk if rebuild else None}
        refuse_check(qualified, str(refused), user=user, request=request, **asked)
        raise
    # One at a time per database, never refused: two checks at once, or a check beside a build, would slow each
    # other's timings.
    return jobs.start(
        RECALL_CHECK,
        user=user,
        request=request,
        detail={
            "rebuild": rebuild.pk if rebuild is not None else None,
            "k": k,
            "samples": samples,
            "target_recall": target,
        },
        database_alias=using,
        schema_name=index.schema,
        index_name=index.name,
        rebuild=rebuild,
        k=k,
        samples=samples,
        target_recall=target,
    )


def refuse_check(qualified: str, reason: str, *, user: Any, request: HttpRequest | None = None, **asked: Any) -> None:
    """Audit a recall check of the index that was asked for and refused (recall.check_refused), with the reason."""
    record_refusal(request, "recall.check_refused", qualified, reason, actor=user, **asked)


def run_recall_check(check_id: int) -> str:
    """Run one queued recall check (the job's body) and record its result or its failure; return the state."""
    check = RecallCheck.objects.select_related("requested_by").get(pk=check_id)
    if check.state != JobState.QUEUED:
        return str(check.state)
    using = check.database_alias
    if not jobs.claim(RECALL_CHECK, check, backend_pid=backend_pid(using=using)):
        check.refresh_from_db()
        return str(check.state)
    with JobLog(RECALL_CHECK, check.pk) as log:
        try:
            result = measure_recall(
                qualify(check.schema_name, check.index_name),
                k=check.k,
                samples=check.samples,
                target=check.target_recall,
                using=using,
                log=log.write,
            )
        except Exception as exc:  # any failure is the outcome we record
            message = str(exc).strip() or type(exc).__name__
            log.write(f"FAILED: {message}")
            jobs.finish(RECALL_CHECK, check, JobState.FAILED, error=message, result=None)
        else:
            jobs.finish(RECALL_CHECK, check, JobState.SUCCEEDED, result=result.to_json())
    return str(check.state)
