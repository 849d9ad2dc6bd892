"""Allow-list what a console query may call: every function and operator in its parse tree, judged by the catalog.

The console runs a DBA's query read-only, rolled back, as a low-privilege role; this layer holds on its own where
those do not. A role switch is one set_config('role', …) away, and functions that plan SQL text at run time
(ts_stat, query_to_xml, …) check privileges as the session user, not the role. So it refuses, with a sentence:

- functions named in _REFUSED, whatever the catalog says of them (some are only STABLE);
- any function, or operator's function, with a VOLATILE overload, except the few in _VOLATILE_ALLOWED;
- SECURITY DEFINER functions, and names the catalog does not know;
- casts of computed values to reg* types: a failed lookup's error message repeats the value;
- repeat(), lpad(), rpad(), array_fill() and format() asked for a value above MAX_BUILT_BYTES, and the first four
  given a size computed at run time.

The size guard is coarse: it reads constants only. The server's memory is the real bound: SELECT
length(repeat('x', 1000000000)) held 0.87 GB and ran 18 s past a 10 s statement_timeout. Aggregates (array_agg
over generate_series) grow until the statement_timeout stops them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

from pglast import ast, enums

from schemaadmin.conf import app_settings
from schemaadmin.pg.functions import Overload, RoutineName, overloads
from schemaadmin.services.explain.statement import walk_nodes

__all__ = ["MAX_BUILT_BYTES", "function_refusal"]

# Refused by name in any schema, each family with what it would do. Most are VOLATILE and would be refused anyway;
# the list names the reason, and holds those the catalog calls STABLE or IMMUTABLE: table_to_xml and friends run
# SQL, pg_current_xact_id assigns a transaction id, the three-argument ts_rewrite is as dangerous as the two.
_REFUSED: tuple[tuple[tuple[str, ...], str], ...] = (
    (("set_config",), "changes settings inside the run, the role among them"),
    (
        ("ts_stat", "ts_rewrite", "*_to_xml*", "dblink*", "xpath_table", "xslt_process", "crosstab*", "connectby"),
        "runs SQL text of its own, checked as the session user rather than the console's role",
    ),
    (("pg_read_*", "pg_ls_*", "pg_stat_file", "pg_file_*", "lo_import", "lo_export"), "reads or writes server files"),
    (("lo_*", "loread", "lowrite"), "reads or writes large objects"),
    (
        (
            "pg_logical_emit_message",
            "pg_*replication_slot*",
            "pg_logical_slot_*",
            "pg_replication_origin_*",
            "pg_switch_wal",
            "pg_create_restore_point",
            "pg_log_standby_snapshot",
            "pg_backup_*",
            "pg_wal_replay_*",
            "pg_promote",
        ),
        "writes WAL or changes replication",
    ),
    (("pg_*_backend", "pg_log_backend_memory_contexts"), "signals other server processes"),
    (
        (
            "pg_stat_*reset*",
            "pg_restore_*_stats",
            "pg_clear_*_stats",
            "pg_reload_conf",
            "pg_rotate_logfile",
            "pg_import_system_collations",
            "pg_prewarm",
            "autoprewarm_*",
            "binary_upgrade_*",
            "brin_*summarize*",
            "gin_clean_pending_list",
        ),
        "changes the server's state, statistics or indexes",
    ),
    (("pg_advisory*", "pg_try_advisory*"), "takes advisory locks"),
    (("pg_current_xact_id", "txid_current", "pg_export_snapshot"), "assigns a transaction id or exports a snapshot"),
    (("nextval", "setval"), "advances a sequence, which no rollback undoes"),
    (("pg_notify",), "sends a notification"),
)

# VOLATILE in pg_catalog, yet they change nothing: their answer varies from call to call, or they wait. pg_sleep is
# bounded by the run's statement_timeout, and timing is shown by EXPLAIN ANALYZE anyway. The size functions read
# file sizes; the dashboard's own catalog queries call them.
_VOLATILE_ALLOWED = frozenset(
    {
        "random",
        "random_normal",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "array_shuffle",
        "array_sample",
        "clock_timestamp",
        "timeofday",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "pg_relation_size",
        "pg_table_size",
        "pg_indexes_size",
        "pg_total_relation_size",
    }
)

# Input functions of these types look a name up in the catalog; a failed lookup's message ("relation "…" does not
# exist") repeats the value, so a cast of data to one of them reads the data out. Written names are fine, and so
# are the catalogs' oid columns (c.oid::regclass, indexrelid::regclass): an oid is never looked up by name.
_NAME_TYPES = frozenset(
    {
        "regclass",
        "regcollation",
        "regconfig",
        "regdictionary",
        "regnamespace",
        "regoper",
        "regoperator",
        "regproc",
        "regprocedure",
        "regrole",
        "regtype",
    }
)

_OID_COLUMN_ENDINGS = ("oid", "relid", "objid", "classid", "typid")

# The largest value repeat() and its like may be asked to build from constants: 10 MB.
MAX_BUILT_BYTES = 10 * 1024 * 1024
# Which argument of each value-building function gives the size of what it builds.
_SIZE_ARGUMENT = {"repeat": 1, "lpad": 1, "rpad": 1, "array_fill": 1}
_FORMAT_WIDTH = re.compile(r"%(?:\d+\$)?-?(\d+)")
# A_Expr kinds whose name is not an operator (BETWEEN expands to two comparisons the parser picks).
_NOT_OPERATORS = {
    enums.A_Expr_Kind.AEXPR_BETWEEN,
    enums.A_Expr_Kind.AEXPR_NOT_BETWEEN,
    enums.A_Expr_Kind.AEXPR_BETWEEN_SYM,
    enums.A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM,
}


def function_refusal(stmt: ast.Node, *, using: str = "default") -> str | None:
    """Return a sentence naming the first function or operator the statement may not call, or None."""
    names: dict[RoutineName, None] = {}  # in the order the query writes them
    # What needs no catalog is judged on the way; the catalog is asked once, about every other name.
    for node in walk_nodes(stmt):
        refusal = _local_refusal(node, names)
        if refusal:
            return refusal
    if not names:
        return None
    found: dict[RoutineName, list[Overload]] = {name: [] for name in names}
    for overload in overloads(list(names), search_schemas=app_settings()["APP_SCHEMAS"], using=using):
        found[RoutineName(overload.kind, overload.written_schema, overload.name)].append(overload)
    for name, matches in found.items():
        refusal = _catalog_refusal(name, matches)
        if refusal:
            return refusal
    return None


def _local_refusal(node: ast.Node, names: dict[RoutineName, None]) -> str | None:
    """Judge what needs no catalog; note in names what does."""
    if isinstance(node, ast.FuncCall):
        *schema, name = _strings(node.funcname)
        written = _display(schema, name)
        refusal = _refused_by_name(name, written) or _size_refusal(name, written, node.args or ())
        if refusal:
            return refusal
        if name in _NAME_TYPES and node.args and not all(_is_literal(arg) for arg in node.args):
            return _name_type_refusal(name)
        names[RoutineName("function", schema[-1] if schema else None, name)] = None
    elif isinstance(node, ast.A_Expr) and node.kind not in _NOT_OPERATORS:
        _note_operator(node.name, names)
    elif isinstance(node, ast.SubLink) and node.operName:
        _note_operator(node.operName, names)
    elif isinstance(node, ast.SortBy) and node.useOp:
        _note_operator(node.useOp, names)
    elif isinstance(node, ast.TypeCast) and node.typeName is not None:
        type_name = _strings(node.typeName.names)[-1]
        if type_name in _NAME_TYPES and not (_is_literal(node.arg) or _is_oid_column(node.arg)):
            return _name_type_refusal(type_name)
    elif isinstance(getattr(node, "typeName", None), ast.TypeName):
        # A column definition list, an XMLTABLE or JSON_TABLE column: data turned into the type, never a literal.
        type_name = _strings(node.typeName.names)[-1]  # type: ignore[attr-defined]
        if type_name in _NAME_TYPES:
            return _name_type_refusal(type_name)
    elif isinstance(node, ast.ColumnRef):
        # t.f is f(t) when f is a one-argument function: attribute notation.
        for field in _strings(node.fields)[1:]:
            names[RoutineName("attribute", None, field)] = None
    elif isinstance(node, ast.A_Indirection):
        for field in node.indirection or ():
            if isinstance(field, ast.String) and field.sval:
                names[RoutineName("attribute", None, field.sval)] = None
    return None


def _catalog_refusal(name: RoutineName, matches: list[Overload]) -> str | None:
    schema = [name.schema] if name.schema else []
    written = ".".join([*schema, name.name]) if name.kind == "operator" else _display(schema, name.name)
    if not matches:
        if name.kind == "attribute":
            return None  # a column or a field, not a function
        where = f" in schema {name.schema}" if name.schema else ""
        if name.kind == "operator":
            return f"The query uses the operator {written}, which does not exist{where}; the console does not run it."
        # Only a quoted name can hold a capital: the parser folds the others to lower case.
        case = " (a quoted name keeps its case)" if name.name != name.name.lower() else ""
        return f"The query calls {written}(), which does not exist{where}{case}; the console does not run it."
    for overload in matches:
        subject = (
            f"The query uses the operator {written}, whose function {overload.function}()"
            if name.kind == "operator"
            else f"The query calls {written if name.kind == 'function' else overload.function}(), which"
        )
        refusal = _refused_by_name(overload.function, overload.function)
        if refusal and name.kind != "function":
            return refusal
        if overload.security_definer:
            return f"{subject} runs with its owner's privileges (SECURITY DEFINER); the console does not run it."
        allowed = overload.schema == "pg_catalog" and overload.function in _VOLATILE_ALLOWED
        if overload.volatility == "v" and not allowed:
            return (
                f"{subject} is volatile ({overload.signature}), so it may change something while it runs; "
                "the console runs only functions that do not."
            )
    return None


def _refused_by_name(name: str, written: str) -> str | None:
    for patterns, why in _REFUSED:
        if any(fnmatchcase(name, pattern) for pattern in patterns):
            return f"The query calls {written}(), which {why}; the console does not run it."
    return None


def _size_refusal(name: str, written: str, args: tuple[ast.Node, ...]) -> str | None:
    """Refuse a value-building call whose constant arguments ask for more than MAX_BUILT_BYTES."""
    size: float | None = None
    if name in _SIZE_ARGUMENT and len(args) > _SIZE_ARGUMENT[name]:
        if name == "array_fill":
            size = _array_elements(args[1])
            size = size * 8 if size is not None else None  # at least a pointer-sized datum per element
        else:
            size = _number(args[_SIZE_ARGUMENT[name]])
            if size is not None and name == "repeat":
                size *= max(1, _value_bytes(args[0]) or 1)
    elif name == "format" and args:
        widths = [int(width) for width in _FORMAT_WIDTH.findall(_literal_text(args[0]) or "")]
        size = max(widths, default=None)
    if size is None and name in _SIZE_ARGUMENT and len(args) > _SIZE_ARGUMENT[name]:
        # (SELECT 100000000) or a column: read while it runs, past any check; array_fill's built 800 MB.
        return (
            f"The query calls {written}() with a size computed while the query runs; the console takes sizes "
            f"written as numbers only, up to {MAX_BUILT_BYTES:,} bytes (10 MB)."
        )
    if size is None or size <= MAX_BUILT_BYTES:
        return None
    shown = f"{size:,.0f}" if math.isfinite(size) else "an unbounded number of"
    return (
        f"The query calls {written}() for a value of about {shown} bytes; the console refuses values above "
        f"{MAX_BUILT_BYTES:,} bytes (10 MB), which would hold the server's memory for the whole run."
    )


def _note_operator(name: Sequence[Any] | None, names: dict[RoutineName, None]) -> None:
    *schema, operator = _strings(name)
    names[RoutineName("operator", schema[-1] if schema else None, operator)] = None


def _name_type_refusal(type_name: str) -> str:
    return (
        f"The query turns a computed value into {type_name}; a failed lookup's error message would show that "
        f"value, so the console only casts names written out, such as 'users'::{type_name}."
    )


def _strings(nodes: Sequence[Any] | None) -> list[str]:
    return [node.sval for node in nodes or () if isinstance(node, ast.String) and node.sval is not None]


def _display(schema: list[str], name: str) -> str:
    return ".".join(_quoted(part) for part in [*schema, name])


def _quoted(identifier: str) -> str:
    return identifier if re.fullmatch(r"[a-z_][a-z0-9_$]*", identifier) else '"' + identifier.replace('"', '""') + '"'


def _is_literal(node: Any) -> bool:
    """Whether node is a constant, possibly cast: 'users', 'users'::text, NULL."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return isinstance(node, ast.A_Const)


def _is_oid_column(node: Any) -> bool:
    """Whether node is a column named as the catalogs name their oid columns: oid, indexrelid, classid, atttypid."""
    fields = _strings(node.fields) if isinstance(node, ast.ColumnRef) else []
    return bool(fields) and fields[-1].endswith(_OID_COLUMN_ENDINGS)


def _literal_text(node: Any) -> str | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return node.val.sval
    return None


def _number(node: Any, depth: int = 0) -> float | None:
    """Return the value of a constant arithmetic expression (1e9, 1000 * 1000, '5'::int), or None."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if depth > 16 or node is None:
        return None
    if isinstance(node, ast.A_Const):
        value = node.val
        text = str(value.ival or 0) if isinstance(value, ast.Integer) else getattr(value, "fval", None)
        text = text if text is not None else getattr(value, "sval", None)
        try:
            return float(text) if text is not None else None
        except ValueError:
            return None
    if isinstance(node, ast.A_Expr) and node.kind == enums.A_Expr_Kind.AEXPR_OP:
        operator = _strings(node.name)[-1]
        right = _number(node.rexpr, depth + 1)
        left = _number(node.lexpr, depth + 1) if node.lexpr is not None else 0.0
        if left is None or right is None:
            return None
        try:
            if operator == "^":
                return math.pow(left, right)
        except (OverflowError, ValueError):
            return math.inf
        return {"+": left + right, "-": left - right, "*": left * right}.get(operator)
    return None


def _value_bytes(node: Any, depth: int = 0) -> float | None:
    """Return the size of a constant text value, or of one built from constants: repeat(repeat('x', 10), 10)."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if depth > 16:
        return None
    if (text := _literal_text(node)) is not None:
        return len(text.encode())
    if isinstance(node, ast.FuncCall) and len(args := node.args or ()) >= 2:
        name = _strings(node.funcname)[-1]
        count = _number(args[1])
        if name == "repeat" and count is not None:
            return (_value_bytes(args[0], depth + 1) or 1) * count
        if name in ("lpad", "rpad"):
            return count
    if isinstance(node, ast.A_Expr) and _strings(node.name)[-1:] == ["||"]:
        sides = [_value_bytes(side, depth + 1) for side in (node.lexpr, node.rexpr)]
        return sum(side or 0 for side in sides)
    return None


def _array_elements(node: Any) -> float | None:
    """Return how many elements array_fill's dimensions ask for: ARRAY[1000, 1000] or '{1000,1000}'."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_ArrayExpr):
        sizes = [_number(element) for element in node.elements or ()]
    elif (text := _literal_text(node)) is not None:
        sizes = [float(part) for part in re.findall(r"\d+", text)]
    else:
        return None
    if not sizes or any(size is None for size in sizes):
        return None
    return math.prod(size for size in sizes if size is not None)
