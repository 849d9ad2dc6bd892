"""The live schema as a Mermaid entity-relationship diagram: tables with their key columns, foreign keys as lines.

Nothing from the database reaches the diagram text unescaped: entities get generated ids (t0, t1, ...) with the
table's name as a quoted label, and names and types keep only the characters Mermaid's grammar allows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection

from schemaadmin.pg.schema import ColumnInfo, SchemaSnapshot
from schemaadmin.services.schema.types import short_type

__all__ = ["mermaid_er"]

# Mermaid's attribute types and names: a letter, then letters, digits and - _ ( ) [ ].
_WORD_UNSAFE = re.compile(r"[^A-Za-z0-9_()\[\]-]+")
# Labels and comments are double-quoted strings: no quote, no line break, nothing Mermaid reads as markup.
_LABEL_UNSAFE = re.compile(r"[^\w .:/()\[\],+-]+")


def _word(text: str) -> str:
    """Return text as a Mermaid attribute word: unsafe runs become _, and it starts with a letter."""
    word = _WORD_UNSAFE.sub("_", text).strip("_") or "x"
    return word if word[0].isalpha() else f"x_{word}"


def _label(text: str) -> str:
    """Return text fit to stand between double quotes in a Mermaid diagram."""
    return _LABEL_UNSAFE.sub("_", text)


def mermaid_er(snapshot: SchemaSnapshot, *, tables: Collection[str] | None = None) -> str:
    """Return an erDiagram of the snapshot's tables (only those qualified names, if given) and their relations."""
    shown = [t for t in snapshot.tables if tables is None or t.qualified_name in tables]
    ids = {t.qualified_name: f"t{number}" for number, t in enumerate(shown)}
    keys: dict[tuple[str, str], set[str]] = defaultdict(set)  # (table, column) -> PK, FK, UK
    unique_sets: dict[str, list[set[str]]] = defaultdict(list)
    for constraint in snapshot.constraints:
        marker = {"primary key": "PK", "unique": "UK"}.get(constraint.type)
        if marker and constraint.qualified_table in ids:
            unique_sets[constraint.qualified_table].append(set(constraint.columns))
            for name in constraint.columns:
                keys[(constraint.qualified_table, name)].add(marker)
    drawn_keys = [key for key in snapshot.foreign_keys if key.qualified_table in ids]
    for foreign_key in drawn_keys:
        for name in foreign_key.columns:
            keys[(foreign_key.qualified_table, name)].add("FK")

    lines = ["erDiagram"]
    columns_by_table: dict[str, list[ColumnInfo]] = defaultdict(list)
    for column in snapshot.columns:
        if (table_name := column.qualified_table) in ids:
            columns_by_table[table_name].append(column)
    nullable = {(name, c.name) for name, listed in columns_by_table.items() for c in listed if not c.not_null}
    for table in shown:
        lines.append(f'    {ids[table.qualified_name]}["{_label(table.qualified_name)}"] {{')
        for column in columns_by_table[table.qualified_name]:
            markers = keys.get((table.qualified_name, column.name))
            if not markers:
                continue  # the diagram shows keys; every column is listed in the tables below it
            order = ",".join(m for m in ("PK", "FK", "UK") if m in markers)
            word = _word(column.name)
            comment = f' "{_label(column.name)}"' if word != column.name else ""
            lines.append(f"        {_word(short_type(column.type))} {word} {order}{comment}")
        lines.append("    }")
    for foreign_key in drawn_keys:
        child, parent = ids.get(foreign_key.qualified_table), ids.get(foreign_key.qualified_target)
        if child is None or parent is None:
            continue
        optional = any((foreign_key.qualified_table, c) in nullable for c in foreign_key.columns)
        one_to_one = set(foreign_key.columns) in unique_sets[foreign_key.qualified_table]
        parent_end = "|o" if optional else "||"
        child_end = "o|" if one_to_one else "o{"
        label = _label(", ".join(foreign_key.columns))
        lines.append(f'    {parent} {parent_end}--{child_end} {child} : "{label}"')
    return "\n".join(lines) + "\n"
