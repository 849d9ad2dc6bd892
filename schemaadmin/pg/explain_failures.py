"""What an EXPLAIN run that failed may tell its user: the failure, and which server messages are safe to show.

A statement that fails while planning can only be named by what the user wrote, in most classes of condition; one
that fails while running can quote values read from the data in any class, so its message is withheld.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg

__all__ = [
    "CANCELLED",
    "TERMINATED",
    "ExplainFailure",
    "condition_name",
    "limit_failure",
    "names_only_what_was_written",
    "planning_failure",
    "stopped_failure",
    "withheld",
]


@dataclass(slots=True)
class ExplainFailure(Exception):
    """The server refused or cancelled the statement; message is safe to show."""

    kind: str  # "error", "timeout" or "cancelled" (by another session: a cancel or a terminate)
    message: str
    sqlstate: str = ""
    position: int | None = None  # 1-based character position in the statement the user wrote
    detail: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def condition_name(sqlstate: str) -> str:
    """Return PostgreSQL's name of a condition (undefined_table for 42P01), or the code when psycopg lacks it."""
    try:
        cls = psycopg.errors.lookup(sqlstate)
    except KeyError:
        return "unknown_condition"
    codes: dict[str, type] = getattr(psycopg.errors, "_sqlcodes", {})
    for name, known in codes.items():
        if known is cls and name != sqlstate:
            return name.lower()
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


# Conditions whose server message, when planning fails, names only what the user wrote (identifiers, types,
# syntax) and no row values. An error while executing can carry data in any class: `quote_ident(<a row's email>)
# ::regclass` fails with `relation "<the email>" does not exist`, an undefined_table like any other.
_PLANNING_SAFE_CLASSES = ("42", "25", "0A", "54", "53", "57", "55", "3D", "3F")

# Words of the type names PostgreSQL prints in "operator does not exist: integer = text" and the like.
_TYPE_WORDS = frozenset(
    """
    integer bigint smallint text numeric boolean real double precision character varying char varchar bpchar
    timestamp timestamptz with without time zone date interval uuid json jsonb bytea unknown vector halfvec
    sparsevec oid name record bit inet cidr macaddr money point tsvector tsquery xml regclass regtype anyelement
    anyarray anynonarray anycompatible void cstring int2 int4 int8 float4 float8 array
    """.split()
)


def names_only_what_was_written(message: str, statement: str) -> bool:
    """Return whether every name the message quotes or lists also appears in the statement the user wrote."""
    written = statement.lower()
    for quoted in re.findall(r'"([^"]*)"', message):
        if quoted.lower() not in written:
            return False
    unquoted = re.sub(r'"[^"]*"', "", message)
    function = re.match(r"(?:function|procedure|aggregate) ([^\s(]+)\(", unquoted)
    if function and function.group(1).lower() not in written:
        return False
    if ": " in unquoted:
        tail = unquoted.split(": ", 1)[1]
        for word in re.findall(r"\w+", tail.lower()):
            if word not in _TYPE_WORDS and word not in written:
                return False
    return True


def withheld(state: str, *, when: str) -> str:
    """Return the message shown instead of the server's when it may carry values read from the data."""
    return (
        f"The query failed while {when}: {condition_name(state)} (SQLSTATE {state}). The server's message is "
        "withheld because it can contain values read from the data."
    )


# PostgreSQL's primary messages (ProcessInterrupts in postgres.c, proc.c) for a statement stopped from outside its
# own work. One SQLSTATE, 57014 query_canceled, is given for a statement_timeout and for a cancel request alike
# (pg_cancel_backend, from the Activity page or anywhere else); only the message tells them apart.
STATEMENT_TIMEOUT_MESSAGE = "canceling statement due to statement timeout"
CANCEL_REQUEST_MESSAGE = "canceling statement due to user request"
LOCK_TIMEOUT_MESSAGE = "canceling statement due to lock timeout"

CANCELLED = (
    "The statement was cancelled by another session (pg_cancel_backend, e.g. from the Activity page) before it "
    "finished."
)
TERMINATED = (
    "The statement's session was terminated (pg_terminate_backend from another session, e.g. from the Activity "
    "page, or the server shutting down) before the statement finished."
)


def stopped_failure(
    state: str, message: str, *, timeout_ms: int, lock_timeout_ms: int, ran_ms: float
) -> ExplainFailure | None:
    """Return the failure of a statement stopped from outside: by its statement_timeout or lock_timeout ("timeout"),
    or cancelled or its session terminated by another session ("cancelled"); else None.

    message is the server's primary message. Where lc_messages translates it, a 57014 that came before the
    statement had run for timeout_ms cannot be its statement_timeout (ran_ms: how long it had run)."""
    message = message.strip()
    # lock_timeout's own SQLSTATE is 55P03 lock_not_available, which a read-only query without row locks gets from
    # nothing else (NOWAIT needs FOR UPDATE).
    if state == "55P03" or message == LOCK_TIMEOUT_MESSAGE:
        said = f"The statement was cancelled after waiting {lock_timeout_ms} ms for a lock (lock_timeout)."
        return ExplainFailure("timeout", said, state)
    if state == "57014":
        if message == CANCEL_REQUEST_MESSAGE or (message != STATEMENT_TIMEOUT_MESSAGE and ran_ms < timeout_ms):
            return ExplainFailure("cancelled", CANCELLED, state)
        return ExplainFailure(
            "timeout", f"The statement was cancelled after {timeout_ms} ms (statement_timeout).", state
        )
    # admin_shutdown: pg_terminate_backend and a server shutdown alike ("terminating connection due to
    # administrator command"); nothing in it is read from the data, unlike what a failure while running may say.
    if state == "57P01":
        return ExplainFailure("cancelled", TERMINATED, state)
    return None


# Server limits a run can reach, said in the console's words (their messages carry sizes and settings, no data, but
# a bare SQLSTATE said nothing of what to change).
_NARROW_IT = "Narrow it (a WHERE, a LIMIT, fewer rows joined or aggregated) and run it again."
_LIMITS = {
    "53400": (
        "it wrote more temporary files than the console allows (temp_file_limit {temp_file_limit}): a sort, hash or "
        "materialized step spilled that much to disk",
        _NARROW_IT,
    ),
    # One SQLSTATE for every fixed limit: a NUL character (chr(0)) in a text is one as much as a value of 1 GB.
    "54000": (
        "it went past one of PostgreSQL's fixed limits: a value larger than it can hold (1 GB for a text, an array "
        "or a row), a NUL character (chr(0)) in a text, or too many columns or arguments",
        "Narrow it (a WHERE, a LIMIT, fewer rows joined or aggregated, fewer columns), or leave the NUL character "
        "out, and run it again.",
    ),
    "53200": ("the server ran out of memory for it", _NARROW_IT),
    "53100": ("the server's disk is full", _NARROW_IT),
}


def limit_failure(state: str, *, temp_file_limit: str | None) -> ExplainFailure | None:
    """Return the failure of a statement a server limit stopped (temporary files, value size, memory, disk), said as
    what was reached and what to change, else None."""
    said = _LIMITS.get(state)
    if said is None:
        return None
    reached, advice = said
    reached = reached.format(temp_file_limit=temp_file_limit or "of the console's database role")
    return ExplainFailure(
        "error", f"The query was stopped: {reached} ({condition_name(state)}, SQLSTATE {state}). {advice}", state
    )


def planning_failure(exc: psycopg.Error, *, statement: str, statement_offset: int) -> ExplainFailure:
    """Return the failure of a statement that failed before running: its message when it can only name input."""
    diag = exc.diag
    state = diag.sqlstate or ""
    position = None
    if diag.statement_position:
        position = max(1, int(diag.statement_position) - statement_offset)
    message = (diag.message_primary or "").strip()
    if state[:2] in _PLANNING_SAFE_CLASSES and message and names_only_what_was_written(message, statement):
        return ExplainFailure("error", message, state, position)
    return ExplainFailure("error", withheld(state, when="being planned"), state, position)
