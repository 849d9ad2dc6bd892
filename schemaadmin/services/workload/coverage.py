"""What the query statistics cover: which database alias's server is snapshotted, and which tables a statement's
figures may stand for when PostgreSQL 18 counts same-named tables in different schemas as one statement."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from django.db import connections
from pglast import ast, parse_sql
from pglast.keywords import RESERVED_KEYWORDS
from pglast.parser import ParseError
from pglast.visitors import Visitor

from schemaadmin.pg.connection import server_version
from schemaadmin.pg.stats import QUERYID_BY_NAME_FROM, same_named_relations

__all__ = ["SNAPSHOTTED_ALIAS", "Coverage", "coverage", "schema_notes"]

# The snapshot task reads pg_stat_statements on this alias's server only (every database on that server).
SNAPSHOTTED_ALIAS = "default"
# A note names this many schemas of a table, then says how many more.
SCHEMAS_NAMED = 4

# An identifier in a normalized statement: "quoted" (kept as written) or bare (folded to lower case).
_IDENTIFIER = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)')


@dataclass(frozen=True, slots=True)
class Coverage:
    alias: str  # whose server's statements are snapshotted
    database: str  # that alias's database (the server's other databases are covered too)
    others: tuple[str, ...]  # PostgreSQL aliases on other servers: their statements are not here


def _server(alias: str) -> tuple[str, str]:
    settings = connections[alias].settings_dict
    return str(settings.get("HOST") or ""), str(settings.get("PORT") or "")


def coverage() -> Coverage:
    """Return which alias's server the snapshots read, and the configured PostgreSQL aliases on other servers."""
    server = _server(SNAPSHOTTED_ALIAS)
    others = tuple(
        alias
        for alias in connections
        if alias != SNAPSHOTTED_ALIAS and connections[alias].vendor == "postgresql" and _server(alias) != server
    )
    database = str(connections[SNAPSHOTTED_ALIAS].settings_dict.get("NAME") or "")
    return Coverage(alias=SNAPSHOTTED_ALIAS, database=database, others=others)


class _RelationNames(Visitor):  # type: ignore[misc]
    """Collect the names of the relations a parsed statement reads or writes (its RangeVars)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_RangeVar(self, ancestors: object, node: ast.RangeVar) -> None:
        if node.relname:
            self.names.add(node.relname)


@lru_cache(maxsize=4096)
def _relation_names(text: str) -> frozenset[str]:
    """Return the names of the relations a statement's text names, as PostgreSQL reads them (its parser, pglast).

    Text the parser refuses (cut short at track_activity_query_size) gives every identifier in it but the reserved
    keywords: a table called "order" is always quoted, so a bare ORDER is the keyword, never a table. Kept per text
    (a statement's text never changes): /queries/ parsed its hundred statements on every view, ~80% of its time."""
    try:
        statements = parse_sql(text)
    except ParseError:
        return frozenset(
            quoted.replace('""', '"') if quoted else bare.lower()
            for quoted, bare in _IDENTIFIER.findall(text)
            if quoted or bare.lower() not in RESERVED_KEYWORDS
        )
    visitor = _RelationNames()
    visitor(statements)
    return frozenset(visitor.names)


def _note(shared: dict[str, tuple[str, ...]]) -> str:
    tables = []
    for name, schemas in sorted(shared.items()):
        named = ", ".join(schemas[:SCHEMAS_NAMED])
        more = f" and {len(schemas) - SCHEMAS_NAMED} more" if len(schemas) > SCHEMAS_NAMED else ""
        tables.append(f"{name} (in {named}{more})")
    return (
        f"PostgreSQL 18 counts this statement on same-named tables of different schemas as one: {'; '.join(tables)}. "
        "Its figures may include all of them; the text shows the first one seen."
    )


def schema_notes(statements: Iterable[tuple[int, str]], *, using: str = "default") -> dict[int, str]:
    """Return, by queryid, a sentence for each (queryid, text) of the alias's database whose tables' names are in
    more than one schema there (PostgreSQL 18+ counts them as one statement); statements without are left out."""
    if server_version(using) < QUERYID_BY_NAME_FROM:
        return {}
    named = [(queryid, _relation_names(text)) for queryid, text in statements]
    if not named:
        return {}
    shared = same_named_relations(set().union(*(names for _, names in named)), using=using)
    notes = {}
    for queryid, names in named:
        mine = {name: shared[name] for name in names if name in shared}
        if mine:
            notes[queryid] = _note(mine)
    return notes
