"""A keyset page picked on the server from a bounded number of a query's rows: counted in the same statement, or
read from a window of its table's rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet

from schemaadmin.pg.connection import cursor

__all__ = ["collected_page", "read_within"]


def collected_page(
    queryset: QuerySet[Any],
    keys: Sequence[str],
    *,
    descending: bool,
    after: Sequence[Any] | None,
    size: int,
    cap: int,
) -> tuple[int, list[tuple[Any, ...]]]:
    """Return how many rows queryset has, counted up to cap, and the keys (queryset's fields or annotations named by
    keys, together unique) of the first size rows in key order after the key `after` (None: from the first),
    picked among the first cap rows the server finds, in whatever order it finds them.

    One statement: the rows are read once, kept on the server, and only a page of keys comes back (the keys of 5,468
    search hits, read into Python to be picked there, took 6.5 ms; this statement, 4 ms).
    """
    try:
        sql, params = queryset.order_by().values_list(*keys)[:cap].query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (pk__in=[]): Django sends no query for it
        return 0, []
    columns = [connections[queryset.db].ops.quote_name(key) for key in keys]
    listed = ", ".join(columns)
    following = ""
    if after is not None:
        following = f"WHERE ({listed}) {'<' if descending else '>'} ({', '.join(['%s'] * len(columns))})"
        params = (*params, *after)
    sorted_by = ", ".join(f"{column} {'DESC' if descending else 'ASC'}" for column in columns)
    # Counted beside the page, so the count comes back when no row follows `after` too (a row of NULL keys).
    # {sql} is Django's compiled query (its values in params); the rest are quoted names and fixed words.
    statement = (
        f"WITH found AS MATERIALIZED ({sql}) "  # noqa: S608
        f"SELECT counted.rows, page.* FROM (SELECT count(*) AS rows FROM found) counted "
        f"LEFT JOIN LATERAL (SELECT {listed} FROM found {following} ORDER BY {sorted_by} LIMIT %s) page ON true"
    )
    with cursor(queryset.db) as cur:
        cur.execute(statement, (*params, size))
        rows = cur.fetchall()
    return rows[0][0], [tuple(row[1:]) for row in rows if row[-1] is not None]


def read_within(query: QuerySet[Any], window: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """Return query's rows (tuples) with its model's table read only through window's rows (a query of the same
    table: its first N in an order, say): window's statement stands in the table's place in query's FROM, under the
    table's name, so every column and condition of query reads window's rows, and its joins join them. query's own
    select list takes no parameters (columns and keys).

    Both LIMITs stop the scan: the window's rows are read lazily, and once query has its rows no more are. A bounded
    walk of the newest messages read the key of the last one it could walk first (an OFFSET over every row of the
    window, ~60 ns each, 11-20 ms for 185,000 messages at 10M) even when a page lay among the first few hundred.
    """
    table = connections[query.db].ops.quote_name(query.model._meta.db_table)
    try:
        sql, params = query.query.sql_with_params()
        window_sql, window_params = window.query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (pk__in=[]): Django sends no query for it
        return []
    place = _own_from(sql, table)
    if "%s" in sql[:place]:
        raise ValueError(f"a select list with parameters: {sql[:place]}")
    # {window_sql} and {sql} are Django's compiled queries (their values in the params), the table's name quoted.
    statement = f"{sql[:place]} FROM ({window_sql}) AS {table}{sql[place + len(' FROM ') + len(table) :]}"
    with cursor(query.db) as cur:
        cur.execute(statement, (*window_params, *params))
        return cur.fetchall()


def _own_from(sql: str, table: str) -> int:
    """Return where " FROM <table>" stands in sql outside any parenthesis: the statement's own FROM."""
    marker = f" FROM {table}"
    place = sql.find(marker)
    while place != -1:
        end = place + len(marker)
        if sql.count("(", 0, place) == sql.count(")", 0, place) and sql[end : end + 1] in ("", " "):
            return place
        place = sql.find(marker, end)
    raise ValueError(f"no FROM {table} of its own in: {sql[:200]}")
