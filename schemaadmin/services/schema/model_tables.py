"""The models' tables and schemas that drift treats apart, read from their db_table (pg.names.db_table_parts).

Tables no migration creates (a managed = False model's, an app's without migrations), schemas a model names that
APP_SCHEMAS does not list, and schemas made by hand before the migrations that put tables in them, which a shadow
replay must make first (services/schema/shadow.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.apps import apps
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunSQL

from schemaadmin.pg.names import db_table_parts
from schemaadmin.pg.shadow import existing_schemas
from schemaadmin.services.schema.raw_sql import run_sql_actions

__all__ = ["models_in_other_schemas", "schemas_made_outside_migrations", "tables_outside_migrations"]


def tables_outside_migrations(default_schema: str) -> dict[tuple[str, str], str]:
    """Map the (schema, table) of tables no migration creates, though a model names them, to why.

    Why: the model is managed = False, or its app has no migrations (migrate --run-syncdb made its tables); a
    many-to-many table goes with the model that declares the field. A db_table without a schema
    ('"other"."t"' has one) is in default_schema, where the search_path puts it.
    """
    unmigrated = MigrationLoader(None, ignore_no_migrations=True).unmigrated_apps
    why = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        declaring = meta.auto_created  # a join table's is the model that declares the field (else False)
        owner = declaring._meta if isinstance(declaring, type) else meta
        if not owner.managed:
            reason = f"is the table of model {owner.label}, which has managed = False"
        elif owner.app_label in unmigrated:
            reason = f"belongs to app {owner.app_label}, which has no migrations"
        else:
            continue
        why[_schema_and_table(meta.db_table, default_schema)] = reason
    return why


def models_in_other_schemas(schemas: Sequence[str]) -> dict[str, list[str]]:
    """Map each schema that a managed model's db_table names ('"other"."t"') but schemas does not list to those
    models' labels: drift reads only the schemas listed (APP_SCHEMAS), so their tables are never compared."""
    found: dict[str, list[str]] = {}
    for model in apps.get_models(include_auto_created=True):
        schema = _schema_and_table(model._meta.db_table, "")[0]
        if schema and schema not in schemas and model._meta.managed:
            found.setdefault(schema, []).append(model._meta.label)
    return found


def schemas_made_outside_migrations(*, using: str = "default") -> list[str]:
    """Return the schemas that models name in their db_table ('"other"."t"') and the live database has, but no
    migration's RunSQL creates: made by hand or another tool before the migrations that put tables in them, so a
    replay needs them made first (and one a migration makes must not be there before it, or its CREATE fails)."""
    named = {_schema_and_table(model._meta.db_table, "")[0] for model in apps.get_models(include_auto_created=True)}
    return existing_schemas(sorted(named - {""} - _schemas_migrations_create()), using=using)


def _schemas_migrations_create() -> set[str]:
    """Return the schemas a CREATE SCHEMA in some migration's RunSQL (a SeparateDatabaseAndState's too) makes."""
    made: set[str] = set()
    pending = [
        operation
        for migration in MigrationLoader(None, ignore_no_migrations=True).disk_migrations.values()
        for operation in migration.operations
    ]
    while pending:
        operation = pending.pop()
        if isinstance(operation, RunSQL):
            made.update(a.schema for a in run_sql_actions(operation.sql) if a.kind == "create_schema")
        pending.extend(getattr(operation, "database_operations", ()))
    return made


def _schema_and_table(db_table: str, default_schema: str) -> tuple[str, str]:
    """Split a model's db_table into schema and table (pg.names.db_table_parts), default_schema when it names none."""
    schema, table = db_table_parts(db_table)
    return schema or default_schema, table
