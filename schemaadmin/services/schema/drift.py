"""Drift: where the live database differs from what the models and the applied migrations say it should be.

Two comparisons. The live schema against a shadow database migrated to exactly the applied migrations
(services/schema/shadow.py): tables, columns (type, nullability, default, identity, generation), indexes,
constraints, triggers, functions and extensions made by hand or lost. And the models against the migration files (what
``makemigrations --check`` does): a model change nobody wrote a migration for. Names are not drift: an index or
constraint the shadow has under the same definition matches whatever it is called. The rules that compare the two
schemas are in services/schema/drift_rules.py (and the modules it runs).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from schemaadmin.conf import app_settings
from schemaadmin.pg.connection import validated_alias
from schemaadmin.pg.schema import SchemaSnapshot, schema_snapshot
from schemaadmin.services.findings import Finding, Kind, Severity, worst_first
from schemaadmin.services.schema.drift_key_rules import drift_finding
from schemaadmin.services.schema.drift_rules import schema_drift
from schemaadmin.services.schema.migrations import recorded_without_file_findings
from schemaadmin.services.schema.model_changes import model_changes
from schemaadmin.services.schema.model_tables import models_in_other_schemas, tables_outside_migrations
from schemaadmin.services.schema.shadow import (
    ShadowUnavailable,
    applied_migrations,
    latest_replay,
    shadow_fingerprint,
    shadow_snapshot,
    snapshot_from_json,
)

__all__ = ["DriftReport", "drift_findings", "drift_report", "model_changes", "schema_drift"]


@dataclass(frozen=True, slots=True)
class DriftReport:
    findings: tuple[Finding, ...]
    applied: int  # migrations applied on the live database, replayed in the shadow
    from_cache: bool  # a stored replay of these migrations served the shadow's schema: no database was created
    seconds: float
    awaiting_replay: bool = False  # these migrations were never replayed: only model changes could be compared

    @property
    def computed(self) -> bool:
        return not any(f.code == "drift_unavailable" for f in self.findings)


def _sorted(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(worst_first(findings, then=lambda f: (f.code, f.object)))


def drift_report(*, using: str = "default", refresh: bool = False, replay: bool = True) -> DriftReport:
    """Compare the live database with its applied migrations, and the models with the migration files.

    With replay=False (web requests) only a stored replay of the applied migrations is used, never a new one:
    when there is none yet, the report says it awaits one (the worker makes it, services/schema/drift_checks.py).
    """
    validated_alias(using)
    started = time.monotonic()
    schemas = tuple(app_settings()["APP_SCHEMAS"])
    applied = applied_migrations(using=using)
    findings: list[Finding] = []
    expected: SchemaSnapshot | None = None
    from_cache = False
    if replay:
        try:
            expected, from_cache = shadow_snapshot(applied, schemas=schemas, using=using, refresh=refresh)
        except ShadowUnavailable as exc:
            findings.append(_unavailable(using, str(exc)))
    else:
        stored = latest_replay(shadow_fingerprint(applied, schemas), using=using)
        if stored is None:
            unreplayed = [*model_changes(), *recorded_without_file_findings(applied), *_schemas_not_compared(schemas)]
            return DriftReport(_sorted(unreplayed), len(applied), False, time.monotonic() - started, True)
        if stored.snapshot is None:
            findings.append(_unavailable(using, stored.error))
        else:
            expected, from_cache = snapshot_from_json(stored.snapshot), True
    if expected is not None:
        live = schema_snapshot(schemas=schemas, using=using, triggers=True, functions=True, views=True)
        findings += schema_drift(live, expected, outside=tables_outside_migrations(schemas[0]))
    findings += model_changes()
    findings += recorded_without_file_findings(applied)
    findings += _schemas_not_compared(schemas)
    return DriftReport(_sorted(findings), len(applied), from_cache, time.monotonic() - started)


def _schemas_not_compared(schemas: tuple[str, ...]) -> list[Finding]:
    return [_schema_not_compared(schema, labels) for schema, labels in models_in_other_schemas(schemas).items()]


def _schema_not_compared(schema: str, labels: list[str]) -> Finding:
    shown = ", ".join(labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")
    return drift_finding(
        "schema_not_compared",
        Severity.INFO,
        schema,
        f"Models put their tables in schema {schema} ({shown}), which SCHEMAADMIN['APP_SCHEMAS'] does not list: "
        "their tables are not compared with the migrations, nor shown on the live schema.",
        f"Add {schema!r} to SCHEMAADMIN['APP_SCHEMAS'] in the settings to compare them.",
    )


def _unavailable(using: str, reason: str) -> Finding:
    return Finding(
        "drift_unavailable",
        Severity.WARNING,
        Kind.DRIFT,
        using,
        f"Drift between the database and its migrations could not be computed. {reason}",
        "Fix the cause above and look again; model changes without a migration are still listed.",
    )


def drift_findings(*, using: str = "default") -> list[Finding]:
    """Return every drift finding for the database named by using, worst first."""
    return list(drift_report(using=using).findings)
