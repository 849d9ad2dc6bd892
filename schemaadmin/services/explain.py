"""EXPLAIN a user's query safely: one service for the page and the command, every run recorded.

Defence in depth, each layer on its own:
1. PostgreSQL's own parser (pglast): exactly one SELECT / VALUES / TABLE / WITH without data-modifying parts.
2. A READ ONLY transaction with statement, lock and idle timeouts, always rolled back (pg.explain).
3. SET LOCAL ROLE to a NOLOGIN role holding only read access (migration 0005), so superuser-only functions
   are refused by the server even when the app connects as a superuser.
4. A connection of its own per run, closed afterwards: no lock, setting or temporary object survives.
5. Limits on input size and concurrent runs per user; an ExplainRun and an AuditEvent for every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pglast
from pglast import ast
from pglast.parser import ParseError
from pglast.visitors import Visitor

from schemaadmin.audit import record
from schemaadmin.conf import app_settings
from schemaadmin.models import ExplainRun
from schemaadmin.pg.connection import server_version, validated_alias
from schemaadmin.pg.explain import (
    EXPLAIN_OPTIONS,
    ExplainFailure,
    explain_role_state,
    release_run_slot,
    run_explain,
    take_run_slot,
)
from schemaadmin.services.explain_summary import PlanSummary, plan_summary

__all__ = ["ExplainResult", "Refused", "checked_statement", "explain", "marked_position"]


class Refused(ValueError):
    """The input is not something this console runs; the message says why."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


@dataclass(slots=True)
class ExplainResult:
    run: ExplainRun
    outcome: str
    plan: Any = None
    summary: PlanSummary | None = None
    message: str = ""
    marked: str = ""  # the statement's line with a caret under the error position
    missing_layers: list[str] = field(default_factory=list)
    options: dict[str, bool] = field(default_factory=dict)  # the options the run used

    @property
    def ok(self) -> bool:
        return self.outcome == ExplainRun.Outcome.OK


_STATEMENT_NAMES = {
    "InsertStmt": "INSERT writes rows",
    "UpdateStmt": "UPDATE writes rows",
    "DeleteStmt": "DELETE writes rows",
    "MergeStmt": "MERGE writes rows",
    "CopyStmt": "COPY reads or writes files and tables",
    "DoStmt": "DO runs procedural code",
    "CallStmt": "CALL runs a procedure",
    "TransactionStmt": "transaction control would escape the read-only transaction the console runs in",
    "VariableSetStmt": "SET changes session settings",
    "LockStmt": "LOCK takes table locks",
    "ExplainStmt": "write the query without EXPLAIN; choose the options on the form",
    "CreateTableAsStmt": "CREATE TABLE AS creates a table, even inside a read-only transaction",
    "PrepareStmt": "PREPARE leaves a prepared statement behind",
    "ExecuteStmt": "EXECUTE runs a prepared statement",
    "DeallocateStmt": "DEALLOCATE changes session state",
    "DiscardStmt": "DISCARD changes session state",
    "ListenStmt": "LISTEN changes session state",
    "NotifyStmt": "NOTIFY sends a notification",
    "VacuumStmt": "VACUUM and ANALYZE change the database",
    "TruncateStmt": "TRUNCATE deletes rows",
    "GrantStmt": "GRANT changes privileges",
    "GrantRoleStmt": "GRANT changes privileges",
    "DeclareCursorStmt": "DECLARE opens a cursor",
    "FetchStmt": "FETCH reads a cursor",
    "CheckPointStmt": "CHECKPOINT is a server operation",
    "LoadStmt": "LOAD loads a shared library",
    "VariableShowStmt": "SHOW is not a query to explain",
}

_WRITING_NODES = {"InsertStmt": "INSERT", "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE", "MergeStmt": "MERGE"}


class _Inspector(Visitor):
    """Walk the whole tree: data-modifying parts, row locks, SELECT INTO and $n placeholders anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.problem: str | None = None
        self.parameters = False

    def visit(self, ancestors: Any, node: Any) -> None:
        name = type(node).__name__
        if name in _WRITING_NODES and self.problem is None:
            self.problem = f"The query contains {_WRITING_NODES[name]}, which writes data (a data-modifying WITH)."
        elif isinstance(node, ast.SelectStmt):
            if node.intoClause is not None and self.problem is None:
                self.problem = "SELECT … INTO creates a table, even inside a read-only transaction."
            if node.lockingClause and self.problem is None:
                self.problem = "FOR UPDATE / FOR SHARE takes row locks."
        elif isinstance(node, ast.ParamRef):
            self.parameters = True


def checked_statement(text: str, *, max_chars: int | None = None) -> tuple[str, bool]:
    """Return (the one statement in text, whether it holds $n placeholders), or raise Refused saying why."""
    limit = max_chars or app_settings()["EXPLAIN_MAX_SQL_CHARS"]
    if len(text) > limit:
        raise Refused(f"The query is {len(text):,} characters long; the limit is {limit:,}.")
    if not text.strip():
        raise Refused("Enter a query to explain.")
    try:
        statements = pglast.parse_sql(text)
    except ParseError as exc:
        message, index = (exc.args + (None,))[:2]
        raise Refused(f"Syntax error: {message}.", index + 1 if isinstance(index, int) else None) from None
    if len(statements) != 1:
        raise Refused(f"Enter exactly one statement; this text holds {len(statements)}.")
    raw = statements[0]
    name = type(raw.stmt).__name__
    if not isinstance(raw.stmt, ast.SelectStmt):
        why = _STATEMENT_NAMES.get(name, f"{name.removesuffix('Stmt')} is not a query")
        raise Refused(f"Only SELECT, WITH, VALUES and TABLE queries can be explained: {why}.")
    inspector = _Inspector()
    inspector(statements)
    if inspector.problem:
        raise Refused(inspector.problem)
    start = raw.stmt_location or 0
    statement = text[start : start + raw.stmt_len] if raw.stmt_len else text[start:]
    return statement.strip(), inspector.parameters


def marked_position(text: str, position: int | None) -> str:
    """Return the line of text holding the 1-based position, with a caret under it."""
    if not position:
        return ""
    before = text[: position - 1]
    line_start = before.rfind("\n") + 1
    line_end = text.find("\n", line_start)
    line = text[line_start : line_end if line_end != -1 else len(text)]
    column = position - 1 - line_start
    line_number = before.count("\n") + 1
    return f"line {line_number}: {line}\n{' ' * (len(str(line_number)) + 7 + column)}^"


def explain(
    text: str,
    *,
    user: Any = None,
    request: Any = None,
    options: dict[str, bool] | None = None,
    timeout_ms: int | None = None,
    using: str = "default",
    text_format: bool = False,
    ef_search: int | None = None,
) -> ExplainResult:
    """Check, run and record one EXPLAIN; refusals and failures come back as a result, never an exception."""
    conf = app_settings()
    using = validated_alias(using)
    options = {name: bool(on) for name, on in (options or {}).items() if name in EXPLAIN_OPTIONS}
    timeout_ms = min(int(timeout_ms or conf["EXPLAIN_TIMEOUT_MS"]), conf["EXPLAIN_MAX_TIMEOUT_MS"])
    user = user if user is not None else getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    planner_settings = {"hnsw.ef_search": str(int(ef_search))} if ef_search else {}
    result = _outcome(text, user, options, timeout_ms, using, text_format, conf, planner_settings)
    recorded_options: dict[str, Any] = {**{k: v for k, v in result.options.items() if v}, "timeout_ms": timeout_ms}
    recorded_options.update(planner_settings)
    if result.missing_layers:
        recorded_options["missing_layers"] = result.missing_layers
    result.run = ExplainRun.objects.create(
        user=user,
        database_alias=using,
        sql=text[: conf["EXPLAIN_MAX_SQL_CHARS"]],
        options=recorded_options,
        outcome=result.outcome,
        plan=result.plan if not text_format else {"text": result.plan},
        error=result.message if not result.ok else "",
        duration_ms=result.summary.execution_ms if result.summary else None,
    )
    record(
        request,
        "explain.run",
        f"explain:{result.run.pk}",
        actor=user,
        outcome=result.outcome,
        database=using,
        sql=text[:500],
        **({"reason": result.message[:300]} if not result.ok else {}),
    )
    return result


def _outcome(
    text: str,
    user: Any,
    options: dict[str, bool],
    timeout_ms: int,
    using: str,
    text_format: bool,
    conf: dict[str, Any],
    planner_settings: dict[str, str],
) -> ExplainResult:
    result = ExplainResult(run=None, outcome=ExplainRun.Outcome.REFUSED, options=options)  # type: ignore[arg-type]
    try:
        statement, has_parameters = checked_statement(text, max_chars=conf["EXPLAIN_MAX_SQL_CHARS"])
    except Refused as exc:
        result.message = str(exc)
        result.marked = marked_position(text, exc.position)
        return result
    if has_parameters and server_version(using) < 160000:
        result.message = (
            "Queries with $1 placeholders need PostgreSQL 16 or newer (EXPLAIN GENERIC_PLAN); "
            "put values in their place."
        )
        return result
    if has_parameters:
        # $1-style queries can only be planned generically; GENERIC_PLAN cannot be combined with ANALYZE.
        options = {**options, "GENERIC_PLAN": True, "ANALYZE": False, "WAL": False, "SERIALIZE": False}
    elif options.get("GENERIC_PLAN"):
        options = {**options, "GENERIC_PLAN": False}
    if not options.get("ANALYZE"):
        options = {**options, "WAL": False, "SERIALIZE": False}
    result.options = options
    role_name = conf["EXPLAIN_ROLE"]
    role = explain_role_state(role_name, using=using)
    if not role.usable:
        result.missing_layers.append(
            f"low-privilege role: {role_name!r} "
            + ("exists but this connection may not switch to it" if role.exists else "does not exist")
            + "; the query runs with the application's own privileges"
        )
    slot = None
    if user is not None:
        limit = conf["EXPLAIN_CONCURRENT_RUNS_PER_USER"]
        slot = take_run_slot(user.pk, limit)
        if slot is None:
            result.message = f"You already have {limit} EXPLAIN runs in progress; wait for one to finish."
            return result
    offset = text.find(statement)
    try:
        output = run_explain(
            statement,
            options=options,
            text_format=text_format,
            timeout_ms=timeout_ms,
            lock_timeout_ms=min(conf["EXPLAIN_LOCK_TIMEOUT_MS"], timeout_ms),
            role=role_name if role.usable else None,
            planner_settings=planner_settings,
            using=using,
        )
    except ExplainFailure as failure:
        result.outcome = ExplainRun.Outcome.TIMEOUT if failure.kind == "timeout" else ExplainRun.Outcome.ERROR
        result.message = failure.message
        if failure.position:
            result.marked = marked_position(text, failure.position + max(offset, 0))
        return result
    finally:
        if slot is not None:
            release_run_slot(slot)
    result.outcome = ExplainRun.Outcome.OK
    result.plan = output.plan
    if not text_format:
        result.summary = plan_summary(output.plan, large_table_rows=conf["SEQUENTIAL_SCAN_MIN_ROWS"])
    return result
