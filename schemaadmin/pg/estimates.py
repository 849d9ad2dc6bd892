"""How many rows a query would return, without counting them all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from psycopg import sql

from schemaadmin.pg.connection import cursor

__all__ = ["RowTotal", "planner_rows", "row_total"]


@dataclass(frozen=True, slots=True)
class RowTotal:
    value: int
    exact: bool
    # Not exact, and value is a floor, not a guess: as many were counted or met ("at least 1,000", not "≈ 1,000").
    at_least: bool = False


def planner_rows(queryset: QuerySet[Any]) -> int:
    """Return the planner's estimate of the rows queryset returns (EXPLAIN, nothing is executed)."""
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with cursor(queryset.db) as cur:
        cur.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cur.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def row_total(queryset: QuerySet[Any], *, exact_below: int, estimate: int | None = None) -> RowTotal:
    """Return the planner's estimate, or the exact count when that is small (counting at most exact_below rows).

    estimate: planner_rows(queryset) when the caller has it already (one EXPLAIN fewer).
    """
    if estimate is None:
        estimate = planner_rows(queryset)
    if estimate >= exact_below:
        return RowTotal(estimate, exact=False)
    # A bounded count: never reads more than exact_below rows, however wrong the estimate was.
    counted = queryset.order_by()[:exact_below].count()
    if counted < exact_below:
        return RowTotal(counted, exact=True)
    return RowTotal(max(estimate, counted), exact=False, at_least=counted >= estimate)


def rows_up_to(schema: str, table: str, most: int, *, using: str = "default") -> int:
    """Return how many rows schema.table holds, counted up to most (reads at most that many): the truth where the
    planner's estimate may be stale (0 after a bulk load into a table analyzed while empty)."""
    with cursor(using) as cur:
        cur.execute(
            sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT %s) AS sampled").format(
                sql.Identifier(schema, table)
            ),
            [most],
        )
        row = cur.fetchone()
    return int(row[0]) if row else 0
