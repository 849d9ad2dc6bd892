"""Live activity: the server's sessions, who blocks whom, its locks summarised, its connection slots; signals.

Everything here reads the server's shared memory, not tables, and keeps Python's share bounded whatever the load:
sessions come back at most `limit` at a time with their query text cut server-side to `query_chars`, and locks are
counted by PostgreSQL (GROUP BY), never fetched one row per lock; the reading session's own locks (the catalog
it opens to answer) are left out. pg_blocking_pids() takes the lock manager's
partition locks, so it is called only for sessions waiting on a lock, once per sessions() call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, transaction
from psycopg import errors

from schemaadmin.pg.connection import cursor, fetch_only_row, fetch_row, fetch_rows

__all__ = [
    "ConnectionCount",
    "ConnectionSlots",
    "LockCount",
    "LockSummaryRows",
    "RelationLocks",
    "Session",
    "SignalRefused",
    "cancel_backend",
    "connection_counts",
    "connection_slots",
    "lock_summary",
    "session",
    "sessions",
    "terminate_backend",
]

# The largest value PostgreSQL's integer pid argument takes.
MAX_PID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Session:
    pid: int
    database: str | None  # None for background processes
    role: str | None
    application: str
    client: str  # host:port, "local" for a unix socket, "" for a background process
    backend_type: str
    state: str | None  # active, idle, idle in transaction, ...; None for background processes
    wait_event_type: str | None
    wait_event: str | None
    query: str  # the latest statement, cut to query_chars characters
    query_truncated: bool
    backend_start: datetime | None
    xact_start: datetime | None
    query_start: datetime | None
    state_change: datetime | None
    query_seconds: float | None  # since query_start
    xact_seconds: float | None  # since xact_start
    state_seconds: float | None  # since state_change
    blocked_by: tuple[int, ...]  # pids holding or queued ahead for the lock this session waits on
    is_current: bool  # the backend that ran this statement
    needs_superuser: bool  # its role is a superuser and the connecting role is not: PostgreSQL refuses signals
    our_role: bool  # connected as the role reading this, or as one of the roles named ours (the console's)


# Ordered so that a page cut at `limit` keeps what matters: sessions waiting on locks, then active ones, oldest
# transactions first, then the rest.
_SESSION_SELECT = """
    SELECT
        a.pid AS pid,
        a.datname AS database,
        a.usename AS role,
        a.application_name AS application,
        CASE
            WHEN a.client_addr IS NOT NULL THEN host(a.client_addr) || ':' || a.client_port
            WHEN a.client_port = -1 THEN 'local'
            ELSE ''
        END AS client,
        a.backend_type AS backend_type,
        a.state AS state,
        a.wait_event_type AS wait_event_type,
        a.wait_event AS wait_event,
        left(COALESCE(a.query, ''), %(query_chars)s) AS query,
        length(COALESCE(a.query, '')) > %(query_chars)s AS query_truncated,
        a.backend_start AS backend_start,
        a.xact_start AS xact_start,
        a.query_start AS query_start,
        a.state_change AS state_change,
        EXTRACT(EPOCH FROM clock_timestamp() - a.query_start)::float8 AS query_seconds,
        EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start)::float8 AS xact_seconds,
        EXTRACT(EPOCH FROM clock_timestamp() - a.state_change)::float8 AS state_seconds,
        CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) ELSE '{}'::integer[] END AS blocked_by,
        a.pid = pg_backend_pid() AS is_current,
        COALESCE(a.usename = session_user OR a.usename = ANY(%(our_roles)s::text[]), false) AS our_role,
        COALESCE(r.rolsuper, false) AND NOT (
            SELECT rolsuper FROM pg_roles WHERE rolname = current_user
        ) AS needs_superuser
    FROM pg_stat_activity AS a
    LEFT JOIN pg_roles AS r ON r.oid = a.usesysid
"""


def sessions(
    *, limit: int = 1000, query_chars: int = 2000, our_roles: Sequence[str] = (), using: str = "default"
) -> list[Session]:
    """Return the server's sessions (at most limit): lock waiters first, then active ones by transaction age;
    our_role says who connected as the reading role or one of our_roles."""
    return fetch_rows(
        Session,
        _SESSION_SELECT
        + """
        ORDER BY
            a.wait_event_type IS NOT DISTINCT FROM 'Lock' DESC,
            a.state IS NOT DISTINCT FROM 'active' DESC,
            a.xact_start ASC NULLS LAST,
            a.backend_start ASC NULLS LAST,
            a.pid
        LIMIT %(limit)s
        """,
        {"limit": limit, "query_chars": query_chars, "our_roles": list(our_roles)},
        using=using,
    )


def session(
    pid: int, *, query_chars: int = 2000, our_roles: Sequence[str] = (), using: str = "default"
) -> Session | None:
    """Return the session of backend pid, or None when no such backend is running."""
    if not 0 < pid <= MAX_PID:
        return None
    return fetch_row(
        Session,
        _SESSION_SELECT + "\n    WHERE a.pid = %(pid)s",
        {"pid": pid, "query_chars": query_chars, "our_roles": list(our_roles)},
        using=using,
    )


@dataclass(frozen=True, slots=True)
class ConnectionSlots:
    total: int  # client backends connected now
    max_connections: int
    reserved: int  # superuser_reserved_connections + reserved_connections (PostgreSQL 16+)

    @property
    def available(self) -> int:
        """Return the slots roles without reserved-connection rights may fill."""
        return max(self.max_connections - self.reserved, 0)


def connection_slots(*, using: str = "default") -> ConnectionSlots:
    """Return how many client connections are open against max_connections and its reserved slots."""
    return fetch_only_row(
        ConnectionSlots,
        """
        SELECT
            (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::integer AS total,
            current_setting('max_connections')::integer AS max_connections,
            (
                current_setting('superuser_reserved_connections')::integer
                + COALESCE(current_setting('reserved_connections', true)::integer, 0)
            ) AS reserved
        """,
        using=using,
    )


@dataclass(frozen=True, slots=True)
class ConnectionCount:
    dimension: str  # state, role or application
    value: str
    sessions: int


def connection_counts(*, using: str = "default") -> list[ConnectionCount]:
    """Return client connections counted by state, by role and by application, most first in each."""
    return fetch_rows(
        ConnectionCount,
        """
        WITH clients AS (
            SELECT state, usename, application_name
            FROM pg_stat_activity
            WHERE backend_type = 'client backend'
        )
        SELECT dimension, value, sessions
        FROM (
            SELECT 'state' AS dimension, COALESCE(state, 'unknown') AS value, count(*)::integer AS sessions
            FROM clients GROUP BY state
            UNION ALL
            SELECT 'role', COALESCE(usename, ''), count(*)::integer
            FROM clients GROUP BY usename
            UNION ALL
            SELECT 'application', application_name, count(*)::integer
            FROM clients GROUP BY application_name
        ) AS counted
        ORDER BY dimension, sessions DESC, value
        """,
        using=using,
    )


@dataclass(frozen=True, slots=True)
class LockCount:
    locktype: str
    mode: str
    granted: bool
    locks: int


@dataclass(frozen=True, slots=True)
class RelationLocks:
    relation: str  # schema.name, or "database <oid>, relation <oid>" for another database's relation
    locks: int
    waiting: int
    modes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LockSummaryRows:
    counts: tuple[LockCount, ...]  # by type, mode and granted: a few dozen rows whatever the number of locks
    relations: tuple[RelationLocks, ...]  # the relations with waiting or most locks, at most the limit


def _lock_counts(items: list[dict] | None) -> tuple[LockCount, ...]:
    return tuple(LockCount(**item) for item in items or ())


def _relation_locks(items: list[dict] | None) -> tuple[RelationLocks, ...]:
    return tuple(RelationLocks(**{**item, "modes": tuple(item["modes"])}) for item in items or ())


def lock_summary(*, relation_limit: int = 20, using: str = "default") -> LockSummaryRows:
    """Return every other session's locks counted by type, mode and granted, and the most locked relations.

    pg_locks is a function that copies the whole lock table on each read (50,000 rows under load): it is read once
    here, into a materialized CTE both summaries count from, and relations are named only for the few kept.
    """
    return fetch_only_row(
        LockSummaryRows,
        """
        WITH l AS MATERIALIZED (
            SELECT locktype, mode, granted, database, relation
            FROM pg_locks
            WHERE pid IS DISTINCT FROM pg_backend_pid()
        ),
        by_mode AS (
            SELECT locktype, mode, granted, count(*)::integer AS locks
            FROM l
            GROUP BY locktype, mode, granted
        ),
        by_relation AS (
            SELECT
                database AS database_oid,
                relation AS relation_oid,
                count(*)::integer AS locks,
                (count(*) FILTER (WHERE NOT granted))::integer AS waiting,
                array_agg(DISTINCT mode ORDER BY mode) AS modes
            FROM l
            WHERE locktype = 'relation'
            GROUP BY database, relation
            ORDER BY waiting DESC, locks DESC
            LIMIT %(limit)s
        ),
        named AS (
            SELECT
                COALESCE(
                    quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                    'database ' || r.database_oid || ', relation ' || r.relation_oid
                ) AS relation,
                r.locks,
                r.waiting,
                r.modes
            FROM by_relation AS r
            LEFT JOIN pg_class AS c
                ON c.oid = r.relation_oid
                AND r.database_oid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
            LEFT JOIN pg_namespace AS n ON n.oid = c.relnamespace
        )
        SELECT
            (
                SELECT json_agg(json_build_object(
                    'locktype', locktype, 'mode', mode, 'granted', granted, 'locks', locks
                ) ORDER BY locks DESC, locktype, mode)
                FROM by_mode
            ) AS counts,
            (
                SELECT json_agg(json_build_object(
                    'relation', relation, 'locks', locks, 'waiting', waiting, 'modes', modes
                ) ORDER BY waiting DESC, locks DESC, relation)
                FROM named
            ) AS relations
        """,
        {"limit": relation_limit},
        using=using,
        convert={"counts": _lock_counts, "relations": _relation_locks},
    )


class SignalRefused(PermissionError):
    """PostgreSQL refused to signal the backend: the connecting role may not."""


# With started, only the session that began then: a pid ended and handed to a new backend is not signalled.
_WHICH_SESSION = """
    FROM pg_stat_activity
    WHERE pid = %(pid)s AND (%(started)s::timestamptz IS NULL OR backend_start = %(started)s::timestamptz)
"""
_CANCEL = "SELECT pg_cancel_backend(pid)" + _WHICH_SESSION
_TERMINATE = "SELECT pg_terminate_backend(pid)" + _WHICH_SESSION


def _signal(statement: str, pid: int, started: datetime | None, using: str) -> bool:
    if not 0 < pid <= MAX_PID:
        return False
    try:
        # A savepoint inside a caller's transaction, so a refusal leaves that transaction usable.
        with transaction.atomic(using=using), cursor(using) as cur:
            cur.execute(statement, {"pid": pid, "started": started})
            row = cur.fetchone()
    except DatabaseError as exc:
        refused = exc.__cause__ if isinstance(exc.__cause__, errors.InsufficientPrivilege) else None
        if refused is None:
            raise
        detail = refused.diag.message_detail or ""
        raise SignalRefused(f"{refused.diag.message_primary}. {detail}".strip()) from exc
    return bool(row and row[0])


def cancel_backend(pid: int, *, started: datetime | None = None, using: str = "default") -> bool:
    """Cancel the statement backend pid runs (only if it started at started, when given); False when no such
    backend."""
    return _signal(_CANCEL, pid, started, using)


def terminate_backend(pid: int, *, started: datetime | None = None, using: str = "default") -> bool:
    """End backend pid's session (only if it started at started, when given), rolling back its transaction; False
    when no such backend."""
    return _signal(_TERMINATE, pid, started, using)
