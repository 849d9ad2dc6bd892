"""The thresholds findings use, read from SCHEMAADMIN settings (see schemaadmin/conf.py for each one's meaning)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from schemaadmin.conf import app_settings

__all__ = ["Thresholds"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    unused_index_min_bytes: int
    unused_index_min_stats_age_days: float
    bloat_min_bytes: int
    bloat_min_ratio: float
    ivfflat_lists_tolerance: float
    stale_statistics_factor: float
    stale_statistics_min_rows: int
    vacuum_dead_tuples_factor: float
    vacuum_max_age_days: float
    sequential_scan_min_rows: int
    sequential_scan_min_scans: int
    sequential_scan_min_share: float
    table_bloat_min_bytes: int
    table_bloat_min_ratio: float
    sequence_near_max_share: float
    xid_age_warning_factor: float
    xid_age_critical_share: float
    mostly_null_min_fraction: float
    replication_slot_critical_bytes: int

    @classmethod
    def from_settings(cls, **overrides: Any) -> Thresholds:
        """Return the thresholds in SCHEMAADMIN (merged over the defaults), with overrides applied."""
        config = app_settings()
        values = {f.name: config[f.name.upper()] for f in fields(cls)}
        return cls(**{**values, **overrides})
