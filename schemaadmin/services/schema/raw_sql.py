"""What a RunSQL operation's statements do to tables, read with pglast, so our size and drop rules see raw SQL.

Each statement becomes zero or more `SqlAction`s (a kind, the table, the column where there is one). Statements
inside a `DO` block are read too (PL/pgSQL's plain SQL statements, not `EXECUTE` of a built string: that text
exists only when it runs). Text pglast cannot parse gives no actions; squawk reports its syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from pglast import ast, parse_plpgsql, parse_sql
from pglast.enums import AlterTableType, ConstrType, DropBehavior, NullTestType, ObjectType, VariableSetKind
from pglast.parser import ParseError

__all__ = ["RawStatement", "SqlAction", "run_sql_actions", "run_sql_statements", "sql_actions"]

# kinds: create_index, create_index_concurrently, set_not_null, add_not_null_column, add_json_column, add_exclusion,
# add_unique, backfill, vacuum_full, cluster, set_tablespace, set_logged, add_serial_column, disable_trigger,
# drop_table, drop_column, truncate, grant_select, create_table, add_check, add_foreign_key, alter_column_type,
# add_column_default, add_rewriting_column, add_not_valid, validate_constraint, create_schema, drop_schema,
# drop_index_concurrently, reindex_concurrently, lock_table, timeout_off
_INDEXED = (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY)
_REWRITES = {
    AlterTableType.AT_SetTableSpace: ("set_tablespace", "ALTER TABLE … SET TABLESPACE"),
    AlterTableType.AT_SetLogged: ("set_logged", "ALTER TABLE … SET LOGGED"),  # a rewrite, and all of it to the WAL
    AlterTableType.AT_SetUnLogged: ("set_logged", "ALTER TABLE … SET UNLOGGED"),
}
_TRIGGERS_OFF = (AlterTableType.AT_DisableTrig, AlterTableType.AT_DisableTrigAll, AlterTableType.AT_DisableTrigUser)
# LOCK TABLE's modes (lockdefs.h), and the least that blocks writes: SHARE.
_LOCK_MODES = {5: "SHARE", 6: "SHARE ROW EXCLUSIVE", 7: "EXCLUSIVE", 8: "ACCESS EXCLUSIVE"}
_SHARE_LOCK = 5
# RESET and SET … TO DEFAULT put back the server's default, 0 for both timeouts unless set for the role.
_RESETS = (VariableSetKind.VAR_RESET, VariableSetKind.VAR_SET_DEFAULT)
_SERIAL = ("smallserial", "serial", "bigserial", "serial2", "serial4", "serial8")


@dataclass(frozen=True, slots=True)
class SqlAction:
    kind: str
    table: str  # the relation's name as written, without its schema; "" when the statement names none
    column: str = ""
    detail: str = ""  # e.g. the role a GRANT names, or the statement in words
    schema: str = ""  # the schema the statement names with the relation, "" for one the search_path resolves
    new_type: str = ""  # alter_column_type: the type as Django writes it (varchar(200), bigint); "" with USING

    @property
    def db_table(self) -> str:
        """Return the relation as a model's db_table names it (pg.names.db_table_parts reads it): '"schema"."table"'
        when the statement names its schema, else the table alone."""
        if not self.schema:
            return self.table
        return '"{}"."{}"'.format(self.schema.replace('"', '""'), self.table.replace('"', '""'))


@dataclass(frozen=True, slots=True)
class RawStatement:
    """One statement of a RunSQL's SQL: its first line, without comments or indentation (where the migration's SQL
    shows it: lint findings name that line, not the operation's "-- Raw SQL operation" header), and its actions."""

    first_line: str
    actions: tuple[SqlAction, ...]
    # Sent to the server with others as one text: a RunSQL list's item holding several statements (Django splits a
    # RunSQL string into its statements, but runs each list item as it is), which PostgreSQL runs as one
    # transaction block, whatever the migration's atomic.
    in_one_block: bool = False


def run_sql_statements(sql: Any) -> list[RawStatement]:
    """Return the statements of a RunSQL operation's `sql` (a string, or a list of strings or (sql, params)), in
    order, each with what it does (none for a statement that does nothing the rules read)."""
    if sql is None:
        return []
    items = [sql] if isinstance(sql, str) else list(sql)
    texts = [_with_parameters(item[0]) if isinstance(item, (list, tuple)) else item for item in items]
    found = []
    for text in texts:
        statements = _statements(text) if isinstance(text, str) else []
        if len(statements) > 1 and not isinstance(sql, str):
            statements = [replace(statement, in_one_block=True) for statement in statements]
        found += statements
    return found


def run_sql_actions(sql: Any) -> list[SqlAction]:
    """Return the actions of a RunSQL operation's `sql`, in order."""
    return [action for statement in run_sql_statements(sql) for action in statement.actions]


_PLACEHOLDER = re.compile(r"%\([^)]*\)[sbt]|%[sbt]|%%")  # psycopg's: s (auto), b (binary), t (text)


def _with_parameters(text: Any) -> Any:
    """Write a (sql, params) item's psycopg placeholders (%s, %(name)s, %b, %t; %% is %) as $n for the parser."""
    if not isinstance(text, str):
        return text
    numbers = iter(range(1, len(text) + 1))
    return _PLACEHOLDER.sub(lambda m: "%" if m.group() == "%%" else f"${next(numbers)}", text)


def sql_actions(text: str) -> list[SqlAction]:
    """Return what the statements of one SQL text do, in order (none when pglast cannot parse it)."""
    return [action for statement in _statements(text) for action in statement.actions]


def _statements(text: str) -> list[RawStatement]:
    try:
        statements = parse_sql(text)
    except ParseError:
        return []
    found = []
    for raw in statements:
        statement = _statement_text(text, raw)
        actions = _do_block_actions(statement) if isinstance(raw.stmt, ast.DoStmt) else _actions(raw.stmt)
        found.append(RawStatement(_first_line(statement), tuple(actions)))
    return found


def _first_line(statement: str) -> str:
    """Return the statement's first line that is not a comment, stripped ("" for none)."""
    for line in statement.splitlines():
        if line.strip() and not line.strip().startswith("--"):
            return line.strip()
    return ""


def _statement_text(text: str, raw: Any) -> str:
    # pglast's locations are byte offsets into the UTF-8 text.
    data = text.encode()
    start = raw.stmt_location or 0
    end = start + raw.stmt_len if raw.stmt_len else len(data)
    return data[start:end].decode()


def _do_block_actions(text: str) -> list[SqlAction]:
    try:
        functions = parse_plpgsql(text)
    except ParseError:
        return []
    return [action for query in _plpgsql_queries(functions) for action in sql_actions(query)]


def _plpgsql_queries(node: Any) -> Iterator[str]:
    """Yield the text of every plain SQL statement in a parsed PL/pgSQL body."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "PLpgSQL_stmt_execsql":
                query = value.get("sqlstmt", {}).get("PLpgSQL_expr", {}).get("query")
                if query:
                    yield query
            else:
                yield from _plpgsql_queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _plpgsql_queries(item)


def _name(relation: Any) -> str:
    return str(getattr(relation, "relname", "") or "")


def _schema(relation: Any) -> str:
    return str(getattr(relation, "schemaname", "") or "")


def _actions(stmt: Any) -> Iterable[SqlAction]:
    """Return what one statement does, its WITH queries' doings first (WITH gone AS (DELETE …) SELECT …)."""
    with_clause = getattr(stmt, "withClause", None)
    ctes = [cte.ctequery for cte in getattr(with_clause, "ctes", None) or ()]
    return [*(action for query in ctes for action in _actions(query)), *_own_actions(stmt)]


def _own_actions(stmt: Any) -> Iterable[SqlAction]:
    if isinstance(stmt, ast.CreateSchemaStmt) and stmt.schemaname:
        return [SqlAction("create_schema", "", schema=str(stmt.schemaname))]
    if isinstance(stmt, ast.IndexStmt):
        kind = "create_index_concurrently" if stmt.concurrent else "create_index"
        detail = f"index {stmt.idxname or '(unnamed)'}"
        return [SqlAction(kind, _name(stmt.relation), detail=detail, schema=_schema(stmt.relation))]
    if isinstance(stmt, ast.AlterTableStmt) and stmt.objtype == ObjectType.OBJECT_TABLE:
        schema = _schema(stmt.relation)
        return [replace(a, schema=schema) for a in _alter_table_actions(_name(stmt.relation), stmt.cmds or ())]
    if isinstance(stmt, (ast.UpdateStmt, ast.DeleteStmt)):
        verb = "UPDATE" if isinstance(stmt, ast.UpdateStmt) else "DELETE"
        bounded = "with a WHERE clause" if stmt.whereClause is not None else "of every row"
        return [SqlAction("backfill", _name(stmt.relation), detail=f"{verb} {bounded}", schema=_schema(stmt.relation))]
    if isinstance(stmt, ast.InsertStmt) and stmt.selectStmt is not None:
        select = stmt.selectStmt
        if isinstance(select, ast.SelectStmt) and select.fromClause:
            return [
                SqlAction("backfill", _name(stmt.relation), detail="INSERT … SELECT", schema=_schema(stmt.relation))
            ]
        return []
    if isinstance(stmt, ast.VacuumStmt) and stmt.is_vacuumcmd:
        if any(getattr(option, "defname", "") == "full" for option in stmt.options or ()):
            relations = [(_schema(rel.relation), _name(rel.relation)) for rel in stmt.rels or ()] or [("", "")]
            return [SqlAction("vacuum_full", table, detail="VACUUM FULL", schema=schema) for schema, table in relations]
        return [SqlAction("vacuum", "", detail="VACUUM")]  # no rewrite, but no transaction block either
    if isinstance(stmt, ast.ClusterStmt):
        return [SqlAction("cluster", _name(stmt.relation), detail="CLUSTER", schema=_schema(stmt.relation))]
    if isinstance(stmt, ast.LockStmt) and (stmt.mode or 0) >= _SHARE_LOCK:
        mode = _LOCK_MODES.get(stmt.mode or 0, "a")
        return [
            SqlAction("lock_table", _name(rel), detail=f"LOCK TABLE … IN {mode} MODE", schema=_schema(rel))
            for rel in stmt.relations or ()
        ]
    if isinstance(stmt, ast.VariableSetStmt) and stmt.kind == VariableSetKind.VAR_RESET_ALL:
        return [SqlAction("timeout_off", "", detail="lock_timeout and statement_timeout (RESET ALL)")]
    if isinstance(stmt, ast.VariableSetStmt) and (stmt.name or "") in ("lock_timeout", "statement_timeout"):
        zero = stmt.kind == VariableSetKind.VAR_SET_VALUE and any(_is_zero(arg) for arg in stmt.args or ())
        return [SqlAction("timeout_off", "", detail=str(stmt.name))] if zero or stmt.kind in _RESETS else []
    if isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_SCHEMA:
        names = [getattr(name, "sval", "") or "" for name in stmt.objects or ()]
        cascade = " CASCADE" if stmt.behavior == DropBehavior.DROP_CASCADE else ""
        return [SqlAction("drop_schema", "", schema=name, detail=f"DROP SCHEMA{cascade}") for name in names]
    # Refused inside a transaction block, as CREATE INDEX CONCURRENTLY is (lint_sql_rules: an atomic migration fails).
    if isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_INDEX and stmt.concurrent:
        indexes = (".".join(filter(None, _schema_and_name(names))) for names in stmt.objects or ())
        return [SqlAction("drop_index_concurrently", "", detail=f"DROP INDEX CONCURRENTLY {name}") for name in indexes]
    if isinstance(stmt, ast.ReindexStmt) and any(
        getattr(p, "defname", "") == "concurrently" for p in stmt.params or ()
    ):
        target = ".".join(filter(None, (_schema(stmt.relation), _name(stmt.relation)))) or str(stmt.name or "")
        return [SqlAction("reindex_concurrently", "", detail=f"REINDEX CONCURRENTLY {target}".rstrip())]
    if isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_TABLE:
        named = (_schema_and_name(names) for names in stmt.objects or ())
        return [SqlAction("drop_table", table, schema=schema) for schema, table in named]
    if isinstance(stmt, ast.GrantStmt) and stmt.is_grant and stmt.objtype == ObjectType.OBJECT_TABLE:
        privileges = {getattr(p, "priv_name", "") for p in stmt.privileges or ()}
        if stmt.privileges is None or "select" in privileges:  # None: ALL PRIVILEGES
            roles = [getattr(grantee, "rolename", "") or "" for grantee in stmt.grantees or ()]
            return [
                SqlAction("grant_select", _name(relation), detail=role, schema=_schema(relation))
                for relation in stmt.objects or ()
                for role in roles
            ]
        return []
    if isinstance(stmt, ast.TruncateStmt):
        return [
            SqlAction("truncate", _name(relation), detail="TRUNCATE", schema=_schema(relation))
            for relation in stmt.relations or ()
        ]
    if isinstance(stmt, ast.CreateStmt):
        return [SqlAction("create_table", _name(stmt.relation), schema=_schema(stmt.relation))]
    return []


def _is_zero(argument: Any) -> bool:
    """Whether a SET's value is no time at all: 0, '0', '0ms', '0s' (a timeout of 0 is none)."""
    value = getattr(argument, "val", None)
    if isinstance(value, ast.Integer):
        text = str(value.ival or 0)
    else:  # a Float keeps its text in fval, a String in sval
        text = str(getattr(value, "fval", None) or getattr(value, "sval", "") or "")
    return re.fullmatch(r"0+(\.0*)?\s*(us|ms|s|min|h|d)?", text.strip()) is not None


def _not_null_column(check: Any) -> str:
    """Return the column of CHECK (column IS NOT NULL), else ""."""
    expression = check.raw_expr
    if not (isinstance(expression, ast.NullTest) and expression.nulltesttype == NullTestType.IS_NOT_NULL):
        return ""
    fields = [getattr(field, "sval", None) for field in getattr(expression.arg, "fields", None) or ()]
    return fields[0] if len(fields) == 1 and isinstance(fields[0], str) else ""


def _schema_and_name(names: Any) -> tuple[str, str]:
    """Return the schema a DROP names ("" for none) and the table's name, of [[catalog.]schema.]name."""
    parts = [getattr(name, "sval", "") for name in names or ()]
    return (parts[-2] if len(parts) > 1 else ""), (parts[-1] if parts else "")


def _alter_table_actions(table: str, commands: Iterable[Any]) -> Iterator[SqlAction]:
    for command in commands:
        subtype = command.subtype
        if subtype == AlterTableType.AT_SetNotNull:
            yield SqlAction("set_not_null", table, command.name or "")
        elif subtype == AlterTableType.AT_DropColumn:
            yield SqlAction("drop_column", table, command.name or "")
        elif subtype in _TRIGGERS_OFF:
            yield SqlAction("disable_trigger", table, detail=command.name or "ALL")
        elif subtype in _REWRITES:
            kind, detail = _REWRITES[subtype]
            yield SqlAction(kind, table, detail=detail)
        elif subtype == AlterTableType.AT_AddColumn and isinstance(command.def_, ast.ColumnDef):
            yield from _added_column(table, command.def_)
        elif subtype == AlterTableType.AT_AlterColumnType:
            # Binary-coercible changes (a varchar widened, varchar to text) are the exception; the SQL does not say.
            yield _type_change(table, command)
        elif subtype == AlterTableType.AT_ValidateConstraint:
            yield SqlAction("validate_constraint", table, detail=f"constraint {command.name or '(unnamed)'}")
        elif subtype == AlterTableType.AT_AddConstraint and isinstance(command.def_, ast.Constraint):
            constraint = command.def_
            if constraint.skip_validation:  # NOT VALID: no scan now, but the table's lock is held until commit
                # column: the one a CHECK (column IS NOT NULL) proves not null once validated (SET NOT NULL's way).
                column = _not_null_column(constraint) if constraint.contype == ConstrType.CONSTR_CHECK else ""
                yield SqlAction(
                    "add_not_valid", table, column, detail=f"constraint {constraint.conname or '(unnamed)'}"
                )
            elif constraint.contype == ConstrType.CONSTR_CHECK:
                yield SqlAction("add_check", table, detail=f"constraint {constraint.conname or '(unnamed)'}")
            elif constraint.contype == ConstrType.CONSTR_FOREIGN:
                yield SqlAction("add_foreign_key", table, detail=f"constraint {constraint.conname or '(unnamed)'}")
            elif constraint.contype == ConstrType.CONSTR_EXCLUSION:
                yield SqlAction("add_exclusion", table, detail=f"constraint {constraint.conname or '(unnamed)'}")
            elif (
                constraint.contype in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY) and not constraint.indexname
            ):
                yield SqlAction("add_unique", table, detail=f"constraint {constraint.conname or '(unnamed)'}")


def _called_functions(node: Any) -> Iterator[str]:
    """Yield the names of the functions an expression calls (schema-qualified as written)."""
    if isinstance(node, ast.FuncCall):
        yield ".".join(getattr(n, "sval", "") for n in node.funcname or ())
    if isinstance(node, ast.Node):
        for attribute in node:
            yield from _called_functions(getattr(node, attribute))
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _called_functions(item)


def _virtual(constraint: Any) -> bool:
    """Say whether a generated column is VIRTUAL (PostgreSQL 18: computed on read, nothing written)."""
    return str(getattr(constraint, "generated_kind", "") or "").lower().startswith("v")


_TYPE_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "bpchar": "char",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp",
}


def _type_change(table: str, command: Any) -> SqlAction:
    """An ALTER COLUMN … TYPE, with the new type as Django's db_type() writes it ("" when a USING rewrites)."""
    column_def = command.def_
    type_name = getattr(column_def, "typeName", None)
    names = [getattr(n, "sval", "") for n in getattr(type_name, "names", ()) or ()]
    base = _TYPE_NAMES.get(names[-1], names[-1]) if names else ""
    modifiers = [getattr(getattr(m, "val", None), "ival", None) for m in getattr(type_name, "typmods", ()) or ()]
    written = base + (f"({', '.join(str(m) for m in modifiers)})" if modifiers and None not in modifiers else "")
    if getattr(type_name, "arrayBounds", None):
        written += "[]"
    using = getattr(column_def, "raw_default", None) is not None
    detail = f"ALTER COLUMN {command.name} TYPE {written or 'a new type'}" + (" USING …" if using else "")
    return SqlAction("alter_column_type", table, command.name or "", detail=detail, new_type="" if using else written)


def _added_column(table: str, column: Any) -> Iterator[SqlAction]:
    # Whatever else it does, ADD COLUMN holds ACCESS EXCLUSIVE to the end of the transaction (a change of the table,
    # as Django's AddField is, for the statements after it).
    yield SqlAction("add_column", table, column.colname or "")
    constraints = list(column.constraints or ())
    kinds = {getattr(c, "contype", None) for c in constraints}
    type_names = [getattr(n, "sval", "") for n in getattr(column.typeName, "names", ()) or ()]
    if type_names and type_names[-1] == "json":
        yield SqlAction("add_json_column", table, column.colname or "")
    if (type_names and type_names[-1] in _SERIAL) or ConstrType.CONSTR_IDENTITY in kinds:
        # Every existing row gets the next value: PostgreSQL rewrites the table to write them.
        yield SqlAction("add_serial_column", table, column.colname or "", detail="ADD COLUMN … serial/identity")
    stored = [c for c in constraints if getattr(c, "contype", None) == ConstrType.CONSTR_GENERATED]
    if stored and getattr(stored[0], "generated_when", "a") == "a" and not _virtual(stored[0]):
        detail = f"ADD COLUMN {column.colname} GENERATED ALWAYS AS (…) STORED"
        yield SqlAction("add_rewriting_column", table, column.colname or "", detail=detail)
    defaults = [c for c in constraints if getattr(c, "contype", None) == ConstrType.CONSTR_DEFAULT]
    serial = bool(type_names) and type_names[-1] in _SERIAL
    valued = serial or bool(
        kinds & {ConstrType.CONSTR_DEFAULT, ConstrType.CONSTR_GENERATED, ConstrType.CONSTR_IDENTITY}
    )
    if ConstrType.CONSTR_FOREIGN in kinds and valued:
        # ADD COLUMN … REFERENCES checks the existing rows unless the column has no DEFAULT clause at all (nor an
        # identity or generated value): then PostgreSQL reads nothing. DEFAULT NULL still reads every row.
        yield SqlAction("add_foreign_key", table, column.colname or "", detail=f"on {column.colname}")
    called = sorted({name for c in defaults for name in _called_functions(c.raw_expr)})
    if called:
        yield SqlAction("add_column_default", table, column.colname or "", detail=",".join(called))
    not_null = ConstrType.CONSTR_NOTNULL in kinds or ConstrType.CONSTR_PRIMARY in kinds
    filled = kinds & {ConstrType.CONSTR_DEFAULT, ConstrType.CONSTR_GENERATED, ConstrType.CONSTR_IDENTITY}
    if not_null and not filled:
        yield SqlAction("add_not_null_column", table, column.colname or "")
