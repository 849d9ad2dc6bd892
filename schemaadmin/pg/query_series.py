"""Query statistics over time in SchemaAdmin's own tables: when a window's snapshots were taken, and each
statement's calls and time per bucket of it (the charts and sparklines), summed in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schemaadmin.pg.connection import fetch_rows
from schemaadmin.pg.query_history import DELTAS, FIRST_SNAPSHOT_SQL, LAST_SNAPSHOT_SQL, ROLLUPS, SNAPSHOTS

__all__ = ["SeriesLine", "series", "snapshot_times"]


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
             AND d.snapshot_id >= ({FIRST_SNAPSHOT_SQL.format(start="%(first)s")})
             AND d.snapshot_id <= ({LAST_SNAPSHOT_SQL.format(end="%(end)s")})
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
