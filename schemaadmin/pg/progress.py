"""Index builds under way: what pg_stat_progress_create_index reports for a backend."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from schemaadmin.pg.connection import fetch_row

__all__ = ["IndexBuildProgress", "as_percent", "index_build_progress", "is_waiting", "waited_fraction"]


def is_waiting(phase: str) -> bool:
    """Whether a build in this phase waits for other transactions ("waiting for writers before build", "… old
    snapshots"): PostgreSQL then leaves the last scan's block counts in the row."""
    return phase.startswith("waiting for")


def waited_fraction(lockers_done: int, lockers_total: int) -> float | None:
    """Return how far a wait is (0–1): the transactions waited for so far; None before they are counted."""
    return min(lockers_done / lockers_total, 1.0) if lockers_total > 0 else None


def as_percent(fraction: float | None) -> float | None:
    """Return a fraction as a percentage to one decimal, as the pages show it."""
    return None if fraction is None else round(fraction * 100, 1)


@dataclass(frozen=True, slots=True)
class IndexBuildProgress:
    pid: int
    command: str  # CREATE INDEX [CONCURRENTLY], REINDEX [CONCURRENTLY]
    phase: str  # as PostgreSQL and the access method (pgvector's "loading tuples") name it
    table: str | None  # schema-qualified
    index: str | None  # schema-qualified; None until the new index exists
    blocks_done: int
    blocks_total: int
    tuples_done: int
    tuples_total: int
    lockers_done: int
    lockers_total: int
    current_locker_pid: int
    partitions_done: int
    partitions_total: int

    @property
    def waiting(self) -> bool:
        return is_waiting(self.phase)

    @property
    def fraction(self) -> float | None:
        """Return how far the current phase is (0–1): while waiting, from the transactions waited for (PostgreSQL
        leaves the last scan's block counts in the row then); else from blocks, else tuples; None when uncounted."""
        if self.waiting:
            return waited_fraction(self.lockers_done, self.lockers_total)
        if self.blocks_total > 0:
            return min(self.blocks_done / self.blocks_total, 1.0)
        if self.tuples_total > 0:
            return min(self.tuples_done / self.tuples_total, 1.0)
        return None

    @property
    def percent(self) -> float | None:
        """Return the fraction as a percentage to one decimal; None when nothing is counted."""
        return as_percent(self.fraction)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "waiting": self.waiting}


def index_build_progress(pid: int, *, using: str = "default") -> IndexBuildProgress | None:
    """Return the progress row of the index build backend pid runs, or None if it is not building an index."""
    return fetch_row(
        IndexBuildProgress,
        """
        SELECT p.pid AS pid,
               p.command AS command,
               p.phase AS phase,
               tn.nspname || '.' || t.relname AS table,
               CASE WHEN i.oid IS NOT NULL THEN tn.nspname || '.' || i.relname END AS index,
               p.blocks_done AS blocks_done,
               p.blocks_total AS blocks_total,
               p.tuples_done AS tuples_done,
               p.tuples_total AS tuples_total,
               p.lockers_done AS lockers_done,
               p.lockers_total AS lockers_total,
               p.current_locker_pid AS current_locker_pid,
               p.partitions_done AS partitions_done,
               p.partitions_total AS partitions_total
        FROM pg_stat_progress_create_index AS p
        LEFT JOIN pg_class AS t ON t.oid = p.relid
        LEFT JOIN pg_namespace AS tn ON tn.oid = t.relnamespace
        LEFT JOIN pg_class AS i ON i.oid = p.index_relid
        WHERE p.pid = %(pid)s
        """,
        {"pid": pid},
        using=using,
    )
