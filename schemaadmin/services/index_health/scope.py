"""Whose table a finding is about: the chat product's, a framework's (Django, procrastinate, ours), or neither."""

from __future__ import annotations

import enum
from functools import cache

from django.apps import apps
from django.db.migrations.recorder import MigrationRecorder

__all__ = ["Scope", "table_scope"]


class Scope(enum.StrEnum):
    PRODUCT = "product"  # models.PRODUCT_MODELS: the tables the chat product reads and writes
    FRAMEWORK = "framework"  # any other installed app's model: auth, sessions, procrastinate, SchemaAdmin's records
    OTHER = "other"  # no model owns it: made by hand, by another tool, or a test's planted schema

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Scope.PRODUCT: "Product tables",
    Scope.FRAMEWORK: "Framework tables",
    Scope.OTHER: "Tables no model owns",
}


@cache
def _model_tables() -> tuple[frozenset[str], frozenset[str]]:
    """Return (product table names, every other model's table names), many-to-many tables included."""
    from schemaadmin.models import PRODUCT_MODELS

    product = frozenset(model._meta.db_table for model in PRODUCT_MODELS)
    everything = frozenset(model._meta.db_table for model in apps.get_models(include_auto_created=True))
    # Django's own record of applied migrations has no installed model.
    everything |= {MigrationRecorder.Migration._meta.db_table}
    return product, everything - product


def table_scope(schema: str, table: str) -> Scope:
    """Return whose table schema.table is; Django's tables live in the public schema (the search path's first)."""
    if schema != "public":
        return Scope.OTHER
    product, framework = _model_tables()
    if table in product:
        return Scope.PRODUCT
    return Scope.FRAMEWORK if table in framework else Scope.OTHER
