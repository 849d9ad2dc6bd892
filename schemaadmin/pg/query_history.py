"""Query statistics over time in SchemaAdmin's own tables: write a snapshot's deltas, sum windows, prune.

The tables are the models of models/query_stats.py (named here by their db_table). Every delta also carries its
statement's running totals, and each statement's key its running totals now, so a window [start, end) is its
statements' running totals before end less those before start: the key's own at a bound that is now, else one
probe of the running-totals index each. Fourteen days cost what one hour does. Hour and day roll-ups serve the
series (sparklines and a statement's chart).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemaadmin.pg.connection import cursor, fetch_one, fetch_row, fetch_rows
from schemaadmin.pg.stats import ORDERS, StatementCounters, StatementTotals

__all__ = [
    "DeltaOutcome",
    "SeriesLine",
    "StatementChange",
    "add_to_rollups",
    "has_deltas",
    "lock_series",
    "prune_before",
    "record_deltas",
    "refresh_baseline",
    "regressions",
    "series",
    "snapshot_times",
    "window_totals",
]

SNAPSHOTS = "schemaadmin_query_snapshot"
DELTAS = "schemaadmin_query_stat_delta"
ROLLUPS = "schemaadmin_query_stat_rollup"
BASELINE = "schemaadmin_query_stat_baseline"
TEXTS = "schemaadmin_query_text"
KEYS = "schemaadmin_query_stat_key"
COUNTERS = ("calls", "total_ms", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written")
_CUMULATIVE = ", ".join(f"cum_{name}" for name in COUNTERS)


@dataclass(frozen=True, slots=True)
class DeltaOutcome:
    changed: int  # statements whose counters moved
    kept: int  # deltas stored (the costliest, up to the limit)
    kept_ms: float  # their time together
    missing_texts: tuple[int, ...]  # queryids of stored deltas whose text is not stored yet


@dataclass(frozen=True, slots=True)
class SeriesLine:
    """One statement's calls and time per bin; bins are 1-based positions among the bin starts asked for."""

    dbid: int
    userid: int
    queryid: int
    bins: tuple[int, ...]
    calls: tuple[int, ...]
    total_ms: tuple[float, ...]


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


def lock_series(alias: str, *, using: str = "default") -> None:
    """Wait until no other transaction is snapshotting this alias's server, then hold that until commit."""
    with cursor(using) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"schemaadmin.query_stats:{alias}"])


def _counter_arrays(counters: Sequence[StatementCounters]) -> dict[str, list[Any]]:
    names = ("dbid", "userid", "queryid", *COUNTERS, "stats_since")
    return {name: [getattr(row, name) for row in counters] for name in names}


_CURRENT = """
    current AS (
        SELECT *
        FROM unnest(
            %(dbid)s::bigint[], %(userid)s::bigint[], %(queryid)s::bigint[], %(calls)s::bigint[],
            %(total_ms)s::float8[], %(rows)s::bigint[], %(shared_blks_hit)s::bigint[],
            %(shared_blks_read)s::bigint[], %(temp_blks_written)s::bigint[], %(stats_since)s::timestamptz[]
        ) AS c(dbid, userid, queryid, calls, total_ms, rows, shared_blks_hit, shared_blks_read,
               temp_blks_written, stats_since)
    )
"""


def record_deltas(
    snapshot_id: int,
    alias: str,
    counters: Sequence[StatementCounters],
    *,
    taken_at: datetime,
    reset: bool,
    limit: int,
    using: str = "default",
) -> DeltaOutcome:
    """Store what each statement did since the baseline: the costliest `limit` that moved, never a negative delta."""
    # An entry counts from zero again after a reset of everything, a reset of its own, or an eviction and
    # return: then everything it counted happened since the previous snapshot, and its delta is its counters.
    # stats_since says so on PostgreSQL 17+; before that, a counter smaller than the baseline's does.
    row = fetch_one(
        f"""
        WITH {_CURRENT},
        compared AS (
            SELECT c.*,
                   (%(reset)s OR b.queryid IS NULL
                    OR c.stats_since IS DISTINCT FROM b.stats_since
                    OR c.calls < b.calls OR c.total_ms < b.total_ms) AS restarted,
                   b.calls AS b_calls, b.total_ms AS b_total_ms, b.rows AS b_rows,
                   b.shared_blks_hit AS b_hit, b.shared_blks_read AS b_read, b.temp_blks_written AS b_temp
            FROM current AS c
            LEFT JOIN {BASELINE} AS b
              ON b.database_alias = %(alias)s AND b.dbid = c.dbid AND b.userid = c.userid AND b.queryid = c.queryid
        ),
        changed AS (
            SELECT dbid, userid, queryid,
                   CASE WHEN restarted THEN calls ELSE calls - b_calls END AS calls,
                   CASE WHEN restarted THEN total_ms ELSE greatest(total_ms - b_total_ms, 0) END AS total_ms,
                   CASE WHEN restarted THEN rows ELSE greatest(rows - b_rows, 0) END AS rows,
                   CASE WHEN restarted THEN shared_blks_hit ELSE greatest(shared_blks_hit - b_hit, 0) END
                       AS shared_blks_hit,
                   CASE WHEN restarted THEN shared_blks_read ELSE greatest(shared_blks_read - b_read, 0) END
                       AS shared_blks_read,
                   CASE WHEN restarted THEN temp_blks_written ELSE greatest(temp_blks_written - b_temp, 0) END
                       AS temp_blks_written
            FROM compared
            WHERE CASE WHEN restarted THEN calls ELSE calls - b_calls END > 0
        ),
        top AS (
            SELECT *
            FROM changed
            ORDER BY total_ms DESC, queryid
            LIMIT %(limit)s
        ),
        kept AS (
            INSERT INTO {DELTAS} (snapshot_id, dbid, userid, queryid, calls, total_ms, rows,
                                  shared_blks_hit, shared_blks_read, temp_blks_written,
                                  cum_calls, cum_total_ms, cum_rows, cum_shared_blks_hit, cum_shared_blks_read,
                                  cum_temp_blks_written)
            SELECT %(snapshot)s, t.dbid, t.userid, t.queryid, t.calls, t.total_ms, t.rows,
                   t.shared_blks_hit, t.shared_blks_read, t.temp_blks_written,
                   coalesce(k.cum_calls, 0) + t.calls, coalesce(k.cum_total_ms, 0) + t.total_ms,
                   coalesce(k.cum_rows, 0) + t.rows, coalesce(k.cum_shared_blks_hit, 0) + t.shared_blks_hit,
                   coalesce(k.cum_shared_blks_read, 0) + t.shared_blks_read,
                   coalesce(k.cum_temp_blks_written, 0) + t.temp_blks_written
            FROM top AS t
            LEFT JOIN {KEYS} AS k
              ON k.database_alias = %(alias)s AND k.dbid = t.dbid AND k.userid = t.userid AND k.queryid = t.queryid
            RETURNING dbid, userid, queryid, total_ms, {_CUMULATIVE}
        ),
        keys AS (
            INSERT INTO {KEYS} AS k (database_alias, dbid, userid, queryid, first_taken_at, last_taken_at,
                                     {_CUMULATIVE})
            SELECT %(alias)s, dbid, userid, queryid, %(taken_at)s, %(taken_at)s, {_CUMULATIVE}
            FROM kept
            ON CONFLICT (database_alias, dbid, userid, queryid) DO UPDATE
            SET last_taken_at = EXCLUDED.last_taken_at,
                {", ".join(f"cum_{name} = EXCLUDED.cum_{name}" for name in COUNTERS)}
        )
        SELECT (SELECT count(*) FROM changed) AS changed,
               (SELECT count(*) FROM kept) AS kept,
               (SELECT coalesce(sum(total_ms), 0) FROM kept) AS kept_ms,
               ARRAY(
                   SELECT DISTINCT k.queryid
                   FROM kept AS k
                   WHERE NOT EXISTS (SELECT 1 FROM {TEXTS} AS t WHERE t.queryid = k.queryid)
               ) AS missing_texts
        """,  # noqa: S608 -- table names are this module's constants
        {
            **_counter_arrays(counters),
            "snapshot": snapshot_id,
            "alias": alias,
            "taken_at": taken_at,
            "reset": reset,
            "limit": limit,
        },
        using=using,
    )
    assert row is not None
    return DeltaOutcome(changed=row[0], kept=row[1], kept_ms=row[2], missing_texts=tuple(row[3]))


def refresh_baseline(alias: str, counters: Sequence[StatementCounters], *, using: str = "default") -> None:
    """Make the counters the baseline: update the entries that moved, add new ones, drop those that left."""
    with cursor(using) as cur:
        cur.execute(
            f"""
            WITH {_CURRENT},
            gone AS (
                DELETE FROM {BASELINE} AS b
                WHERE b.database_alias = %(alias)s
                  AND NOT EXISTS (
                      SELECT 1 FROM current AS c
                      WHERE c.dbid = b.dbid AND c.userid = b.userid AND c.queryid = b.queryid
                  )
            )
            INSERT INTO {BASELINE} AS b (database_alias, dbid, userid, queryid, calls, total_ms, rows,
                                         shared_blks_hit, shared_blks_read, temp_blks_written, stats_since)
            SELECT %(alias)s, c.dbid, c.userid, c.queryid, c.calls, c.total_ms, c.rows,
                   c.shared_blks_hit, c.shared_blks_read, c.temp_blks_written, c.stats_since
            FROM current AS c
            ON CONFLICT (database_alias, dbid, userid, queryid) DO UPDATE
            SET calls = EXCLUDED.calls, total_ms = EXCLUDED.total_ms, rows = EXCLUDED.rows,
                shared_blks_hit = EXCLUDED.shared_blks_hit, shared_blks_read = EXCLUDED.shared_blks_read,
                temp_blks_written = EXCLUDED.temp_blks_written, stats_since = EXCLUDED.stats_since
            WHERE (b.calls, b.total_ms, b.stats_since) IS DISTINCT FROM
                  (EXCLUDED.calls, EXCLUDED.total_ms, EXCLUDED.stats_since)
            """,  # noqa: S608 -- table names are this module's constants
            {**_counter_arrays(counters), "alias": alias},
        )


def add_to_rollups(snapshot_id: int, *, using: str = "default") -> None:
    """Add a snapshot's deltas to the hour and day roll-ups of the UTC hour and day it was taken in."""
    with cursor(using) as cur:
        cur.execute(
            f"""
            INSERT INTO {ROLLUPS} AS r (database_alias, span, bucket, dbid, userid, queryid, calls, total_ms, rows,
                                        shared_blks_hit, shared_blks_read, temp_blks_written)
            SELECT s.database_alias, spans.span, date_trunc(spans.span, s.taken_at, 'UTC'),
                   d.dbid, d.userid, d.queryid, d.calls, d.total_ms, d.rows,
                   d.shared_blks_hit, d.shared_blks_read, d.temp_blks_written
            FROM {DELTAS} AS d
            JOIN {SNAPSHOTS} AS s ON s.id = d.snapshot_id
            CROSS JOIN (VALUES ('hour'), ('day')) AS spans(span)
            WHERE d.snapshot_id = %(snapshot)s
            ON CONFLICT (database_alias, span, bucket, dbid, userid, queryid) DO UPDATE
            SET calls = r.calls + EXCLUDED.calls, total_ms = r.total_ms + EXCLUDED.total_ms,
                rows = r.rows + EXCLUDED.rows, shared_blks_hit = r.shared_blks_hit + EXCLUDED.shared_blks_hit,
                shared_blks_read = r.shared_blks_read + EXCLUDED.shared_blks_read,
                temp_blks_written = r.temp_blks_written + EXCLUDED.temp_blks_written
            """,  # noqa: S608 -- table names are this module's constants
            {"snapshot": snapshot_id},
        )


def prune_before(alias: str, cutoff: datetime, *, using: str = "default") -> int:
    """Delete the snapshots (their deltas go with them), roll-ups and orphaned texts older than cutoff; count them."""
    with cursor(using) as cur:
        cur.execute(
            f"""
            DELETE FROM {SNAPSHOTS}
            WHERE database_alias = %(alias)s
              AND taken_at < %(cutoff)s
            """,  # noqa: S608 -- table names are this module's constants
            {"alias": alias, "cutoff": cutoff},
        )
        snapshots = cur.rowcount
        # A day's roll-up goes when the whole day is past the cutoff, so a window reaching back to it stays whole.
        cur.execute(
            f"""
            DELETE FROM {ROLLUPS}
            WHERE database_alias = %(alias)s
              AND bucket + CASE span WHEN 'day' THEN interval '1 day' ELSE interval '1 hour' END <= %(cutoff)s
            """,  # noqa: S608 -- table names are this module's constants
            {"alias": alias, "cutoff": cutoff},
        )
        cur.execute(
            f"""
            DELETE FROM {KEYS}
            WHERE database_alias = %(alias)s
              AND last_taken_at < %(cutoff)s
            """,  # noqa: S608 -- table names are this module's constants
            {"alias": alias, "cutoff": cutoff},
        )
        if snapshots:
            cur.execute(
                f"""
                DELETE FROM {TEXTS} AS t
                WHERE NOT EXISTS (SELECT 1 FROM {ROLLUPS} AS r WHERE r.queryid = t.queryid)
                  AND NOT EXISTS (SELECT 1 FROM {BASELINE} AS b WHERE b.queryid = t.queryid)
                """  # noqa: S608 -- table names are this module's constants
            )
    return snapshots


# The first and the last snapshot of a window, through (database_alias, taken_at): snapshot ids grow with taken_at.
_FIRST_SNAPSHOT = f"""
    SELECT id FROM {SNAPSHOTS} WHERE database_alias = %(alias)s AND taken_at >= {{start}} ORDER BY taken_at LIMIT 1
"""  # noqa: S608 -- a table name constant
_LAST_SNAPSHOT = f"""
    SELECT id FROM {SNAPSHOTS} WHERE database_alias = %(alias)s AND taken_at < {{end}} ORDER BY taken_at DESC LIMIT 1
"""  # noqa: S608 -- a table name constant

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
    size = fetch_row(
        _WindowSize,
        f"""
        SELECT (SELECT coalesce(sum(statements_kept), 0)::bigint FROM {SNAPSHOTS}
                WHERE database_alias = %(alias)s AND taken_at >= %(start)s AND taken_at < %(end)s) AS deltas,
               (SELECT count(*) FROM {SNAPSHOTS}
                WHERE database_alias = %(alias)s AND taken_at >= %(start)s AND taken_at < %(end)s) AS snapshots,
               (SELECT count(*) FROM {KEYS}
                WHERE database_alias = %(alias)s AND last_taken_at >= %(start)s AND first_taken_at < %(end)s)
                   AS candidates,
               ({_FIRST_SNAPSHOT.format(start="%(start)s")}) AS first_id,
               ({_LAST_SNAPSHOT.format(end="%(end)s")}) AS last_id
        """,  # noqa: S608 -- table names are this module's constants
        {"alias": alias, "start": start, "end": end},
        using=using,
    )
    assert size is not None
    return size


def _summed_sql(prefix: str) -> str:
    """Return a SELECT of each statement's sums of its deltas in [%(<prefix>start)s, %(<prefix>end)s).

    The ids of its first and last snapshot (%(<prefix>first)s, %(<prefix>last)s, every id between them the alias's:
    _summed_window checks) are the primary key's range: the planner sees how many deltas it reads. Through a
    subquery of snapshots it took six hours for all of them and scanned every delta; with both, one row.
    """
    summed = ", ".join(f"sum(d.{name}) AS {name}" for name in COUNTERS)
    return f"""
        SELECT d.dbid, d.userid, d.queryid, {summed}
        FROM {DELTAS} AS d
        WHERE d.snapshot_id BETWEEN %({prefix}first)s AND %({prefix}last)s
          AND (%(dbid)s::bigint IS NULL OR d.dbid = %(dbid)s::bigint)
          AND (%(userid)s::bigint IS NULL OR d.userid = %(userid)s::bigint)
          AND (%(queryid)s::bigint IS NULL OR d.queryid = %(queryid)s::bigint)
        GROUP BY d.dbid, d.userid, d.queryid
    """  # noqa: S608 -- table and column names are this module's constants; every value is a parameter


def _running_sql(bounds: Sequence[str]) -> str:
    """Return a SELECT of each statement with deltas between the first and last bound (parameter names) and its
    running totals before each bound i, as columns c<i>_<counter>.

    Before a bound, they are the running totals of its first delta at or after it less that delta, one probe of
    the running-totals index; or its key's own when its latest delta is older than the bound (every bound that is
    now): no probe. Pruning never changes them, so neither does it change a window's sums.
    """
    columns, probes = [], []
    for i, bound in enumerate(bounds):
        columns += [
            f"CASE WHEN k.last_taken_at < %({bound})s THEN k.cum_{name} ELSE p{i}.cum_{name} - p{i}.{name} END"
            f" AS c{i}_{name}"
            for name in COUNTERS
        ]
        probes.append(f"""
        LEFT JOIN LATERAL (
            SELECT {", ".join(f"d.{name}, d.cum_{name}" for name in COUNTERS)}
            FROM {DELTAS} AS d
            WHERE d.dbid = k.dbid AND d.userid = k.userid AND d.queryid = k.queryid
              AND k.last_taken_at >= %({bound})s
              AND d.snapshot_id >= ({_FIRST_SNAPSHOT.format(start=f"%({bound})s")})
            ORDER BY d.snapshot_id
            LIMIT 1
        ) AS p{i} ON true""")  # noqa: S608 -- table and column names are this module's constants
    return f"""
        SELECT k.dbid, k.userid, k.queryid, {", ".join(columns)}
        FROM {KEYS} AS k
        {"".join(probes)}
        WHERE k.database_alias = %(alias)s
          AND k.last_taken_at >= %({bounds[0]})s AND k.first_taken_at < %({bounds[-1]})s
          AND (%(dbid)s::bigint IS NULL OR k.dbid = %(dbid)s::bigint)
          AND (%(userid)s::bigint IS NULL OR k.userid = %(userid)s::bigint)
          AND (%(queryid)s::bigint IS NULL OR k.queryid = %(queryid)s::bigint)
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


@dataclass(frozen=True, slots=True)
class _Moment:
    taken_at: datetime


def snapshot_times(alias: str, start: datetime, end: datetime, *, using: str = "default") -> list[datetime]:
    """Return when each snapshot in [start, end) was taken, oldest first."""
    rows = fetch_rows(
        _Moment,
        f"""
        SELECT taken_at AS taken_at
        FROM {SNAPSHOTS}
        WHERE database_alias = %(alias)s
          AND taken_at >= %(start)s AND taken_at < %(end)s
        ORDER BY taken_at
        """,  # noqa: S608 -- table names are this module's constants
        {"alias": alias, "start": start, "end": end},
        using=using,
    )
    return [row.taken_at for row in rows]


_SPAN_SECONDS = {"hour": 3600.0, "day": 86400.0}


def series(
    alias: str,
    starts: Sequence[datetime],
    end: datetime,
    keys: Sequence[tuple[int, int, int]],
    *,
    span: str,
    using: str = "default",
) -> list[SeriesLine]:
    """Return each statement's (dbid, userid, queryid) calls and time per bin, summed in SQL.

    A bin runs from one of starts (ascending: snapshot times, or hour or day buckets as span says) to the next, the
    last one to end; one row per statement, so a page reads as many rows as it shows statements.
    """
    params = {
        "alias": alias,
        "starts": list(starts),
        "first": starts[0],
        "end": end,
        "dbids": [key[0] for key in keys],
        "userids": [key[1] for key in keys],
        "queryids": [key[2] for key in keys],
        "span": span,
    }
    if span == "snapshot":
        # Through the running-totals index, one range of snapshots per statement.
        points = f"""
            SELECT d.dbid, d.userid, d.queryid, width_bucket(s.taken_at, %(starts)s::timestamptz[]) AS bin,
                   d.calls, d.total_ms
            FROM unnest(%(dbids)s::bigint[], %(userids)s::bigint[], %(queryids)s::bigint[]) AS k(dbid, userid, queryid)
            JOIN {DELTAS} AS d
              ON d.dbid = k.dbid AND d.userid = k.userid AND d.queryid = k.queryid
             AND d.snapshot_id >= ({_FIRST_SNAPSHOT.format(start="%(first)s")})
             AND d.snapshot_id <= ({_LAST_SNAPSHOT.format(end="%(end)s")})
            JOIN {SNAPSHOTS} AS s ON s.id = d.snapshot_id AND s.database_alias = %(alias)s
            WHERE s.taken_at >= %(first)s
        """  # noqa: S608 -- table names are this module's constants
    else:
        # Buckets are whole hours or days and bins equal runs of them: a bin is a division, not a search. The same
        # queryid under another database or role comes along too (rarely): the caller keeps the keys it asked for.
        params["width"] = (starts[1] - starts[0]).total_seconds() if len(starts) > 1 else _SPAN_SECONDS[span]
        points = f"""
            SELECT r.dbid, r.userid, r.queryid,
                   floor(extract(epoch FROM r.bucket - %(first)s) / %(width)s)::int + 1 AS bin, r.calls, r.total_ms
            FROM {ROLLUPS} AS r
            WHERE r.queryid = ANY(%(queryids)s)
              AND r.span = %(span)s
              AND r.bucket >= %(first)s AND r.bucket < %(end)s
              AND r.database_alias = %(alias)s
        """  # noqa: S608 -- table names are this module's constants
    sql = f"""
        WITH binned AS (
            SELECT dbid, userid, queryid, bin, sum(calls)::bigint AS calls, sum(total_ms) AS total_ms
            FROM ({points}) AS points
            GROUP BY dbid, userid, queryid, bin
        )
        SELECT dbid AS dbid,
               userid AS userid,
               queryid AS queryid,
               array_agg(bin ORDER BY bin) AS bins,
               array_agg(calls ORDER BY bin) AS calls,
               array_agg(total_ms ORDER BY bin) AS total_ms
        FROM binned
        GROUP BY dbid, userid, queryid
    """  # noqa: S608 -- built from this function's constant fragments
    return fetch_rows(SeriesLine, sql, params, using=using)


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
        # Adjacent windows share their middle bound: two probes per statement (none at a bound that is now).
        running = f"running AS MATERIALIZED ({_running_sql(['bstart', 'astart', 'aend'])}),"
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
