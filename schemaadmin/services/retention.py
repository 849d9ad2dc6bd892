"""Records kept for a set time (AUDIT_RETENTION_DAYS, EXPLAIN_RUN_RETENTION_DAYS), then deleted in batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

from schemaadmin.audit import record
from schemaadmin.conf import app_settings
from schemaadmin.models import AuditEvent, ExplainRun

__all__ = ["PRUNE_BATCH", "Pruned", "prune_records"]

# Rows deleted per statement: each DELETE is its own short transaction, so a first prune of millions of events
# neither holds locks for minutes nor leaves one huge transaction's WAL at once.
PRUNE_BATCH = 10_000

# (setting, model, the time field its age is read from)
_KEPT: tuple[tuple[str, type[models.Model], str], ...] = (
    ("AUDIT_RETENTION_DAYS", AuditEvent, "at"),
    ("EXPLAIN_RUN_RETENTION_DAYS", ExplainRun, "created_at"),
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
    for setting, model, field in _KEPT:
        days = app_settings()[setting]
        if days is None:
            continue
        cutoff = now - timedelta(days=int(days))
        deleted = _delete_before(model, field, cutoff, batch)
        done.append(Pruned(setting, cutoff, deleted))
        if deleted:
            record(
                None,
                "records.pruned",
                model._meta.db_table,
                as_username="worker",
                setting=setting,
                days=int(days),
                cutoff=cutoff.isoformat(),
                deleted=deleted,
            )
    return done


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
