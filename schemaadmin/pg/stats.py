"""pg_stat_statements: whether it can be read here, its counters, its texts, and pg_stat_statements_info."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, transaction

from schemaadmin.pg.connection import fetch_one, fetch_only_row, fetch_rows, server_version, validated_alias

__all__ = [
    "EXTENSION",
    "ORDERS",
    "QUERYID_BY_NAME_FROM",
    "OwnerNames",
    "StatementCounters",
    "StatementTotals",
    "StatementsInfo",
    "StatementsState",
    "live_statements",
    "owner_names",
    "same_named_relations",
    "statement_counters",
    "statement_texts",
    "statements_info",
    "statements_state",
]

EXTENSION = "pg_stat_statements"
# pg_stat_statements gained stats_since (when an entry's counting started) in PostgreSQL 17.
STATS_SINCE_FROM = 170000


@dataclass(frozen=True, slots=True)
class StatementsState:
    """What the server and this database say about pg_stat_statements."""

    available: bool  # the server has the extension's files (pg_available_extensions)
    installed_version: str | None  # CREATE EXTENSION was run in this database
    preloaded: bool  # named in shared_preload_libraries (read only at server start)
    read_error: str  # why SELECT from the view failed although both of the above hold; "" when it worked
    reads_all: bool  # the role may read every role's statement texts (pg_read_all_stats)
    preload_setting: str  # shared_preload_libraries as the server runs with it
    role: str = ""  # the role reading: the one pg_read_all_stats is granted to

    @property
    def installed(self) -> bool:
        return self.installed_version is not None

    @property
    def readable(self) -> bool:
        return self.installed and self.preloaded and not self.read_error


@dataclass(frozen=True, slots=True)
class StatementsInfo:
    """pg_stat_statements_info: entries deallocated since the last full reset, and when that was."""

    dealloc: int
    stats_reset: datetime


@dataclass(frozen=True, slots=True)
class StatementCounters:
    """One top-level statement's cumulative counters, without its text."""

    dbid: int
    userid: int
    queryid: int
    calls: int
    total_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks_written: int
    stats_since: datetime | None  # None before PostgreSQL 17


@dataclass(frozen=True, slots=True)
class StatementTotals:
    """One statement's counters (since the last reset, or summed over a window) with its text and share of time."""

    dbid: int
    userid: int
    queryid: int
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks_written: int
    share: float  # of the total time of every statement matching the same filters


def _preloaded(setting: str) -> bool:
    return EXTENSION in {name.strip().strip('"') for name in setting.split(",")}


def statements_state(*, using: str = "default") -> StatementsState:
    """Return whether pg_stat_statements is on the server, created here, preloaded, readable, and fully visible."""
    row = fetch_one(
        """
        SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = %(name)s) AS available,
               (SELECT extversion FROM pg_extension WHERE extname = %(name)s) AS installed_version,
               current_setting('shared_preload_libraries') AS preload,
               pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS reads_all,
               current_user AS role
        """,
        {"name": EXTENSION},
        using=using,
    )
    assert row is not None
    available, installed_version, preload, reads_all, role = row
    preloaded = _preloaded(preload)
    read_error = ""
    if installed_version is not None and preloaded:
        try:
            # A savepoint, so that a failure does not abort a transaction the caller is in.
            with transaction.atomic(using=validated_alias(using)):
                fetch_one("SELECT 1 FROM pg_stat_statements(false) LIMIT 1", using=using)
        except DatabaseError as exc:
            read_error = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return StatementsState(
        available=bool(available or installed_version),
        installed_version=installed_version,
        preloaded=preloaded,
        read_error=read_error,
        reads_all=bool(reads_all),
        preload_setting=preload,
        role=role,
    )


def statements_info(*, using: str = "default") -> StatementsInfo:
    """Return pg_stat_statements_info's deallocation count and last full reset."""
    return fetch_only_row(
        StatementsInfo,
        """
        SELECT dealloc AS dealloc,
               stats_reset AS stats_reset
        FROM pg_stat_statements_info
        """,
        using=using,
    )


def statement_counters(*, using: str = "default") -> list[StatementCounters]:
    """Return every top-level statement's counters (no texts: the cheap read a snapshot needs)."""
    # Nested statements (inside functions, with pg_stat_statements.track = all) are left out: their time is
    # already inside the top-level statement that called them, and counting both would double it.
    since = "s.stats_since" if server_version(using) >= STATS_SINCE_FROM else "NULL::timestamptz"
    return fetch_rows(
        StatementCounters,
        f"""
        SELECT s.dbid::bigint AS dbid,
               s.userid::bigint AS userid,
               s.queryid AS queryid,
               s.calls AS calls,
               s.total_exec_time + s.total_plan_time AS total_ms,
               s.rows AS rows,
               s.shared_blks_hit AS shared_blks_hit,
               s.shared_blks_read AS shared_blks_read,
               s.temp_blks_written AS temp_blks_written,
               {since} AS stats_since
        FROM pg_stat_statements(false) AS s
        WHERE s.toplevel
          AND s.queryid IS NOT NULL
        """,  # noqa: S608 -- `since` is one of two constant column expressions
        using=using,
    )


def statement_texts(queryids: Iterable[int], *, using: str = "default") -> dict[int, str]:
    """Return the normalized text of each of these statements the view still holds."""
    wanted = sorted(set(queryids))
    if not wanted:
        return {}
    with_text = fetch_rows(
        _Text,
        """
        SELECT DISTINCT ON (s.queryid)
               s.queryid AS queryid,
               s.query AS query
        FROM pg_stat_statements(true) AS s
        WHERE s.queryid = ANY(%(queryids)s)
          AND s.query IS NOT NULL
        ORDER BY s.queryid, s.toplevel DESC
        """,
        {"queryids": wanted},
        using=using,
    )
    return {row.queryid: row.query for row in with_text}


@dataclass(frozen=True, slots=True)
class _Text:
    queryid: int
    query: str


@dataclass(frozen=True, slots=True)
class OwnerNames:
    """Who a statement's counters belong to, by oid: every database, and every role that can log in."""

    databases: dict[int, str]
    roles: dict[int, str]


@dataclass(frozen=True, slots=True)
class _Owner:
    catalog: str
    oid: int
    name: str


def owner_names(*, using: str = "default") -> OwnerNames:
    """Return the names of the server's databases and login roles by oid (statements are counted per login role)."""
    rows = fetch_rows(
        _Owner,
        """
        SELECT 'pg_database' AS catalog,
               oid::bigint AS oid,
               datname::text AS name
        FROM pg_database
        UNION ALL
        SELECT 'pg_roles',
               oid::bigint,
               rolname::text
        FROM pg_roles
        WHERE rolcanlogin
        """,
        using=using,
    )
    names = OwnerNames(databases={}, roles={})
    for row in rows:
        (names.databases if row.catalog == "pg_database" else names.roles)[row.oid] = row.name
    return names


# PostgreSQL 18 computes a statement's queryid from the names of the tables it reads, not their oids: the same
# statement on a.orders and on b.orders is one entry, its text the first one seen.
QUERYID_BY_NAME_FROM = 180000


@dataclass(frozen=True, slots=True)
class _SameNamed:
    name: str
    schemas: tuple[str, ...]


def same_named_relations(names: Iterable[str], *, using: str = "default") -> dict[str, tuple[str, ...]]:
    """Return which of these relation names are in more than one schema of the database, with those schemas."""
    rows = fetch_rows(
        _SameNamed,
        """
        SELECT c.relname AS name,
               array_agg(n.nspname::text ORDER BY n.nspname) AS schemas
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relname = ANY(%(names)s::name[])
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND n.nspname <> 'information_schema'
          AND n.nspname !~ '^pg_(catalog|toast|temp_|toast_temp_)'
        GROUP BY c.relname
        HAVING count(*) > 1
        """,
        {"names": sorted(set(names))},
        using=using,
    )
    return {row.name: row.schemas for row in rows}


# What a list of statements may be sorted by (largest first): the order's name and the column it sorts on.
ORDERS = {
    "total": "total_ms",
    "mean": "mean_ms",
    "calls": "calls",
    "rows": "rows",
    "read": "shared_blks_read",
    "temp": "temp_blks_written",
}


def live_statements(
    *,
    order: str = "total",
    limit: int = 50,
    dbid: int | None = None,
    userid: int | None = None,
    using: str = "default",
) -> list[StatementTotals]:
    """Return the statements that cost most since the last reset (the live view), with their texts."""
    column = ORDERS[order]
    return fetch_rows(
        StatementTotals,
        f"""
        WITH counted AS (
            SELECT s.dbid::bigint AS dbid,
                   s.userid::bigint AS userid,
                   s.queryid AS queryid,
                   s.query AS query,
                   s.calls AS calls,
                   s.total_exec_time + s.total_plan_time AS total_ms,
                   (s.total_exec_time + s.total_plan_time) / NULLIF(s.calls, 0) AS mean_ms,
                   s.rows AS rows,
                   s.shared_blks_hit AS shared_blks_hit,
                   s.shared_blks_read AS shared_blks_read,
                   s.temp_blks_written AS temp_blks_written
            FROM pg_stat_statements(true) AS s
            WHERE s.toplevel
              AND s.queryid IS NOT NULL
              AND (CAST(%(dbid)s AS bigint) IS NULL OR s.dbid = CAST(%(dbid)s AS bigint))
              AND (CAST(%(userid)s AS bigint) IS NULL OR s.userid = CAST(%(userid)s AS bigint))
        )
        SELECT c.dbid AS dbid,
               c.userid AS userid,
               c.queryid AS queryid,
               coalesce(c.query, '') AS query,
               c.calls AS calls,
               c.total_ms AS total_ms,
               coalesce(c.mean_ms, 0) AS mean_ms,
               c.rows AS rows,
               c.shared_blks_hit AS shared_blks_hit,
               c.shared_blks_read AS shared_blks_read,
               c.temp_blks_written AS temp_blks_written,
               coalesce(c.total_ms / NULLIF(sum(c.total_ms) OVER (), 0), 0) AS share
        FROM counted AS c
        ORDER BY c.{column} DESC NULLS LAST, c.queryid
        LIMIT %(limit)s
        """,  # noqa: S608 -- the order column comes from ORDERS, never from input
        {"dbid": dbid, "userid": userid, "limit": limit},
        using=using,
    )
