"""Run EXPLAIN on a connection of its own: read-only, time-limited, as a low-privilege role, always rolled back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from schemaadmin.pg.connection import connection_params, fetch_one

__all__ = [
    "EXPLAIN_OPTIONS",
    "ExplainFailure",
    "ExplainOutput",
    "RoleState",
    "explain_role_state",
    "release_run_slot",
    "run_explain",
    "take_run_slot",
]

# The options a caller may switch on, with the server version (server_version_num) that first knows each.
EXPLAIN_OPTIONS: dict[str, int] = {
    "ANALYZE": 0,
    "BUFFERS": 0,
    "VERBOSE": 0,
    "SETTINGS": 120000,
    "WAL": 130000,
    "GENERIC_PLAN": 160000,
    "SERIALIZE": 170000,
    "MEMORY": 170000,
}


@dataclass(frozen=True, slots=True)
class ExplainOutput:
    plan: Any  # FORMAT JSON: a list holding one object; FORMAT TEXT: the lines joined
    role: str | None  # the role the statement ran as, None when the low-privilege role was not available
    server_version: int


@dataclass(slots=True)
class ExplainFailure(Exception):
    """The server refused or cancelled the statement; message is safe to show."""

    kind: str  # "error" or "timeout"
    message: str
    sqlstate: str = ""
    position: int | None = None  # 1-based character position in the statement the user wrote
    detail: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class RoleState:
    name: str
    exists: bool
    usable: bool  # the connecting user may SET ROLE to it


def explain_role_state(role: str, *, using: str = "default") -> RoleState:
    """Return whether the low-privilege EXPLAIN role exists and the connecting user may switch to it."""
    row = fetch_one(
        """
        SELECT
            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s) AS exists,
            COALESCE(
                (SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %(role)s),
                false
            ) AS usable
        """,
        {"role": role},
        using=using,
    )
    assert row is not None
    return RoleState(name=role, exists=bool(row[0]), usable=bool(row[1]))


# Conditions whose server message names only what the user wrote (identifiers, types, syntax), never row
# values; any other message could carry data ("invalid input syntax for type integer: <secret>").
_SAFE_CLASSES = ("42", "25", "0A", "54", "53", "57", "55", "3D", "3F")


def _failure(exc: psycopg.Error, *, statement_offset: int, timeout_ms: int, lock_timeout_ms: int) -> ExplainFailure:
    diag = exc.diag
    state = diag.sqlstate or ""
    if state == "57014":
        message = f"The statement was cancelled after {timeout_ms} ms (statement_timeout)."
        return ExplainFailure("timeout", message, state)
    if state == "55P03":
        message = f"The statement was cancelled after waiting {lock_timeout_ms} ms for a lock (lock_timeout)."
        return ExplainFailure("timeout", message, state)
    position = None
    if diag.statement_position:
        position = max(1, int(diag.statement_position) - statement_offset)
    if state[:2] in _SAFE_CLASSES:
        message = diag.message_primary or str(exc).strip().splitlines()[0]
        return ExplainFailure("error", message, state, position)
    name = type(exc).__name__
    return ExplainFailure(
        "error",
        f"The statement failed ({name}, SQLSTATE {state}). The server's message is withheld because it can "
        "contain values read from the data.",
        state,
        position,
    )


def run_explain(
    statement: str,
    *,
    options: dict[str, bool],
    text_format: bool = False,
    timeout_ms: int,
    lock_timeout_ms: int,
    role: str | None,
    planner_settings: dict[str, str] | None = None,
    using: str = "default",
) -> ExplainOutput:
    """EXPLAIN one statement on a new connection in a READ ONLY transaction, as role, then roll back and close.

    statement must already be known to be a single read-only query; this layer adds what the server enforces.
    Every failure, setting up included, comes back as an ExplainFailure with a message safe to show.
    """
    try:
        return _explain_on_new_connection(
            statement,
            options=options,
            text_format=text_format,
            timeout_ms=timeout_ms,
            lock_timeout_ms=lock_timeout_ms,
            role=role,
            planner_settings=planner_settings,
            using=using,
        )
    except psycopg.Error as exc:
        # Connecting, BEGIN, the settings or SET ROLE failed: nothing of the user's query ran.
        reason = (exc.diag.message_primary or str(exc) or type(exc).__name__).strip().splitlines()[0]
        raise ExplainFailure("error", f"The run could not be set up: {reason}", exc.diag.sqlstate or "") from None


def _explain_on_new_connection(
    statement: str,
    *,
    options: dict[str, bool],
    text_format: bool = False,
    timeout_ms: int,
    lock_timeout_ms: int,
    role: str | None,
    planner_settings: dict[str, str] | None = None,
    using: str = "default",
) -> ExplainOutput:
    params = connection_params(using)
    unknown = set(options) - set(EXPLAIN_OPTIONS)
    if unknown:
        raise ValueError(f"Unknown EXPLAIN options: {sorted(unknown)}")
    # A connection of its own, closed at the end: advisory locks, session settings, prepared statements and
    # temporary objects the statement could leave behind go with it.
    with psycopg.connect(**params, autocommit=True) as conn:
        version = conn.info.server_version
        wanted = [name for name, on in options.items() if on and version >= EXPLAIN_OPTIONS[name]]
        parts = [sql.SQL(name) for name in wanted] + [sql.SQL("FORMAT TEXT" if text_format else "FORMAT JSON")]
        prefix = sql.SQL("EXPLAIN ({}) ").format(sql.SQL(", ").join(parts)).as_string(conn)
        with conn.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                cur.execute(
                    """
                    SELECT
                        set_config('statement_timeout', %(timeout)s, true),
                        set_config('lock_timeout', %(lock_timeout)s, true),
                        set_config('idle_in_transaction_session_timeout', %(idle)s, true)
                    """,
                    {
                        "timeout": f"{timeout_ms}ms",
                        "lock_timeout": f"{lock_timeout_ms}ms",
                        "idle": f"{timeout_ms + 5000}ms",
                    },
                )
                for name, value in (planner_settings or {}).items():
                    cur.execute("SELECT set_config(%s, %s, true)", [name, value])
                if role:
                    cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
                try:
                    # With parameters psycopg would use the extended protocol, which refuses several statements
                    # at once; GENERIC_PLAN queries hold $1 placeholders the server must not try to bind, so
                    # they go through the simple protocol (the parser already made sure of one statement).
                    cur.execute(prefix + statement, prepare=False)
                    rows = cur.fetchall()
                except psycopg.Error as exc:
                    raise _failure(
                        exc, statement_offset=len(prefix), timeout_ms=timeout_ms, lock_timeout_ms=lock_timeout_ms
                    ) from None
            finally:
                if not conn.closed and not conn.broken:
                    conn.execute("ROLLBACK")
    plan: Any = "\n".join(row[0] for row in rows) if text_format else rows[0][0]
    return ExplainOutput(plan=plan, role=role, server_version=version)


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
