"""The health checks' codes, each with its severity and title, and how a health rule makes a Finding."""

from __future__ import annotations

from typing import Any

from schemaadmin.services.findings import Finding, Kind, Severity

__all__ = ["CODES", "Finding", "Severity", "finding"]


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
    # Activity (activity_rules.py): sessions and connections now, not the catalog; they link to /activity/.
    "connections_near_max": (Severity.WARNING, "Connections near max_connections"),
    "long_running_transaction": (Severity.WARNING, "Long-running transaction"),
    "idle_in_transaction": (Severity.WARNING, "Idle in transaction"),
}


def finding(code: str, *, database: str, schema: str, table: str, message: str, fix_sql: str, **where: Any) -> Finding:
    """Return a health Finding of code with its registered severity and title, about an index, a column or a table."""
    index, column = where.get("index"), where.get("column")
    if index is not None:
        about = f"{schema}.{index}"
    elif column is not None:
        about = f"{schema}.{table}.{column}"
    else:
        about = f"{schema}.{table}"
    severity, title = CODES[code]
    return Finding(
        code=code,
        severity=severity,
        kind=Kind.HEALTH,
        object=about,
        message=message,
        fix=fix_sql,
        title=title,
        database=database,
        schema=schema,
        table=table,
        index=index,
        column=column,
    )
