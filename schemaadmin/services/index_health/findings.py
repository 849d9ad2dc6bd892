"""What a finding is: a stable code, a severity, the object it is about, why it matters, and the SQL that fixes it."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CODES", "Finding", "Severity"]


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


# code -> (severity, short title). The codes are a public interface (JSON output, cron alerts): never rename.
CODES: dict[str, tuple[Severity, str]] = {
    "invalid_index": (Severity.CRITICAL, "Invalid index"),
    "unused_index": (Severity.WARNING, "Unused index"),
    "duplicate_index": (Severity.WARNING, "Duplicate index"),
    "redundant_index": (Severity.INFO, "Redundant index"),
    "missing_fk_index": (Severity.WARNING, "Foreign key without an index"),
    "bloated_index": (Severity.WARNING, "Bloated index"),
    "vector_column_unindexed": (Severity.WARNING, "Vector column without an ANN index"),
    "vector_dims_unindexable": (Severity.CRITICAL, "Vector column too wide to index"),
    "ivfflat_lists_mismatch": (Severity.WARNING, "IVFFlat lists do not fit the rows"),
    "hnsw_build_memory": (Severity.WARNING, "HNSW rebuild will not fit in memory"),
    "stale_statistics": (Severity.WARNING, "Stale statistics"),
    "vacuum_overdue": (Severity.WARNING, "Vacuum overdue"),
    "sequential_scan_heavy": (Severity.INFO, "Read mostly by sequential scans"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    database: str
    schema: str
    table: str
    index: str | None
    column: str | None
    message: str
    fix_sql: str

    @property
    def title(self) -> str:
        return CODES[self.code][1]

    @property
    def object_name(self) -> str:
        """Return the schema-qualified object the finding is about: the index, the column, or the table."""
        if self.index is not None:
            return f"{self.schema}.{self.index}"
        if self.column is not None:
            return f"{self.schema}.{self.table}.{self.column}"
        return f"{self.schema}.{self.table}"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = str(self.severity)
        return data


def finding(code: str, *, database: str, schema: str, table: str, message: str, fix_sql: str, **where: Any) -> Finding:
    """Return a Finding of code with its registered severity."""
    return Finding(
        code=code,
        severity=CODES[code][0],
        database=database,
        schema=schema,
        table=table,
        index=where.get("index"),
        column=where.get("column"),
        message=message,
        fix_sql=fix_sql,
    )
