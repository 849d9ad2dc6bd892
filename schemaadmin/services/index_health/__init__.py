"""Index and table health: the catalog read once, turned into findings with a severity, a reason and a fix."""

from __future__ import annotations

import dataclasses
import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from schemaadmin.conf import app_settings
from schemaadmin.pg import indexes as pg_indexes
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.pg.names import qualify
from schemaadmin.pg.relations import TableHealth
from schemaadmin.services.findings import Finding, Severity, severity_counts, worst_first
from schemaadmin.services.index_health.activity_rules import activity_findings
from schemaadmin.services.index_health.constraint_rules import constraint_findings
from schemaadmin.services.index_health.findings import CODES
from schemaadmin.services.index_health.index_rules import index_findings
from schemaadmin.services.index_health.index_shape_rules import index_shape_findings
from schemaadmin.services.index_health.maintenance_rules import maintenance_findings
from schemaadmin.services.index_health.scope import Scope, table_scope
from schemaadmin.services.index_health.snapshot import (
    Snapshot,
    start_snapshot,
    take_index_snapshot,
    take_table_index_snapshot,
)
from schemaadmin.services.index_health.table_rules import table_findings
from schemaadmin.services.index_health.thresholds import Thresholds
from schemaadmin.services.index_health.vector_rules import vector_findings
from schemaadmin.services.index_health.vectors import VectorAdvice, vector_advice

__all__ = [
    "CODES",
    "Finding",
    "HealthReport",
    "Severity",
    "Snapshot",
    "Thresholds",
    "VectorAdvice",
    "evaluate",
    "health_report",
    "pause_gc",
    "index_report",
    "vector_advice",
    "without_framework_tables",
]


def evaluate(snapshot: Snapshot, thresholds: Thresholds | None = None, *, indexes_only: bool = False) -> list[Finding]:
    """Return the snapshot's findings, most severe first, then by object.

    indexes_only: only the rules that can find something about an index (what take_index_snapshot reads for).
    """
    thresholds = thresholds or Thresholds.from_settings()
    found = _about_indexes(snapshot, thresholds)
    if not indexes_only:
        found += _about_the_rest(snapshot, thresholds)
    return _ordered(found)


def _about_indexes(snapshot: Snapshot, thresholds: Thresholds) -> list[Finding]:
    """Return what the rules that can find something about an index find (no table read: take_index_snapshot)."""
    return [
        *index_findings(snapshot, thresholds),
        *vector_findings(snapshot, thresholds),
        *index_shape_findings(snapshot, thresholds),
    ]


def _about_the_rest(snapshot: Snapshot, thresholds: Thresholds) -> list[Finding]:
    return [
        *table_findings(snapshot, thresholds),
        *activity_findings(snapshot),
        *constraint_findings(snapshot, thresholds),
        *maintenance_findings(snapshot, thresholds),
    ]


def _ordered(found: list[Finding]) -> list[Finding]:
    return worst_first(found, then=lambda f: (f.schema, f.table, f.index or "", f.column or "", f.code))


@dataclass(frozen=True, slots=True)
class HealthReport:
    snapshot: Snapshot
    findings: list[Finding] = field(hash=False)

    @property
    def database(self) -> str:
        return self.snapshot.database

    def by_index(self) -> dict[str, list[Finding]]:
        """Return findings keyed by schema-qualified index name."""
        grouped: dict[str, list[Finding]] = defaultdict(list)
        for f in self.findings:
            if f.index is not None:
                grouped[qualify(f.schema, f.index)].append(f)
        return grouped

    def by_table(self) -> dict[str, list[Finding]]:
        """Return every finding keyed by its schema-qualified table name."""
        grouped: dict[str, list[Finding]] = defaultdict(list)
        for f in self.findings:
            grouped[qualify(f.schema, f.table)].append(f)
        return grouped

    def severity_counts(self) -> dict[Severity, int]:
        """Return {critical, warning, info} -> number of findings, every severity present."""
        return severity_counts(self.findings)

    def index_severity_counts(self) -> dict[Severity, int]:
        """Return the same counts over the findings about an index (what /indexes/ lists)."""
        return severity_counts(f for f in self.findings if f.index is not None)

    def largest_tables(self, limit: int = 5) -> list[TableHealth]:
        return sorted(self.snapshot.tables, key=lambda t: -t.total_bytes)[:limit]

    def largest_indexes(self, limit: int = 5) -> list[IndexInfo]:
        return sorted(self.snapshot.indexes, key=lambda i: -i.size_bytes)[:limit]

    def index_size_by_table(self, limit: int = 12) -> dict[str, list]:
        """Return chart data: the tables with the most index bytes, and each one's index sizes in MB."""
        sizes: dict[str, int] = defaultdict(int)
        for index in self.snapshot.indexes:
            sizes[index.qualified_table] += index.size_bytes
        top = sorted(sizes.items(), key=lambda item: -item[1])[:limit]
        return {"labels": [name for name, _ in top], "megabytes": [round(size / 2**20, 2) for _, size in top]}

    def index(self, schema: str, name: str) -> IndexInfo | None:
        return next((i for i in self.snapshot.indexes if i.schema == schema and i.name == name), None)

    def table(self, schema: str, name: str) -> TableHealth | None:
        return next((t for t in self.snapshot.tables if t.schema == schema and t.name == name), None)


def _is_framework(schema: str, table: str) -> bool:
    return bool(table) and table_scope(schema, table) is Scope.FRAMEWORK


def without_framework_tables(report: HealthReport) -> HealthReport:
    """Return report as if the framework's tables (and their indexes, keys and findings) were not there."""
    snapshot = report.snapshot
    kept = dataclasses.replace(
        snapshot,
        indexes=[i for i in snapshot.indexes if not _is_framework(i.schema, i.table)],
        tables=[t for t in snapshot.tables if not _is_framework(t.schema, t.name)],
        foreign_keys=[k for k in snapshot.foreign_keys if not _is_framework(k.schema, k.table)],
        vector_columns=[c for c in snapshot.vector_columns if not _is_framework(c.schema, c.table)],
    )
    return HealthReport(snapshot=kept, findings=[f for f in report.findings if not _is_framework(f.schema, f.table)])


def _without_locked(findings: list[Finding], snapshot: Snapshot) -> list[Finding]:
    """Return the findings but those about a table that a lock of another session touched while the snapshot was
    read (it, its TOAST table or an index of theirs; and the partitioned tables above it): the indexes of such a
    table were left out (pg/locked.py), so a rule would miss what they serve (a foreign key's index, a vector
    column's) or judge part of them. The pages name the locked relations instead."""
    if not snapshot.locked:
        return findings
    tables = {table for relation in snapshot.locked for table in relation.tables}
    return [f for f in findings if (f.schema, f.table) not in tables]


@contextmanager
def pause_gc() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a report's rows are built.

    A report at 30,000 indexes allocates a few hundred thousand objects, none in cycles (reference counting frees
    them); each allocation burst would otherwise start collections that walk every live object, a third of the
    Python time of a report (measured at 30,000 indexes). The collector resumes when the outermost pause ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def health_report(
    *,
    using: str = "default",
    nodes: list[str] | None = None,
    thresholds: Thresholds | None = None,
    hide_framework: bool | None = None,
    indexes_only: bool = False,
) -> HealthReport:
    """Read the catalog of using (and index usage on every node) and return it with its findings.

    The framework's tables are left out when hide_framework says so (None: the HIDE_FRAMEWORK_TABLES setting).
    indexes_only (what /indexes/ shows): the index, index-shape and vector rules over take_index_snapshot(), which
    reads no table (nor sequences, constraints, ages, slots or sessions); the findings about an index are the same.
    """
    thresholds = thresholds or Thresholds.from_settings()
    with pause_gc():
        if indexes_only:
            snapshot = take_index_snapshot(using=using, nodes=nodes, bloat_min_bytes=thresholds.bloat_min_bytes)
            findings = evaluate(snapshot, thresholds, indexes_only=True)
        else:
            index_part, whole = start_snapshot(
                using=using,
                nodes=nodes,
                table_bloat_min_bytes=thresholds.table_bloat_min_bytes,
                bloat_min_bytes=thresholds.bloat_min_bytes,
            )
            # The indexes are judged while the side connection still reads the tables (pg/beside.py).
            found = _about_indexes(index_part, thresholds)
            snapshot = whole()
            findings = _ordered(found + _about_the_rest(snapshot, thresholds))
        report = HealthReport(snapshot=snapshot, findings=_without_locked(findings, snapshot))
        if hide_framework is None:
            hide_framework = app_settings()["HIDE_FRAMEWORK_TABLES"]
        return without_framework_tables(report) if hide_framework else report


def index_report(
    schema: str,
    name: str,
    *,
    using: str = "default",
    nodes: list[str] | None = None,
    thresholds: Thresholds | None = None,
) -> HealthReport | None:
    """Return the report of the indexes on schema.name's table (what one index's findings are made of), or None.

    None when no user schema holds that index, or when it is on a framework table that HIDE_FRAMEWORK_TABLES hides.
    """
    found = pg_indexes.index(schema, name, using=using)
    if found is None:
        return None
    thresholds = thresholds or Thresholds.from_settings()
    snapshot = take_table_index_snapshot(schema, found.table, using=using, nodes=nodes)
    report = HealthReport(snapshot=snapshot, findings=evaluate(snapshot, thresholds))
    if app_settings()["HIDE_FRAMEWORK_TABLES"]:
        report = without_framework_tables(report)
    return report if report.index(schema, name) is not None else None
