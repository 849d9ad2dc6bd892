"""Query statistics over time in SchemaAdmin's own tables, the reading side: windows and regressions (a window's
series per bucket: pg/query_series.py).

A window [start, end) is its statements' running totals before end less those before start (pg/query_history.py
stores them with every delta and on each statement's key): the key's own at a bound that is now, else one probe of
the running-totals index each. Fourteen days cost what one hour does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemaadmin.pg.connection import fetch_one, fetch_only_row, fetch_rows
from schemaadmin.pg.query_history import (
    COUNTERS,
    DELTAS,
    FIRST_SNAPSHOT_SQL,
    KEYS,
    LAST_SNAPSHOT_SQL,
    SNAPSHOTS,
    TEXTS,
)
from schemaadmin.pg.stats import ORDERS, StatementTotals

__all__ = [
    "StatementChange",
    "has_deltas",
    "regressions",
    "window_totals",
]


@dataclass(frozen=True, slots=True)
class StatementChange:
    """One statement's mean time in an earlier and a later window."""

    dbid: int
    userid: int
    queryid: int
    query: str
    before_calls: int
    before_mean_ms: float
    after_calls: int
    after_mean_ms: float
    after_total_ms: float


# A running-total probe costs about as much as summing this many stored deltas: below it, a window sums its deltas.
ROWS_PER_PROBE = 5


@dataclass(frozen=True, slots=True)
class _WindowSize:
    deltas: int  # stored in the window's snapshots
    candidates: int  # statements with deltas on both sides of or inside the window
    snapshots: int  # taken in the window
    first_id: int | None  # the window's first and last snapshot
    last_id: int | None


def _summed_window(prefix: str, params: dict[str, Any], using: str) -> bool:
    """Return whether summing the window's deltas costs less than probing its candidates' running totals; if so,
    add its first and last snapshot ids to params under prefix (the planner then sees the range it reads)."""
    size = _window_size(params["alias"], params[f"{prefix}start"], params[f"{prefix}end"], using)
    params[f"{prefix}first"], params[f"{prefix}last"] = size.first_id, size.last_id
    # The range is the window's own snapshots when no other alias's ids fall between them (the summed SQL then
    # needs no second filter, which would make the planner expect one row and nest loops over thousands).
    own = size.first_id is None or size.last_id is None or size.last_id - size.first_id + 1 == size.snapshots
    return own and size.deltas <= ROWS_PER_PROBE * size.candidates


def _window_size(alias: str, start: datetime, end: datetime, using: str) -> _WindowSize:
    return fetch_only_row(
        _WindowSize,
        f"""
        SELECT (SELECT coalesce(sum(statements_kept), 0)::bigint FROM {SNAPSHOTS}
                WHERE database_alias = %(alias)s AND taken_at >= %(start)s AND taken_at < %(end)s) AS deltas,
               (SELECT count(*) FROM {SNAPSHOTS}
                WHERE database_alias = %(alias)s AND taken_at >= %(start)s AND taken_at < %(end)s) AS snapshots,
               (SELECT count(*) FROM {KEYS}
                WHERE database_alias = %(alias)s AND last_taken_at >= %(start)s AND first_taken_at < %(end)s)
                   AS candidates,
               ({FIRST_SNAPSHOT_SQL.format(start="%(start)s")}) AS first_id,
               ({LAST_SNAPSHOT_SQL.format(end="%(end)s")}) AS last_id
        """,  # noqa: S608 -- table names are this module's constants
        {"alias": alias, "start": start, "end": end},
        using=using,
    )


def _summed_sql(prefix: str) -> str:
    """Return a SELECT of each statement's sums of its deltas in [%(<prefix>start)s, %(<prefix>end)s).

    The ids of its first and last snapshot (%(<prefix>first)s, %(<prefix>last)s, every id between them the alias's:
    _summed_window checks) are the primary key's range: the planner sees how many deltas it reads. Through a
    subquery of snapshots it took six hours for all of them and scanned every delta; with both, one row.

    The ids are CAST(… AS bigint), not …::bigint: bound client-side, -9223372036854775808::bigint reads as minus
    9223372036854775808::bigint, which overflows; the CAST takes the whole negative number.
    """
    summed = ", ".join(f"sum(d.{name}) AS {name}" for name in COUNTERS)
    return f"""
        SELECT d.dbid, d.userid, d.queryid, {summed}
        FROM {DELTAS} AS d
        WHERE d.snapshot_id BETWEEN %({prefix}first)s AND %({prefix}last)s
          AND (CAST(%(dbid)s AS bigint) IS NULL OR d.dbid = CAST(%(dbid)s AS bigint))
          AND (CAST(%(userid)s AS bigint) IS NULL OR d.userid = CAST(%(userid)s AS bigint))
          AND (CAST(%(queryid)s AS bigint) IS NULL OR d.queryid = CAST(%(queryid)s AS bigint))
        GROUP BY d.dbid, d.userid, d.queryid
    """  # noqa: S608 -- table and column names are this module's constants; every value is a parameter


def _running_sql(bounds: Sequence[str], *, spanning: str | None = None) -> str:
    """Return a SELECT of each statement with deltas between the first and last bound (parameter names) and its
    running totals before each bound i, as columns c<i>_<counter>; with spanning (a bound's name), only of the
    statements with deltas on both sides of it.

    Before a bound, they are the running totals of its first delta at or after it less that delta, one probe of
    the running-totals index; its key's own when its latest delta is older than the bound (every bound that is
    now); or zero when its first delta is not older and still kept (a statement first seen in the window, of most
    of them when statements come and go): no probe. Pruning never changes them, so neither does it change a
    window's sums. (A first delta pruned counts in the running totals: that statement is probed.)
    """
    columns, probes = [], []
    for i, bound in enumerate(bounds):
        first_seen_after = f"k.first_taken_at >= greatest(%({bound})s, kept.since)"
        columns += [
            f"CASE WHEN k.last_taken_at < %({bound})s THEN k.cum_{name} WHEN {first_seen_after} THEN 0"
            f" ELSE p{i}.cum_{name} - p{i}.{name} END AS c{i}_{name}"
            for name in COUNTERS
        ]
        probes.append(f"""
        LEFT JOIN LATERAL (
            SELECT {", ".join(f"d.{name}, d.cum_{name}" for name in COUNTERS)}
            FROM {DELTAS} AS d
            WHERE d.dbid = k.dbid AND d.userid = k.userid AND d.queryid = k.queryid
              AND k.last_taken_at >= %({bound})s AND NOT {first_seen_after}
              AND d.snapshot_id >= ({FIRST_SNAPSHOT_SQL.format(start=f"%({bound})s")})
            ORDER BY d.snapshot_id
            LIMIT 1
        ) AS p{i} ON true""")  # noqa: S608 -- table and column names are this module's constants
    return f"""
        SELECT k.dbid, k.userid, k.queryid, {", ".join(columns)}
        FROM {KEYS} AS k
        -- Pruning deletes the oldest snapshots: a key first seen at or after the oldest kept has its first delta.
        CROSS JOIN (SELECT min(s.taken_at) AS since FROM {SNAPSHOTS} AS s WHERE s.database_alias = %(alias)s) AS kept
        {"".join(probes)}
        WHERE k.database_alias = %(alias)s
          AND k.last_taken_at >= %({bounds[0]})s AND k.first_taken_at < %({bounds[-1]})s
          {f"AND k.first_taken_at < %({spanning})s AND k.last_taken_at >= %({spanning})s" if spanning else ""}
          AND (CAST(%(dbid)s AS bigint) IS NULL OR k.dbid = CAST(%(dbid)s AS bigint))
          AND (CAST(%(userid)s AS bigint) IS NULL OR k.userid = CAST(%(userid)s AS bigint))
          AND (CAST(%(queryid)s AS bigint) IS NULL OR k.queryid = CAST(%(queryid)s AS bigint))
    """  # noqa: S608 -- table and column names are this module's constants; every value is a parameter


def _between(running: str, first: int, last: int) -> str:
    """Return a SELECT of each statement's sums between bound first and bound last of a _running_sql relation."""
    sums = ", ".join(f"c{last}_{name} - c{first}_{name} AS {name}" for name in COUNTERS)
    return f"SELECT dbid, userid, queryid, {sums} FROM {running}"  # noqa: S608 -- names are this module's


def window_totals(
    alias: str,
    start: datetime,
    end: datetime,
    *,
    order: str = "total",
    limit: int = 50,
    dbid: int | None = None,
    userid: int | None = None,
    queryid: int | None = None,
    using: str = "default",
) -> list[StatementTotals]:
    """Return the statements that cost most in [start, end) by the order's column, with their texts and shares.

    The share is of the time of every statement of the window matching the database and role filters (with queryid,
    of every statement's: the window's total is in its snapshots, the filtered one only in every statement's sums).
    """
    column = ORDERS[order]
    params: dict[str, Any] = {
        **{"alias": alias, "dbid": dbid, "userid": userid, "queryid": queryid, "limit": limit},
        **{"wstart": start, "wend": end},
    }
    # One statement's few probes always cost less than summing a window's deltas.
    if queryid is None and _summed_window("w", params, using):
        sums = _summed_sql("w")
    else:
        sums = _between(f"({_running_sql(['wstart', 'wend'])}) AS running", 0, 1)
    filtered = queryid is None and (dbid is not None or userid is not None)
    everything = (
        "sum(summed.total_ms) OVER ()"
        if filtered
        else f"""(SELECT sum(s.total_ms) FROM {SNAPSHOTS} AS s
                  WHERE s.database_alias = %(alias)s AND s.taken_at >= %(wstart)s AND s.taken_at < %(wend)s)"""  # noqa: S608 -- a table name constant
    )
    return fetch_rows(
        StatementTotals,
        f"""
        WITH summed AS ({sums}),
        ranked AS (
            SELECT summed.*,
                   summed.total_ms / NULLIF(summed.calls, 0) AS mean_ms,
                   coalesce(summed.total_ms / NULLIF({everything}, 0), 0) AS share
            FROM summed
            WHERE summed.calls > 0
        ),
        top AS (
            SELECT *
            FROM ranked
            ORDER BY {column} DESC NULLS LAST, queryid
            LIMIT %(limit)s
        )
        SELECT top.dbid AS dbid,
               top.userid AS userid,
               top.queryid AS queryid,
               coalesce(t.query, '') AS query,
               top.calls::bigint AS calls,
               top.total_ms AS total_ms,
               coalesce(top.mean_ms, 0) AS mean_ms,
               top.rows::bigint AS rows,
               top.shared_blks_hit::bigint AS shared_blks_hit,
               top.shared_blks_read::bigint AS shared_blks_read,
               top.temp_blks_written::bigint AS temp_blks_written,
               top.share AS share
        FROM top
        LEFT JOIN {TEXTS} AS t ON t.queryid = top.queryid
        ORDER BY top.{column} DESC NULLS LAST, top.queryid
        """,  # noqa: S608 -- the order column comes from ORDERS, never from input
        params,
        using=using,
    )


def has_deltas(alias: str, start: datetime, end: datetime, *, using: str = "default") -> bool:
    """Return whether a snapshot taken in [start, end) follows another one (so that the window has figures)."""
    row = fetch_one(
        f"""
        SELECT EXISTS (
            SELECT 1
            FROM {SNAPSHOTS}
            WHERE database_alias = %(alias)s
              AND taken_at >= %(start)s AND taken_at < %(end)s
              AND previous_taken_at IS NOT NULL
        )
        """,  # noqa: S608 -- table names are this module's constants
        {"alias": alias, "start": start, "end": end},
        using=using,
    )
    return bool(row and row[0])


def regressions(
    alias: str,
    before: tuple[datetime, datetime],
    after: tuple[datetime, datetime],
    *,
    min_calls: int,
    limit: int = 50,
    dbid: int | None = None,
    userid: int | None = None,
    using: str = "default",
) -> list[StatementChange]:
    """Return the statements whose mean time rose most from the earlier window to the later one."""
    params: dict[str, Any] = {
        "alias": alias,
        "dbid": dbid,
        "userid": userid,
        "queryid": None,
        "limit": limit,
        "min_calls": min_calls,
    }
    params["bstart"], params["bend"], params["astart"], params["aend"] = *before, *after
    summed = _summed_window("b", params, using) & _summed_window("a", params, using)  # both ids, whichever
    if before[1] == after[0] and not summed:
        # Adjacent windows share their middle bound: two probes per statement (none at a bound that is now), of the
        # statements that ran on both sides of it (only those can have slowed down).
        running = f"running AS MATERIALIZED ({_running_sql(['bstart', 'astart', 'aend'], spanning='astart')}),"
        earlier, later = _between("running", 0, 1), _between("running", 1, 2)
    else:
        running, earlier, later = "", _summed_sql("b"), _summed_sql("a")
    return fetch_rows(
        StatementChange,
        f"""
        WITH {running}
        earlier AS ({earlier}),
        later AS ({later}),
        changed AS (
            SELECT l.dbid, l.userid, l.queryid,
                   e.calls AS before_calls, e.total_ms / e.calls AS before_mean_ms,
                   l.calls AS after_calls, l.total_ms / l.calls AS after_mean_ms, l.total_ms AS after_total_ms
            FROM later AS l
            JOIN earlier AS e USING (dbid, userid, queryid)
            WHERE l.calls >= %(min_calls)s AND e.calls >= %(min_calls)s
              AND l.total_ms / l.calls > e.total_ms / e.calls
            ORDER BY l.total_ms / l.calls - e.total_ms / e.calls DESC, l.queryid
            LIMIT %(limit)s
        )
        SELECT c.dbid AS dbid,
               c.userid AS userid,
               c.queryid AS queryid,
               coalesce(t.query, '') AS query,
               c.before_calls::bigint AS before_calls,
               c.before_mean_ms AS before_mean_ms,
               c.after_calls::bigint AS after_calls,
               c.after_mean_ms AS after_mean_ms,
               c.after_total_ms AS after_total_ms
        FROM changed AS c
        LEFT JOIN {TEXTS} AS t ON t.queryid = c.queryid
        ORDER BY c.after_mean_ms - c.before_mean_ms DESC, c.queryid
        """,  # noqa: S608 -- table names are constants; every value is a parameter
        params,
        using=using,
    )
