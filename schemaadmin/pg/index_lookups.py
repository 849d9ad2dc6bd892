"""Small questions about indexes that need no deparsing and no INDEX_SELECT (pg/index_select.py): which table an
index is on, whether this role may build indexes on a table, and how often each index was scanned on this node. Each
is one statement over the catalog or the statistics views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemaadmin.pg.connection import fetch_all, fetch_one, fetch_row, fetch_rows, server_version
from schemaadmin.pg.indexes import SYSTEM_SCHEMAS_SQL, table_params
from schemaadmin.pg.relations import RelationName

__all__ = ["IndexUsage", "index_methods", "index_table", "index_usage", "may_build_indexes_of"]


def index_methods(*, using: str = "default") -> list[str]:
    """Return the index access methods the database has (btree and the other built-in ones, and those extensions
    add: hnsw, ivfflat, bloom, rum…), by name."""
    return [row[0] for row in fetch_all("SELECT amname::text FROM pg_am WHERE amtype = 'i' ORDER BY 1", using=using)]


def index_table(schema: str, name: str, *, using: str = "default") -> tuple[str, str] | None:
    """Return the (schema, name) of the table of index schema.name, from the catalog rows alone (no lock is waited
    for: nothing is opened or deparsed); None when no user schema holds such an index."""
    row = fetch_row(
        RelationName,
        f"""
        SELECT tn.nspname AS schema, t.relname AS name
        FROM pg_class AS ic
        JOIN pg_namespace AS n ON n.oid = ic.relnamespace
        JOIN pg_index AS i ON i.indexrelid = ic.oid
        JOIN pg_class AS t ON t.oid = i.indrelid
        JOIN pg_namespace AS tn ON tn.oid = t.relnamespace
        WHERE n.nspname = %(schema)s AND ic.relname = %(name)s AND {SYSTEM_SCHEMAS_SQL}
        """,  # noqa: S608 -- constants and parameters
        {"schema": schema, "name": name},
        using=using,
    )
    return (row.schema, row.name) if row is not None else None


def may_build_indexes_of(schema: str, table: str, *, reindex_only: bool = False, using: str = "default") -> bool:
    """Return whether the connecting role may build indexes on schema.table: it owns the table or is a member of its
    owner (CREATE INDEX, DROP INDEX), or, for REINDEX alone on PostgreSQL 17+, holds MAINTAIN on it."""
    maintain = reindex_only and server_version(using) >= 170000
    row = fetch_one(
        f"""
        SELECT pg_has_role(current_user, c.relowner, 'USAGE')
               {"OR has_table_privilege(current_user, c.oid, 'MAINTAIN')" if maintain else ""}
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relname = %(table)s
        """,  # noqa: S608 -- a constant clause and parameters
        {"schema": schema, "table": table},
        using=using,
    )
    return bool(row and row[0])


@dataclass(frozen=True, slots=True)
class IndexUsage:
    schema: str
    name: str
    scans: int
    last_scan: datetime | None


def index_usage(*, table: tuple[str, str] | None = None, using: str = "default") -> list[IndexUsage]:
    """Return how often each index in user schemas (of table, if given) was scanned on this node (for replicas: their
    own count)."""
    return fetch_rows(
        IndexUsage,
        """
        SELECT s.schemaname AS schema,
               s.indexrelname AS name,
               s.idx_scan AS scans,
               (to_jsonb(s) ->> 'last_idx_scan')::timestamptz AS last_scan
        FROM pg_stat_user_indexes AS s
        WHERE (%(schema)s::text IS NULL OR (s.schemaname = %(schema)s AND s.relname = %(table)s))
        """,
        table_params(table),
        using=using,
    )
