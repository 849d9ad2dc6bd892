"""Snapshot pg_stat_statements into SchemaAdmin's tables as deltas, and prune what is older than the retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import router, transaction
from django.utils import timezone

from schemaadmin.conf import app_settings
from schemaadmin.models import QuerySnapshot, QueryText
from schemaadmin.pg import query_history
from schemaadmin.pg.stats import statement_counters, statement_texts, statements_info
from schemaadmin.services.workload.availability import availability

__all__ = ["SnapshotRefused", "SnapshotRun", "prune", "snapshot_and_prune", "take_snapshot"]


class SnapshotRefused(RuntimeError):
    """pg_stat_statements cannot be read on this server; the message says why and what to run."""


@dataclass(frozen=True, slots=True)
class SnapshotRun:
    snapshot: QuerySnapshot | None
    pruned: int
    message: str


def take_snapshot(*, using: str = "default", now: datetime | None = None) -> QuerySnapshot:
    """Read pg_stat_statements on the alias's server and store what each statement did since the last snapshot."""
    state = availability(using=using)
    if not state.ok:
        raise SnapshotRefused(state.reason)
    records = router.db_for_write(QuerySnapshot)
    limit = int(app_settings()["QUERY_STATS_MAX_STATEMENTS_PER_SNAPSHOT"])
    with transaction.atomic(using=records):
        # Counters are read under the lock, so two snapshots never subtract from each other's baselines.
        query_history.lock_series(using, using=records)
        previous = QuerySnapshot.objects.using(records).filter(database_alias=using).order_by("-taken_at").first()
        info = statements_info(using=using)
        counters = statement_counters(using=using)
        reset = previous is not None and info.stats_reset != previous.stats_reset
        # dealloc counts evictions since the last full reset, and restarts from zero with it.
        evicted = info.dealloc if reset or previous is None else max(info.dealloc - previous.dealloc, 0)
        snapshot = QuerySnapshot.objects.using(records).create(
            database_alias=using,
            taken_at=now or timezone.now(),
            previous_taken_at=previous.taken_at if previous else None,
            stats_reset=info.stats_reset,
            dealloc=info.dealloc,
            reset=reset,
            evicted=evicted if previous else 0,
        )
        if previous is not None:
            # The first snapshot of a series only sets the baseline: its counters span an unknown time.
            outcome = query_history.record_deltas(
                snapshot.pk, using, counters, taken_at=snapshot.taken_at, reset=reset, limit=limit, using=records
            )
            query_history.add_to_rollups(snapshot.pk, using=records)
            texts = statement_texts(outcome.missing_texts, using=using) if outcome.missing_texts else {}
            QueryText.objects.using(records).bulk_create(
                [QueryText(queryid=q, query=text, first_seen=snapshot.taken_at) for q, text in texts.items()],
                ignore_conflicts=True,
            )
            snapshot.statements_changed, snapshot.statements_kept = outcome.changed, outcome.kept
            snapshot.total_ms = outcome.kept_ms
            snapshot.save(using=records, update_fields=["statements_changed", "statements_kept", "total_ms"])
        query_history.refresh_baseline(using, counters, kept_in=snapshot.pk if previous else None, using=records)
    return snapshot


def prune(*, using: str = "default", now: datetime | None = None) -> int:
    """Delete snapshots, roll-ups and texts older than QUERY_STATS_RETENTION_DAYS; return how many snapshots went."""
    cutoff = (now or timezone.now()) - timedelta(days=app_settings()["QUERY_STATS_RETENTION_DAYS"])
    records = router.db_for_write(QuerySnapshot)
    with transaction.atomic(using=records):
        return query_history.prune_before(using, cutoff, using=records)


def snapshot_and_prune(*, using: str = "default") -> SnapshotRun:
    """Take a snapshot and prune (the periodic task); without readable statistics, say why and only prune."""
    try:
        snapshot = take_snapshot(using=using)
    except SnapshotRefused as exc:
        return SnapshotRun(snapshot=None, pruned=prune(using=using), message=f"No snapshot: {exc}")
    pruned = prune(using=using)
    if snapshot.previous_taken_at is None:
        message = f"First snapshot of {using!r}: baseline of pg_stat_statements stored."
    else:
        message = (
            f"Snapshot of {using!r}: {snapshot.statements_changed} statements changed, "
            f"{snapshot.statements_kept} stored" + ("; the statistics had been reset." if snapshot.reset else ".")
        )
    return SnapshotRun(snapshot=snapshot, pruned=pruned, message=message + (f" Pruned {pruned}." if pruned else ""))
