"""Records kept for a set time (AUDIT_RETENTION_DAYS, EXPLAIN_RUN_RETENTION_DAYS, WORKER_JOB_RETENTION_DAYS), then
deleted in batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import models
from django.utils import timezone

from schemaadmin.audit import record
from schemaadmin.conf import app_settings
from schemaadmin.models import AuditEvent, ExplainRun
from schemaadmin.pg.jobs import delete_finished_jobs

__all__ = ["PRUNE_BATCH", "Pruned", "prune_records"]

# Rows deleted per statement: each DELETE is its own short transaction, so a first prune of millions of events
# neither holds locks for minutes nor leaves one huge transaction's WAL at once.
PRUNE_BATCH = 10_000


def _delete_before(model: type[models.Model], field: str, cutoff: datetime, batch: int) -> int:
    """Delete the model's rows whose field is before cutoff, oldest first, batch rows a statement."""
    manager = model._default_manager
    oldest = manager.filter(**{f"{field}__lt": cutoff}).order_by(field).values("pk")
    deleted = 0
    while True:
        # One statement a batch: DELETE … WHERE id IN (SELECT id … ORDER BY field LIMIT batch), no ids in Python.
        count, _ = manager.filter(pk__in=oldest[:batch]).delete()
        deleted += count
        if count < batch:
            return deleted


# (setting, the table pruned, what deletes its rows older than a cutoff, batch rows a statement, and says how many).
# procrastinate's row of a finished job is the queue's, not the record of what the job did (its WorkerJobRecord,
# kept): a succeeded job's row is deleted when it ends (delete_jobs), a failed, cancelled or aborted one's (and a
# succeeded one's left by a worker without delete_jobs) is kept
# WORKER_JOB_RETENTION_DAYS for whoever looks into it.
_KEPT: tuple[tuple[str, str, Callable[[datetime, int], int]], ...] = (
    ("AUDIT_RETENTION_DAYS", AuditEvent._meta.db_table, partial(_delete_before, AuditEvent, "at")),
    ("EXPLAIN_RUN_RETENTION_DAYS", ExplainRun._meta.db_table, partial(_delete_before, ExplainRun, "created_at")),
    ("WORKER_JOB_RETENTION_DAYS", "procrastinate_jobs", delete_finished_jobs),
)


@dataclass(frozen=True, slots=True)
class Pruned:
    setting: str
    cutoff: datetime
    deleted: int


def prune_records(*, now: datetime | None = None, batch: int = PRUNE_BATCH) -> list[Pruned]:
    """Delete the records older than their setting's days (none for a setting that is None); audit what went."""
    now = now or timezone.now()
    done = []
    for setting, table, delete in _KEPT:
        days = app_settings()[setting]
        if days is None:
            continue
        cutoff = now - timedelta(days=int(days))
        deleted = delete(cutoff, batch)
        done.append(Pruned(setting, cutoff, deleted))
        if deleted:
            record(
                None,
                "records.pruned",
                table,
                as_username="worker",
                setting=setting,
                days=int(days),
                cutoff=cutoff.isoformat(),
                deleted=deleted,
            )
    return done
