"""The first layer of the EXPLAIN console: what it accepts as a statement, by PostgreSQL's own parser (pglast).

Exactly one SELECT / VALUES / TABLE / WITH without data-modifying parts, row locks or SELECT INTO, no NUL bytes,
nested no deeper than the checks can walk. Anything else is Refused with a sentence (and, for a syntax error, the
position to mark).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pglast
from pglast import ast
from pglast.parser import ParseError
from pglast.visitors import Visitor

from schemaadmin.conf import app_settings

__all__ = [
    "TOO_DEEP",
    "Refused",
    "checked_statement",
    "explain_refusal",
    "marked_position",
    "parsed_statement",
    "text_refusal",
    "walk_nodes",
]


class Refused(ValueError):
    """The input is not something this console runs; the message says why."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


TOO_DEEP = "The query nests too deeply to be checked; write it with fewer levels of parentheses or subqueries."

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
    statement, has_parameters, _ = parsed_statement(text, max_chars=max_chars)
    return statement, has_parameters


# What the console says of a $1-style query on a server that cannot plan it generically.
GENERIC_PLAN_FROM = 160000
NEEDS_VALUES = (
    "Queries with $1 placeholders need PostgreSQL 16 or newer (EXPLAIN GENERIC_PLAN); put values in their place."
)


def explain_refusal(text: str, *, server_version: int = GENERIC_PLAN_FROM) -> str:
    """Return why the console would refuse text on a server of that version, in its sentence, or "" when it would
    explain it (a parse, no database: what a page asks before it offers to open the console with text)."""
    try:
        _statement, has_parameters = checked_statement(text)
    except Refused as refused:
        return str(refused)
    return NEEDS_VALUES if has_parameters and server_version < GENERIC_PLAN_FROM else ""


def text_refusal(text: str, *, max_chars: int | None = None) -> Refused | None:
    """Return why text is not a query yet (over the length limit, empty, a NUL or a character that is not Unicode),
    before it is parsed: what the console's form answers without recording a run; or None."""
    limit = max_chars or app_settings()["EXPLAIN_MAX_SQL_CHARS"]
    if len(text) > limit:
        return Refused(f"The query is {len(text):,} characters long; the limit is {limit:,}.")
    if not text.strip():
        return Refused("Enter a query to explain.")
    if "\x00" in text:
        # PostgreSQL takes no NUL in query text (nor in a stored record): say so rather than fail on it.
        return Refused(
            "The query holds a NUL character (\\0), which PostgreSQL does not accept.", text.index("\x00") + 1
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return Refused("The query holds a character that is not valid Unicode.", exc.start + 1)
    return None


def parsed_statement(text: str, *, max_chars: int | None = None) -> tuple[str, bool, ast.Node]:
    """Return the one statement in text, whether it holds $n placeholders and its parse tree; or raise Refused."""
    if refusal := text_refusal(text, max_chars=max_chars):
        raise refusal
    try:
        statements = pglast.parse_sql(text)
        raw = statements[0] if len(statements) == 1 else None
        inspector = _Inspector()
        if raw is not None:
            inspector(statements)
    except ParseError as exc:
        message, index = (exc.args + (None,))[:2]
        if "memory exhausted" in str(message) or "stack depth" in str(message):
            raise Refused(TOO_DEEP) from None
        raise Refused(f"Syntax error: {message}.", index + 1 if isinstance(index, int) else None) from None
    except RecursionError:
        raise Refused(TOO_DEEP) from None
    if raw is None:
        raise Refused(f"Enter exactly one statement; this text holds {len(statements)}.")
    name = type(raw.stmt).__name__
    if not isinstance(raw.stmt, ast.SelectStmt):
        why = _STATEMENT_NAMES.get(name, f"{name.removesuffix('Stmt')} is not a query")
        raise Refused(f"Only SELECT, WITH, VALUES and TABLE queries can be explained: {why}.")
    if inspector.problem:
        raise Refused(inspector.problem)
    start = raw.stmt_location or 0
    statement = text[start : start + raw.stmt_len] if raw.stmt_len else text[start:]
    return statement.strip(), inspector.parameters, raw.stmt


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


def walk_nodes(root: ast.Node | None) -> Iterator[ast.Node]:
    """Yield every node under root (none under None), root first, in the order the query writes them: a stack,
    never recursion."""
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            yield item
            children = [getattr(item, slot, None) for slot in getattr(type(item), "__slots__", ())]
        elif isinstance(item, (list, tuple)):
            children = list(item)
        else:
            continue
        stack.extend(child for child in reversed(children) if isinstance(child, (ast.Node, list, tuple)))
