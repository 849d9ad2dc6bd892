"""Where squawk's SQL-only finding is wrong for a Django operation: the reasons shown where lint_rules.py sets one
aside (a SquawkOverride), and the type arithmetic behind them (which column type changes rewrite nothing)."""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "DEFAULT_DROPPED",
    "EXCLUSION_NOT_VALID",
    "NULL_ALLOWED",
    "REFERENCED_INTEGER",
    "SAME_TYPE",
    "SMALL_INTEGERS",
    "STABLE_DEFAULT",
    "VALUE_INTEGER",
    "VARCHAR_LENGTH",
    "WIDENED",
    "same_target",
    "widens",
]

SIZED_TYPE = re.compile(r"^(varchar|numeric)(?:\((\d+)(?:,\s*(\d+))?\))?$")
SMALL_INTEGERS = ("integer", "smallint", "serial", "smallserial")

# Why squawk's finding is wrong for these Django operations (the reason shown where it is set aside).
WIDENED = (
    "SchemaAdmin: a widening type change ({old} to {new}) is a catalog-only change in PostgreSQL: no rewrite and "
    "no scan, only a brief ACCESS EXCLUSIVE lock (strong_migrations and django-pg-zero-downtime-migrations call it "
    "safe)."
)
COLLATION_ONLY = (
    "SchemaAdmin: the type stays {type} and only its collation changes: PostgreSQL rewrites no row, but rebuilds "
    "the indexes on the column while it holds its ACCESS EXCLUSIVE lock (reads and writes wait for them)."
)
SAME_TYPE = (
    "SchemaAdmin: the type stays {type}. Django writes ALTER COLUMN … TYPE with the same type when it changes only "
    "the column's comment; PostgreSQL then rewrites no row and rebuilds no index, and holds its ACCESS EXCLUSIVE "
    "lock only for the catalog change."
)
NULL_ALLOWED = (
    "SchemaAdmin: dropping NOT NULL needs no scan and old code keeps writing values, so no client breaks "
    "(django-pg-zero-downtime-migrations calls it safe)."
)
VALUE_INTEGER = (
    "SchemaAdmin: {what} is a value column, not a key; its range is the model's choice. Django's keys are bigint "
    "(BigAutoField)."
)
VARCHAR_LENGTH = (
    "SchemaAdmin: a CharField's varchar(n) is the length the model validates; making it longer later is a "
    "catalog-only change without a rewrite (only shortening rewrites), so text buys nothing here."
)
DEFAULT_DROPPED = (
    "SchemaAdmin: Django adds the column with its default only to fill the existing rows, then drops it; "
    "add_field_python_default says when that breaks inserts (a NOT NULL column), and a nullable one just gets NULL."
)
REFERENCED_INTEGER = (
    "SchemaAdmin: {what} references an integer key, and a foreign key's column must have its type; widening it "
    "means widening the referenced key first."
)
STABLE_DEFAULT = (
    "SchemaAdmin: a database default that calls no volatile function (now(), a constant) is worked out once; "
    "PostgreSQL 11 and later keep it in the catalog for the existing rows and rewrite nothing."
)
EXCLUSION_NOT_VALID = (
    "SchemaAdmin: an exclusion constraint cannot be NOT VALID, so this advice cannot be followed; "
    "exclusion_constraint_on_big_table says what to do on a big table."
)


def same_target(old: Any, new: Any, app_label: str) -> bool:
    """Say whether two versions of a relation hold the same column of the same model (so the same type)."""

    def target(field: Any) -> tuple[str, tuple[Any, ...]]:
        remote = field.remote_field.model
        model = remote.lower() if isinstance(remote, str) else remote._meta.label_lower
        model = model if "." in model or model == "self" else f"{app_label}.{model}"  # "widget" is the app's own
        return model, tuple(name for name in getattr(field, "to_fields", None) or () if name is not None)

    return not old.many_to_many and target(old) == target(new)


def widens(old: str | None, new: str | None) -> bool:
    """Say whether changing a column from type old to new needs neither a rewrite nor a scan of the rows."""
    if not old or not new or old == new:
        return False
    if old == "text" and new == "varchar":
        return True  # binary coercible, unbounded both
    before, after = SIZED_TYPE.match(old), SIZED_TYPE.match(new)
    if before and before.group(1) == "varchar":
        if new == "text":
            return True
        if after and after.group(1) == "varchar":
            return after.group(2) is None or (
                before.group(2) is not None and int(after.group(2)) >= int(before.group(2))
            )
    if before and after and before.group(1) == after.group(1) == "numeric":
        if after.group(2) is None:
            return True  # unconstrained numeric holds every value
        same_scale = (before.group(3) or "0") == (after.group(3) or "0")
        return before.group(2) is not None and same_scale and int(after.group(2)) >= int(before.group(2))
    return False
