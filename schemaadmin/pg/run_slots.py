"""Per-user slots of the EXPLAIN console's concurrent runs: session advisory locks, taken and given back around a
run (services/explain/run.py), so a user runs at most EXPLAIN_CONCURRENT_RUNS_PER_USER at once."""

from __future__ import annotations

from schemaadmin.pg.connection import fetch_one

__all__ = ["RUN_SLOT_NAMESPACE", "release_run_slot", "run_slot_key", "take_run_slot"]


# Advisory-lock namespace of the per-user run slots ("EXPL"); held by the web process's own connection, so a
# process that dies frees its slots with its session.
RUN_SLOT_NAMESPACE = 0x4558504C


def run_slot_key(user_id: int, slot: int) -> int:
    """Return the second advisory-lock key of one of a user's concurrent-run slots."""
    return (user_id * 16 + slot) & 0x7FFFFFFF


def take_run_slot(user_id: int, limit: int, *, using: str = "default") -> int | None:
    """Take a free one of the user's limit run slots and return its key, or None when all are taken."""
    for slot in range(limit):
        key = run_slot_key(user_id, slot)
        row = fetch_one("SELECT pg_try_advisory_lock(%s, %s)", [RUN_SLOT_NAMESPACE, key], using=using)
        if row and row[0]:
            return key
    return None


def release_run_slot(key: int, *, using: str = "default") -> None:
    """Give back a run slot taken with take_run_slot."""
    fetch_one("SELECT pg_advisory_unlock(%s, %s)", [RUN_SLOT_NAMESPACE, key], using=using)
