"""Every index for the health pages: sizes, counters and validity read live, what DDL defines read again after DDL.

Deparsing an index (pg_get_indexdef) and reading its keys' catalogs is most of what indexes() costs the server (a
second at 30,000 indexes), and building 30,000 IndexInfo rows most of what it costs Python; both change only with
DDL. So each process keeps, per database alias, the IndexInfo rows of its last read and the catalog fingerprint
they were read under. Each call runs one statement (ACTIVITY_SELECT; with halves, two at once on two connections)
that reads what moves without DDL (size, scans, validity, a running build, the table's row estimate) with the
fingerprint of the catalogs the rest comes from. Same fingerprint: a row whose live part did not move is the kept
object itself, one that moved is a copy with the new values. Another fingerprint (DDL happened, or nothing is kept
yet): indexes() reads everything again, a second statement, and keeps that.

The fingerprint sums hashxid(xmin) (xmin as a number before PostgreSQL 18) and counts the rows of pg_class,
pg_index, pg_attribute, pg_namespace, pg_constraint, pg_type, pg_opclass, pg_collation, pg_proc and pg_operator:
CREATE, DROP, ALTER and RENAME write new row versions there (new xmin), while VACUUM and ANALYZE update pg_class in
place (same xmin), so statistics do not throw the kept rows away. A scan of those catalogs costs ~2 ms at 3,000
indexes and ~20 ms at 30,000.
"""

from __future__ import annotations

import dataclasses
import operator
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemaadmin.pg.beside import read_beside
from schemaadmin.pg.connection import fetch_one, fetch_tuples, server_version
from schemaadmin.pg.index_select import BUILDS_CTE, activity_columns_sql
from schemaadmin.pg.indexes import NOT_LOCKED_SQL, SYSTEM_SCHEMAS_SQL, IndexInfo
from schemaadmin.pg.indexes import indexes as read_indexes
from schemaadmin.pg.locked import LOCKED_CTE

__all__ = ["IndexActivity", "catalog_fingerprint", "forget", "forget_kept", "indexes", "indexes_and_fingerprint"]

# The catalogs whose rows define what IndexInfo holds besides ACTIVITY_FIELDS (names, keys, operator classes,
# collations, types, expressions, predicates, options, constraints, definitions, comments, tablespaces).
_DEFINING_CATALOGS = (
    "pg_class",
    "pg_index",
    "pg_attribute",
    "pg_namespace",
    "pg_constraint",
    "pg_type",
    "pg_opclass",
    "pg_collation",
    "pg_proc",
    "pg_operator",
    "pg_description",
    "pg_tablespace",
)
# hashxid() is PostgreSQL 18's: before it, xmin goes through its text (a little slower; the product supports 15+,
# and this fingerprint answered "function hashxid(xid) does not exist" on every health page of a PostgreSQL 16).
_XMIN_NUMBER = {True: "hashxid(xmin)", False: "xmin::text::bigint"}
_FINGERPRINT_SQL = {
    has_hashxid: " || ':' || ".join(
        f"(SELECT count(*) || '.' || COALESCE(sum({number}), 0) FROM pg_catalog.{catalog})"  # noqa: S608 -- constants
        for catalog in _DEFINING_CATALOGS
    )
    for has_hashxid, number in _XMIN_NUMBER.items()
}


def _fingerprint_sql(using: str) -> str:
    return _FINGERPRINT_SQL[server_version(using) >= 180000]


def catalog_fingerprint(*, using: str = "default") -> str:
    """Return the fingerprint of the catalogs DDL writes (see above): the same while no DDL ran."""
    row = fetch_one(f"SELECT {_fingerprint_sql(using)}", using=using)
    return str(row[0]) if row else ""


@dataclass(frozen=True, slots=True)
class IndexActivity:
    """What IndexInfo holds that changes without DDL, and the fingerprint of the catalogs the rest comes from."""

    schema: str
    name: str
    size_bytes: int
    scans: int
    last_scan: datetime | None
    tuples_read: int
    tuples_fetched: int
    is_valid: bool
    is_ready: bool
    build_running: bool
    index_rows: int | None
    table_rows: int | None
    catalog_fingerprint: int
    analyze_count: int  # the sum of every table's analyze counts: new statistics were written when it moves


_FINGERPRINTS = ("catalog_fingerprint", "analyze_count")
ACTIVITY_FIELDS = tuple(f.name for f in dataclasses.fields(IndexActivity) if f.name not in _FINGERPRINTS)
# The activity is read as tuples in IndexActivity's order (pg.connection.fetch_tuples checks it): row[:-2] is the
# ACTIVITY_FIELDS values, row[:2] the index's (schema, name), row[-2:] the fingerprints.
assert tuple(f.name for f in dataclasses.fields(IndexActivity))[-2:] == _FINGERPRINTS
assert ACTIVITY_FIELDS[:2] == ("schema", "name")

# The fingerprints, read once per call: the statement that reads the other half of the indexes (HALVES) reads NULLs.
CATALOG_CTE = """
        SELECT hashtextextended({fingerprint}, 0) AS fingerprint,
               -- ANALYZE (by hand or autovacuum's) raises these when it writes new statistics: pg/row_statistics.py
               -- (of user schemas' tables: autovacuum analyzing the system catalogs changes no statistics kept)
               (SELECT COALESCE(sum(pg_stat_get_analyze_count(t.oid) + pg_stat_get_autoanalyze_count(t.oid)), 0)
                FROM pg_class AS t
                JOIN pg_namespace AS n ON n.oid = t.relnamespace
                WHERE t.relkind IN ('r', 'p', 'm') AND {where})::bigint AS analyze_count"""
NO_CATALOG_CTE = "SELECT NULL::bigint AS fingerprint, NULL::bigint AS analyze_count"

# Which indexes a statement reads: all of them, or the half of an even or an odd oid (HALVES, read on two connections).
EVERY_INDEX = "true"
HALVES = ("mod(i.indexrelid::bigint, 2) = 0", "mod(i.indexrelid::bigint, 2) = 1")

ACTIVITY_SELECT = """
    WITH {builds},
    {locked},
    catalog AS MATERIALIZED ({catalog}
    )
    SELECT n.nspname AS schema,
           ic.relname AS name,
           {activity},
           catalog.fingerprint AS catalog_fingerprint,
           catalog.analyze_count AS analyze_count
    FROM pg_index AS i
    JOIN pg_class AS ic ON ic.oid = i.indexrelid
    JOIN pg_class AS t ON t.oid = i.indrelid
    JOIN pg_namespace AS n ON n.oid = t.relnamespace
    CROSS JOIN builds AS b
    CROSS JOIN catalog
    WHERE {where}
      AND {part}
"""  # no ORDER BY: the kept rows are in the full read's order (sorting 30,000 wide rows spilled to disk)


def _activity_select(using: str, part: str = EVERY_INDEX, *, fingerprints: bool = True) -> str:
    return ACTIVITY_SELECT.format(
        builds=BUILDS_CTE,
        locked=LOCKED_CTE,
        catalog=CATALOG_CTE.format(fingerprint=_fingerprint_sql(using), where=SYSTEM_SCHEMAS_SQL)
        if fingerprints
        else NO_CATALOG_CTE,
        activity=activity_columns_sql(using),
        # The indexes indexes() reads: not those of a relation locked ACCESS EXCLUSIVE, kept rows or not, so the
        # list is the same whether this process read them before the lock or not.
        where=f"{SYSTEM_SCHEMAS_SQL} AND {NOT_LOCKED_SQL}",
        part=part,
    )


@dataclass(frozen=True, slots=True)
class _Kept:
    fingerprint: int
    # (schema, name) -> the activity the row was built with (fingerprint left out) and the row
    rows: dict[tuple[str, str], tuple[tuple[object, ...], IndexInfo]] = field(hash=False)


_kept: dict[str, _Kept] = {}
_lock = threading.Lock()


# row -> its ACTIVITY_FIELDS values as a tuple (one C call: this runs for every index on every request)
_activity_of = operator.attrgetter(*ACTIVITY_FIELDS)


def indexes(*, using: str = "default") -> list[IndexInfo]:
    """Return pg.indexes.indexes(using=using), reading again only what moved since the last call in this process."""
    return indexes_and_fingerprint(using=using)[0]


def indexes_and_fingerprint(
    *, using: str = "default", halves: bool = False
) -> tuple[list[IndexInfo], tuple[int, int] | None]:
    """Return indexes() and the fingerprint they were read under: (the catalogs', the tables' analyze counts).

    The fingerprint is None when there is no index (no row carried it). halves: read half of the indexes' activity
    on the side connection (pg/beside.py) while this one reads the other half and the fingerprints. Each index's
    size opens it: a new server session fills its relation cache for every index (~0.6 s at 30,000), and two
    sessions fill half each at once.
    """
    activity = _activity(using, halves)
    if not activity:
        return [], None
    fingerprint, analyze_count = activity[0][-2:]
    fingerprints = (fingerprint, analyze_count)
    kept = _kept.get(using)
    if kept is not None and kept.fingerprint == fingerprint:
        rows = _refreshed(kept, activity)
        if rows is not None:
            return rows, fingerprints
    # Read after the fingerprint: if DDL commits in between, these rows are newer than it, and the next call,
    # seeing another fingerprint, reads again. Kept rows are never older than their fingerprint says.
    rows = read_indexes(using=using)
    with _lock:
        _kept[using] = _Kept(fingerprint, {(row.schema, row.name): (_activity_of(row), row) for row in rows})
    return rows, fingerprints


def _activity(using: str, halves: bool) -> list[tuple[Any, ...]]:
    """Return every index's activity as tuples, the first row's fingerprints read with them (see halves above)."""
    if not halves:
        return fetch_tuples(IndexActivity, _activity_select(using), using=using)
    other_half = _activity_select(using, HALVES[1], fingerprints=False)
    read_other_half = read_beside(lambda: fetch_tuples(IndexActivity, other_half, using=using), using=using)
    activity = fetch_tuples(IndexActivity, _activity_select(using, HALVES[0]), using=using)
    other = read_other_half()
    if other and not activity:  # no row of this half carried the fingerprints: read them with every index
        return fetch_tuples(IndexActivity, _activity_select(using), using=using)
    return activity + other


def _refreshed(kept: _Kept, activity: list[tuple[Any, ...]]) -> list[IndexInfo] | None:
    """Return the kept rows with this activity, in the full read's order; None if the indexes are not those kept.

    activity holds IndexActivity's values as tuples: compared as they come, no row object is built for them.
    """
    if len(activity) != len(kept.rows):
        return None
    live_by_key = {live[:2]: live[:-2] for live in activity}
    rows = []
    moved = {}
    for key, (kept_values, row) in kept.rows.items():
        values = live_by_key.get(key)
        if values is None:
            return None
        if values != kept_values:
            row = dataclasses.replace(row, **dict(zip(ACTIVITY_FIELDS, values, strict=True)))
            moved[key] = (values, row)
        rows.append(row)
    if moved:
        with _lock:
            kept.rows.update(moved)
    return rows


def forget(using: str | None = None) -> None:
    """Drop the kept rows of one alias (None: of every alias); the next call reads everything."""
    forget_kept(_kept, _lock, using)


def forget_kept(kept: dict[str, Any], lock: threading.Lock, using: str | None) -> None:
    """Drop what a per-alias store keeps for one alias (None: for every alias), under its lock."""
    with lock:
        if using is None:
            kept.clear()
        else:
            kept.pop(using, None)
