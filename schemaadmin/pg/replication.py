"""Replication slots: each one's consumer, and how much WAL it keeps the server from recycling."""

from __future__ import annotations

from dataclasses import dataclass

from schemaadmin.pg.connection import fetch_rows

__all__ = ["ReplicationSlot", "replication_slots"]


@dataclass(frozen=True, slots=True)
class ReplicationSlot:
    name: str
    kind: str  # physical or logical
    database: str | None  # a logical slot's database; None for a physical one
    plugin: str | None  # a logical slot's output plugin
    active: bool  # a consumer is connected now
    active_pid: int | None
    temporary: bool
    retained_bytes: int | None  # WAL kept for it since its restart_lsn; None while it reserves none
    wal_status: str | None  # reserved, extended, unreserved or lost (None before it reserves WAL)
    safe_wal_bytes: int | None  # WAL it may still retain before max_slot_wal_keep_size invalidates it; None: no cap


def replication_slots(*, using: str = "default") -> list[ReplicationSlot]:
    """Return every replication slot of the cluster (slots are cluster-wide) with the WAL it holds back."""
    return fetch_rows(
        ReplicationSlot,
        """
        SELECT s.slot_name::text AS name,
               s.slot_type AS kind,
               s.database::text AS database,
               s.plugin::text AS plugin,
               s.active AS active,
               s.active_pid AS active_pid,
               s.temporary AS temporary,
               pg_wal_lsn_diff(
                   CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,
                   s.restart_lsn
               )::bigint AS retained_bytes,
               s.wal_status AS wal_status,
               s.safe_wal_size AS safe_wal_bytes
        FROM pg_replication_slots AS s
        ORDER BY s.slot_name
        """,
        using=using,
    )
