"""Query statistics over time in SchemaAdmin's own tables, the writing side: a snapshot's deltas, roll-ups, pruning.

The tables are the models of models/query_stats.py (named here by their db_table). Every delta also carries its
statement's running totals, and each statement's key its running totals now, so that pg/query_windows.py sums any
window with one probe per statement. Hour and day roll-ups serve the series (sparklines and a statement's chart).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemaadmin.pg.connection import cursor, fetch_one
from schemaadmin.pg.stats import StatementCounters

__all__ = [
    "BASELINE",
    "COUNTERS",
    "DELTAS",
    "FIRST_SNAPSHOT_SQL",
    "KEYS",
    "LAST_SNAPSHOT_SQL",
    "ROLLUPS",
    "SNAPSHOTS",
    "TEXTS",
    "DeltaOutcome",
    "add_to_rollups",
    "lock_series",
    "prune_before",
    "record_deltas",
    "refresh_baseline",
]

SNAPSHOTS = "schemaadmin_query_snapshot"
DELTAS = "schemaadmin_query_stat_delta"
ROLLUPS = "schemaadmin_query_stat_rollup"
BASELINE = "schemaadmin_query_stat_baseline"
TEXTS = "schemaadmin_query_text"
KEYS = "schemaadmin_query_stat_key"
COUNTERS = ("calls", "total_ms", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written")
# The first and the last snapshot of a window, through (database_alias, taken_at): snapshot ids grow with taken_at.
# What the reading side (pg/query_windows.py, pg/query_series.py) bounds a window's deltas with.
FIRST_SNAPSHOT_SQL = f"""
    SELECT id FROM {SNAPSHOTS} WHERE database_alias = %(alias)s AND taken_at >= {{start}} ORDER BY taken_at LIMIT 1
"""  # noqa: S608 -- a table name constant
LAST_SNAPSHOT_SQL = f"""
    SELECT id FROM {SNAPSHOTS} WHERE database_alias = %(alias)s AND taken_at < {{end}} ORDER BY taken_at DESC LIMIT 1
"""  # noqa: S608 -- a table name constant
_CUMULATIVE = ", ".join(f"cum_{name}" for name in COUNTERS)


@dataclass(frozen=True, slots=True)
class DeltaOutcome:
    changed: int  # statements whose counters moved
    kept: int  # deltas stored (the costliest, up to the limit)
    kept_ms: float  # their time together
    missing_texts: tuple[int, ...]  # queryids of stored deltas whose text is not stored yet


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


def refresh_baseline(
    alias: str, counters: Sequence[StatementCounters], *, kept_in: int | None = None, using: str = "default"
) -> None:
    """Make the counters the baseline: update the entries that moved, add new ones, drop those that left.

    With kept_in (the snapshot whose deltas were just stored), an entry that moved but whose delta was not kept (past
    QUERY_STATS_MAX_STATEMENTS_PER_SNAPSHOT) keeps its old baseline, or stays without one: its calls are counted by
    the snapshot that keeps it, not lost. Advanced for every entry, a cheap statement's calls left out of one
    snapshot were gone for good (29 of 306 calls shown, a quiet database's statements absent).
    """
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
            WHERE %(kept_in)s::bigint IS NULL
               OR EXISTS (
                   SELECT 1 FROM {DELTAS} AS d
                   WHERE d.snapshot_id = %(kept_in)s
                     AND d.dbid = c.dbid AND d.userid = c.userid AND d.queryid = c.queryid
               )
            ON CONFLICT (database_alias, dbid, userid, queryid) DO UPDATE
            SET calls = EXCLUDED.calls, total_ms = EXCLUDED.total_ms, rows = EXCLUDED.rows,
                shared_blks_hit = EXCLUDED.shared_blks_hit, shared_blks_read = EXCLUDED.shared_blks_read,
                temp_blks_written = EXCLUDED.temp_blks_written, stats_since = EXCLUDED.stats_since
            WHERE (b.calls, b.total_ms, b.stats_since) IS DISTINCT FROM
                  (EXCLUDED.calls, EXCLUDED.total_ms, EXCLUDED.stats_since)
            """,  # noqa: S608 -- table names are this module's constants
            {**_counter_arrays(counters), "alias": alias, "kept_in": kept_in},
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


# What a cutoff removes, table by table: the snapshots (their deltas go with them), the roll-ups whose whole bucket
# is past it (a day's goes when the whole day is, so a window reaching back to it stays whole), and the statements
# last seen before it. The first count is the snapshots', the third the day roll-ups'.
_PAST_CUTOFF = (
    (SNAPSHOTS, "taken_at < %(cutoff)s"),
    # Per span, each a range of the primary key (database_alias, span, bucket, ...): a bucket's end computed from its
    # span could not use it and read every roll-up on each snapshot (9M in 1.1-1.3 s, 120 days kept).
    (ROLLUPS, "span = 'hour' AND bucket <= %(cutoff)s - interval '1 hour'"),
    (ROLLUPS, "span = 'day' AND bucket <= %(cutoff)s - interval '1 day'"),
    (KEYS, "last_taken_at < %(cutoff)s"),
)


def prune_before(alias: str, cutoff: datetime, *, using: str = "default") -> int:
    """Delete the snapshots (their deltas go with them), roll-ups and orphaned texts older than cutoff; count them.

    A text is orphaned once no roll-up nor baseline entry has its statement. Every stored delta adds to a day
    roll-up, which outlives the hour's: only a prune that deletes day roll-ups (once a day) can orphan a text, or
    leave one the baseline dropped since. Swept on every prune, the texts cost a probe each every five minutes (85k
    texts: 0.6-1.1 s).
    """
    with cursor(using) as cur:
        deleted = []
        for table, past_cutoff in _PAST_CUTOFF:
            cur.execute(
                f"DELETE FROM {table} WHERE database_alias = %(alias)s AND {past_cutoff}",  # noqa: S608 -- constants
                {"alias": alias, "cutoff": cutoff},
            )
            deleted.append(cur.rowcount)
        snapshots, day_rollups = deleted[0], deleted[2]
        if day_rollups:
            cur.execute(
                f"""
                DELETE FROM {TEXTS} AS t
                WHERE NOT EXISTS (SELECT 1 FROM {ROLLUPS} AS r WHERE r.queryid = t.queryid)
                  AND NOT EXISTS (SELECT 1 FROM {BASELINE} AS b WHERE b.queryid = t.queryid)
                """  # noqa: S608 -- table names are this module's constants
            )
    return snapshots
