"""DDL of tables, their columns, constraints and triggers, functions, sequences, extensions, roles and server
settings, as statement objects (pg/ddl.py: names, Statement, and the DDL of indexes).

What drift and health findings propose to copy is rendered from these, so a fix reads as the statements SchemaAdmin
runs: names quoted by identifiers.quote_identifier(), values by sql.Literal. A column's type, a default, a constraint's
definition are the server's own text (format_type(), pg_get_expr(), pg_get_constraintdef()) and stand as written,
as does a trigger's or function's whole CREATE statement (pg_get_triggerdef(), pg_get_functiondef()) and a view's
query (pg_get_viewdef()).
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import sql

from schemaadmin.pg.ddl import Statement, comment
from schemaadmin.pg.identifiers import Name

__all__ = [
    "add_column",
    "add_constraint",
    "add_primary_key_using_index",
    "alter_column_type",
    "alter_role_setting",
    "alter_sequence",
    "alter_system",
    "analyze",
    "comment_on",
    "create_extension",
    "create_from_catalog",
    "create_view",
    "drop_column",
    "drop_constraint",
    "drop_extension",
    "drop_function",
    "drop_table",
    "drop_trigger",
    "drop_view",
    "grant_role",
    "grant_select_on_sequences",
    "reset_table_parameters",
    "set_column_default",
    "set_not_null",
    "set_trigger_firing",
    "update_extension",
    "vacuum",
    "validate_constraint",
]


def _server_text(text: str) -> sql.SQL:
    """Return text the server wrote (a type, an expression, a definition) to stand in a statement as it is."""
    return sql.SQL(text)  # type: ignore[arg-type]


def _alter_table(schema: str, table: str, action: sql.Composable) -> Statement:
    return Statement(sql.SQL("ALTER TABLE {} {}").format(Name(schema, table), action))


def _alter_column(schema: str, table: str, column: str, action: sql.Composable) -> Statement:
    return _alter_table(schema, table, sql.SQL("ALTER COLUMN {} {}").format(Name(column), action))


def add_column(schema: str, table: str, column: str, definition: str) -> Statement:
    """Return ALTER TABLE schema.table ADD COLUMN column definition (its type and clauses, as the server writes)."""
    return _alter_table(schema, table, sql.SQL("ADD COLUMN {} {}").format(Name(column), _server_text(definition)))


def drop_column(schema: str, table: str, column: str) -> Statement:
    """Return ALTER TABLE schema.table DROP COLUMN column."""
    return _alter_table(schema, table, sql.SQL("DROP COLUMN {}").format(Name(column)))


def alter_column_type(
    schema: str, table: str, column: str, type_name: str, *, collation: str | None = None
) -> Statement:
    """Return ALTER TABLE … ALTER COLUMN column TYPE type_name [COLLATE collation] (both the server's text)."""
    action = sql.SQL("TYPE {}").format(_server_text(type_name))
    if collation is not None:
        action += sql.SQL(" COLLATE {}").format(_server_text(collation))
    return _alter_column(schema, table, column, action)


def set_column_default(schema: str, table: str, column: str, default: str | None) -> Statement:
    """Return ALTER TABLE … ALTER COLUMN column SET DEFAULT default (the server's text), or DROP DEFAULT for None."""
    if default is None:
        return _alter_column(schema, table, column, sql.SQL("DROP DEFAULT"))
    return _alter_column(schema, table, column, sql.SQL("SET DEFAULT {}").format(_server_text(default)))


def set_not_null(schema: str, table: str, column: str, not_null: bool) -> Statement:
    """Return ALTER TABLE … ALTER COLUMN column SET NOT NULL, or DROP NOT NULL."""
    return _alter_column(schema, table, column, sql.SQL("SET NOT NULL" if not_null else "DROP NOT NULL"))


def drop_constraint(schema: str, table: str, name: str) -> Statement:
    """Return ALTER TABLE schema.table DROP CONSTRAINT name."""
    return _alter_table(schema, table, sql.SQL("DROP CONSTRAINT {}").format(Name(name)))


def add_constraint(schema: str, table: str, name: str, definition: str) -> Statement:
    """Return ALTER TABLE schema.table ADD CONSTRAINT name definition (pg_get_constraintdef()'s text, used as is)."""
    return _alter_table(schema, table, sql.SQL("ADD CONSTRAINT {} {}").format(Name(name), _server_text(definition)))


def add_primary_key_using_index(schema: str, table: str, index: str) -> Statement:
    """Return ALTER TABLE schema.table ADD PRIMARY KEY USING INDEX index (a unique index of the table)."""
    return _alter_table(schema, table, sql.SQL("ADD PRIMARY KEY USING INDEX {}").format(Name(index)))


def validate_constraint(schema: str, table: str, name: str) -> Statement:
    """Return ALTER TABLE schema.table VALIDATE CONSTRAINT name (a SHARE UPDATE EXCLUSIVE lock only)."""
    return _alter_table(schema, table, sql.SQL("VALIDATE CONSTRAINT {}").format(Name(name)))


def reset_table_parameters(schema: str, table: str, parameters: Iterable[str]) -> Statement:
    """Return ALTER TABLE schema.table RESET (parameter, ...): storage parameters back to the server's defaults."""
    names = sql.SQL(", ").join(Name(*parameter.split(".")) for parameter in parameters)
    return _alter_table(schema, table, sql.SQL("RESET ({})").format(names))


def comment_on(schema: str, table: str, column: str | None, text: str | None) -> Statement:
    """Return COMMENT ON TABLE schema.table (or COLUMN schema.table.column) IS text (NULL: no comment)."""
    if column is not None:
        return comment("COLUMN", Name(schema, table, column), text)
    return comment("TABLE", Name(schema, table), text)


def drop_table(schema: str, table: str) -> Statement:
    """Return DROP TABLE schema.table."""
    return Statement(sql.SQL("DROP TABLE {}").format(Name(schema, table)))


def create_from_catalog(definition: str) -> Statement:
    """Return a whole CREATE statement the server wrote of an object (pg_get_triggerdef(), pg_get_functiondef()):
    what recreates it as the migrations made it."""
    return Statement(_server_text(definition.strip()))


def drop_trigger(schema: str, table: str, name: str) -> Statement:
    """Return DROP TRIGGER IF EXISTS name ON schema.table."""
    return Statement(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(Name(name), Name(schema, table)))


# ALTER TABLE's words for each way a trigger fires (pg/schema_code.FIRING's values).
_FIRING_ACTIONS = {
    "enabled": sql.SQL("ENABLE TRIGGER"),
    "disabled": sql.SQL("DISABLE TRIGGER"),
    "enabled replica": sql.SQL("ENABLE REPLICA TRIGGER"),
    "enabled always": sql.SQL("ENABLE ALWAYS TRIGGER"),
}


def set_trigger_firing(schema: str, table: str, name: str, firing: str) -> Statement:
    """Return ALTER TABLE schema.table ENABLE [REPLICA | ALWAYS] TRIGGER name, or DISABLE TRIGGER name."""
    return _alter_table(schema, table, sql.SQL("{} {}").format(_FIRING_ACTIONS[firing], Name(name)))


def drop_function(schema: str, name: str, arguments: str) -> Statement:
    """Return DROP FUNCTION schema.name(arguments), its arguments as pg_get_function_identity_arguments() writes."""
    return Statement(sql.SQL("DROP FUNCTION {}({})").format(Name(schema, name), _server_text(arguments)))


def _view(materialized: bool) -> sql.SQL:
    return sql.SQL("MATERIALIZED VIEW" if materialized else "VIEW")


def create_view(
    schema: str,
    name: str,
    query: str,
    *,
    materialized: bool = False,
    options: Iterable[str] = (),
    replace: bool = False,
) -> Statement:
    """Return CREATE [OR REPLACE] [MATERIALIZED] VIEW schema.name [WITH (options)] AS query: the query and the
    name=value options as the server writes them back (pg_get_viewdef(), pg_class.reloptions). OR REPLACE keeps
    the view's grants and what depends on it, and fails, changing nothing, where the columns would change; a
    materialized view has no OR REPLACE."""
    if replace and materialized:
        raise ValueError("a materialized view cannot be replaced, only dropped and created again")
    options = list(options)
    return Statement(
        sql.SQL("CREATE {}{} {}{} AS {}").format(
            sql.SQL("OR REPLACE ") if replace else sql.SQL(""),
            _view(materialized),
            Name(schema, name),
            sql.SQL(" WITH ({})").format(_server_text(", ".join(options))) if options else sql.SQL(""),
            _server_text(query.strip().removesuffix(";")),
        )
    )


def drop_view(schema: str, name: str, *, materialized: bool = False) -> Statement:
    """Return DROP [MATERIALIZED] VIEW schema.name: it fails, dropping nothing, while anything depends on the view."""
    return Statement(sql.SQL("DROP {} {}").format(_view(materialized), Name(schema, name)))


def analyze(schema: str, table: str) -> Statement:
    """Return ANALYZE schema.table."""
    return Statement(sql.SQL("ANALYZE {}").format(Name(schema, table)))


_VACUUM_OPTIONS = ("FULL", "FREEZE", "VERBOSE", "ANALYZE")


def vacuum(
    schema: str | None = None,
    table: str | None = None,
    *,
    full: bool = False,
    freeze: bool = False,
    verbose: bool = False,
    analyze: bool = False,
) -> Statement:
    """Return VACUUM [(FULL, FREEZE, VERBOSE, ANALYZE)] schema.table, or of the whole database without a table."""
    chosen = [name for name, on in zip(_VACUUM_OPTIONS, (full, freeze, verbose, analyze), strict=True) if on]
    options = sql.SQL(f" ({', '.join(chosen)})" if chosen else "")  # type: ignore[arg-type]  # fixed keywords only
    if table is None:
        return Statement(sql.SQL("VACUUM{}").format(options))
    if schema is None:
        raise ValueError("A table to vacuum needs its schema.")
    return Statement(sql.SQL("VACUUM{} {}").format(options, Name(schema, table)))


def alter_sequence(schema: str, name: str, *, as_bigint: bool = False, no_bound: str | None = None) -> Statement:
    """Return ALTER SEQUENCE schema.name AS bigint, or NO MAXVALUE / NO MINVALUE (no_bound names which)."""
    if (no_bound is None) == (not as_bigint):
        raise ValueError("A sequence is made bigint or loses a bound, one of the two.")
    if no_bound is not None and no_bound not in ("MAXVALUE", "MINVALUE"):
        raise ValueError(f"No such sequence bound: {no_bound!r}.")
    action = sql.SQL("AS bigint") if as_bigint else sql.SQL(f"NO {no_bound}")  # type: ignore[arg-type]
    return Statement(sql.SQL("ALTER SEQUENCE {} {}").format(Name(schema, name), action))


def create_extension(name: str) -> Statement:
    """Return CREATE EXTENSION IF NOT EXISTS name."""
    return Statement(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(Name(name)))


def update_extension(name: str, *, to: str | None = None) -> Statement:
    """Return ALTER EXTENSION name UPDATE [TO 'version'] (without one: to the server's default version)."""
    query = sql.SQL("ALTER EXTENSION {} UPDATE").format(Name(name))
    if to is not None:
        query += sql.SQL(" TO {}").format(sql.Literal(to))
    return Statement(query)


def drop_extension(name: str) -> Statement:
    """Return DROP EXTENSION name."""
    return Statement(sql.SQL("DROP EXTENSION {}").format(Name(name)))


def alter_role_setting(role: str, setting: str, value: str) -> Statement:
    """Return ALTER ROLE role SET setting = 'value': the role's sessions start with it."""
    return Statement(sql.SQL("ALTER ROLE {} SET {} = {}").format(Name(role), Name(setting), sql.Literal(value)))


def grant_role(role: str, to: str) -> Statement:
    """Return GRANT role TO member (a predefined role such as pg_read_all_stats, or any other)."""
    return Statement(sql.SQL("GRANT {} TO {}").format(Name(role), Name(to)))


def grant_select_on_sequences(schema: str, to: str) -> Statement:
    """Return GRANT SELECT ON ALL SEQUENCES IN SCHEMA schema TO role: those there now, not those made later."""
    return Statement(sql.SQL("GRANT SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(Name(schema), Name(to)))


def alter_system(setting: str, value: str | int) -> Statement:
    """Return ALTER SYSTEM SET setting = value (postgresql.auto.conf; some settings need a restart to apply)."""
    return Statement(sql.SQL("ALTER SYSTEM SET {} = {}").format(Name(setting), sql.Literal(value)))
