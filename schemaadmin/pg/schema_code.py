"""The code the live schema runs: triggers on the tables of the application's schemas, and the functions and views
in those schemas (an extension's own left out: the extension is compared, not its parts). Drift compares them with
a replay of the migrations (services/schema/drift_code_rules.py): a trigger the migrations create and someone
dropped or disabled stops what it maintains (conversation_messages' counts) without an error anywhere."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from schemaadmin.pg.names import Qualified
from schemaadmin.pg.schema_reads import AROUND_SQL, in_schemas

__all__ = ["FIRING", "FunctionInfo", "TriggerInfo", "ViewInfo", "schema_functions", "schema_triggers", "schema_views"]

# pg_trigger.tgenabled, in the words of ALTER TABLE … ENABLE/DISABLE TRIGGER.
FIRING = {"O": "enabled", "D": "disabled", "R": "enabled replica", "A": "enabled always"}

# An object an extension installed (pg_depend deptype 'e'), of the catalog relid names: pg_stat_statements' views
# live in the schema it was created in, public by default.
_EXTENSION_MEMBER_SQL = """EXISTS (
              SELECT 1 FROM pg_depend AS d
              WHERE d.classid = '{catalog}'::regclass AND d.objid = {oid} AND d.deptype = 'e'
          )"""


@dataclass(frozen=True, slots=True)
class TriggerInfo(Qualified):
    schema: str
    table: str
    name: str
    definition: str  # pg_get_triggerdef(): the whole CREATE TRIGGER statement, which fires it when enabled
    firing: str  # a FIRING value: when it fires, if at all


@dataclass(frozen=True, slots=True)
class FunctionInfo(Qualified):
    schema: str
    name: str
    arguments: str  # pg_get_function_identity_arguments(): what tells overloads apart, as DROP FUNCTION takes them
    definition: str  # pg_get_functiondef(): the whole CREATE OR REPLACE statement

    @property
    def signature(self) -> str:
        return f"{self.qualified_name}({self.arguments})"


@dataclass(frozen=True, slots=True)
class ViewInfo(Qualified):
    schema: str
    name: str
    materialized: bool
    definition: str  # pg_get_viewdef(): the view's query, as the server writes it back
    options: tuple[str, ...]  # pg_class.reloptions as name=value (security_barrier, check_option, …)

    @property
    def kind(self) -> str:
        return "materialized view" if self.materialized else "view"


def schema_triggers(
    *, schemas: Sequence[str], using: str = "default", around: Collection[tuple[str, str]] = ()
) -> list[TriggerInfo]:
    """Return the triggers written on the tables of the given schemas: not those a constraint makes (its own rule),
    nor a partition's copy of its parent's, nor those of the tables in around."""
    return in_schemas(
        TriggerInfo,
        f"""
        SELECT n.nspname AS schema,
               c.relname AS table,
               t.tgname AS name,
               pg_get_triggerdef(t.oid) AS definition,
               t.tgenabled::text AS firing
        FROM pg_trigger AS t
        JOIN pg_class AS c ON c.oid = t.tgrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal
          AND t.tgconstraint = 0
          AND t.tgparentid = 0
          AND c.relkind IN ('r', 'p')
          AND n.nspname = ANY(%(schemas)s)
          AND NOT {AROUND_SQL.format(namespace="n", table="c")}
        ORDER BY n.nspname, c.relname, t.tgname
        """,  # noqa: S608 -- constants, no input
        schemas,
        using,
        convert={"firing": FIRING.__getitem__},
        around=around,
    )


def schema_functions(*, schemas: Sequence[str], using: str = "default") -> list[FunctionInfo]:
    """Return the functions and procedures of the given schemas, but those an extension installed."""
    return in_schemas(
        FunctionInfo,
        f"""
        SELECT n.nspname AS schema,
               p.proname AS name,
               pg_get_function_identity_arguments(p.oid) AS arguments,
               pg_get_functiondef(p.oid) AS definition
        FROM pg_proc AS p
        JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE p.prokind IN ('f', 'p')
          AND n.nspname = ANY(%(schemas)s)
          AND NOT {_EXTENSION_MEMBER_SQL.format(catalog="pg_proc", oid="p.oid")}
        ORDER BY n.nspname, p.proname, 3
        """,  # noqa: S608 -- constants, no input
        schemas,
        using,
    )


def schema_views(*, schemas: Sequence[str], using: str = "default") -> list[ViewInfo]:
    """Return the views and materialized views of the given schemas, but those an extension installed."""
    return in_schemas(
        ViewInfo,
        f"""
        SELECT n.nspname AS schema,
               c.relname AS name,
               c.relkind = 'm' AS materialized,
               pg_get_viewdef(c.oid) AS definition,
               coalesce(c.reloptions, '{{}}') AS options
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm')
          AND n.nspname = ANY(%(schemas)s)
          AND NOT {_EXTENSION_MEMBER_SQL.format(catalog="pg_class", oid="c.oid")}
        ORDER BY n.nspname, c.relname
        """,  # noqa: S608 -- constants, no input
        schemas,
        using,
        convert={"options": tuple},
    )
