"""How the live schema's reads run (pg/schema.py, pg/schema_code.py): one statement over a list of schemas, which
leaves out the tables another session holds ACCESS EXCLUSIVE (deparsing what is on them would wait for the lock)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from schemaadmin.pg.connection import fetch_rows

__all__ = ["AROUND_SQL", "in_schemas"]

# Whether the table aliased {table} in namespace {namespace} is one of the tables read around (in_schemas' around).
AROUND_SQL = (
    "({namespace}.nspname, {table}.relname) IN "
    "(SELECT * FROM unnest(%(around_schemas)s::text[], %(around_names)s::text[]))"
)


def in_schemas[Row](
    row_class: type[Row],
    statement: str,
    schemas: Sequence[str],
    using: str,
    convert: Mapping[str, Callable[[Any], Any]] | None = None,
    around: Collection[tuple[str, str]] = (),
) -> list[Row]:
    """Run a statement whose %(schemas)s parameter is the list of schemas to read, and whose AROUND_SQL names the
    tables (schema, name) in around; return its rows as row_class."""
    params = {
        "schemas": list(schemas),
        "around_schemas": [schema for schema, _ in around],
        "around_names": [name for _, name in around],
    }
    return fetch_rows(row_class, statement, params, using=using, convert=convert)
