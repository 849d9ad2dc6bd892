"""Relations another session holds, or waits to take, ACCESS EXCLUSIVE: what the health reads measure around.

A migration's ALTER TABLE, a VACUUM FULL or a LOCK TABLE left open in a transaction holds its table ACCESS EXCLUSIVE,
and every other session that opens the table waits behind it: pg_relation_size(), pg_indexes_size(),
pg_get_indexdef() and pg_get_expr() of its indexes, pgstattuple's functions (measured on PostgreSQL 18, 2026-12-05).
So did every health page, until its statement timeout, when an operator needs them most. The health reads leave
out (or estimate from pg_class) what LOCKED_OIDS_SQL names: a lock held, or one asked for and queued (it makes later
requests queue behind it). A lock taken between that read and the function's call is still waited for: the web's
lock_timeout (WEB_LOCK_TIMEOUT_MS) ends that wait with a page saying a table is locked.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemaadmin.pg.connection import fetch_rows

__all__ = ["LOCKED_OIDS_SQL", "LockedRelation", "locked_relations"]

# The oids of those relations in this database, as a subquery (evaluated once per statement): `c.oid IN {...}`.
LOCKED_OIDS_SQL = """(
    SELECT l.relation
    FROM pg_catalog.pg_locks AS l
    WHERE l.locktype = 'relation'
      AND l.mode = 'AccessExclusiveLock'
      AND l.pid IS DISTINCT FROM pg_backend_pid()
      AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d WHERE d.datname = current_database())
)"""


@dataclass(frozen=True, slots=True)
class LockedRelation:
    schema: str
    name: str
    kind: str  # pg_class.relkind: r, p, m a table; i, I an index
    holders: tuple[int, ...]  # the pids holding it ACCESS EXCLUSIVE (none: a prepared transaction holds it)
    waiters: tuple[int, ...]  # the pids queued to take it ACCESS EXCLUSIVE

    @property
    def is_index(self) -> bool:
        return self.kind in ("i", "I")


def locked_relations(*, using: str = "default") -> list[LockedRelation]:
    """Return the relations of user schemas that another session holds or waits to take ACCESS EXCLUSIVE."""
    return fetch_rows(
        LockedRelation,
        """
        SELECT n.nspname AS schema,
               c.relname AS name,
               c.relkind::text AS kind,
               COALESCE(array_agg(DISTINCT l.pid) FILTER (WHERE l.granted AND l.pid IS NOT NULL), '{}') AS holders,
               COALESCE(array_agg(DISTINCT l.pid) FILTER (WHERE NOT l.granted), '{}') AS waiters
        FROM pg_catalog.pg_locks AS l
        JOIN pg_catalog.pg_class AS c ON c.oid = l.relation
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE l.locktype = 'relation'
          AND l.mode = 'AccessExclusiveLock'
          AND l.pid IS DISTINCT FROM pg_backend_pid()
          AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d WHERE d.datname = current_database())
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND NOT starts_with(n.nspname, 'pg_temp_')
          AND NOT starts_with(n.nspname, 'pg_toast_temp_')
        GROUP BY n.nspname, c.relname, c.relkind
        ORDER BY n.nspname, c.relname
        """,
        using=using,
    )
