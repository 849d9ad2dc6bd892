"""Benchmark query statistics: 5,000 statements and 14 days of 5-minute snapshots in a scratch embedded PostgreSQL.

    .venv/bin/python bench/queries.py [--statements 5000] [--days 14] [--per-snapshot 500] [--repeat 5]

Starts its own throwaway server (the dev database in .pgdata is never touched), migrates, and writes the history
straight with SQL: a snapshot every 5 minutes for --days days, each with --per-snapshot deltas (a hot fifth of
the statements in every snapshot, the rest rotating through all of them), their hour and day roll-ups, texts and
a baseline. It measures /queries/ for every window (budget 200 ms), the regressions and detail pages, then runs
--statements real distinct statements so that pg_stat_statements holds them all, and times real snapshots
(budget 1 s) and prints the storage per day. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.activity import _timed_ms  # noqa: E402 -- after the project root is on the path

PAGE_BUDGET_MS = 200
SNAPSHOT_BUDGET_MS = 1000
TABLES = (
    "schemaadmin_query_snapshot",
    "schemaadmin_query_stat_key",
    "schemaadmin_query_stat_delta",
    "schemaadmin_query_stat_rollup",
    "schemaadmin_query_stat_baseline",
    "schemaadmin_query_text",
)


def _history(cursor, statements: int, days: int, per_snapshot: int) -> None:
    """Write days of 5-minute snapshots, per_snapshot deltas each, their roll-ups, texts and a baseline."""
    hot = max(1, per_snapshot // 5)
    rotating = per_snapshot - hot
    cursor.execute(
        """
        INSERT INTO schemaadmin_query_snapshot (database_alias, taken_at, previous_taken_at, stats_reset, dealloc,
                                                reset, evicted, statements_changed, statements_kept)
        SELECT 'default', t, t - interval '5 minutes', now() - interval '30 days', 0, false, 0, %(per)s, %(per)s
        FROM generate_series(now() - make_interval(days => %(days)s), now() - interval '5 minutes',
                             interval '5 minutes') AS t
        """,
        {"days": days, "per": per_snapshot},
    )
    columns = "calls, total_ms, rows, shared_blks_hit, shared_blks_read, temp_blks_written"
    running = ", ".join(
        f"sum({name}) OVER (PARTITION BY dbid, userid, queryid ORDER BY snapshot_id)" for name in columns.split(", ")
    )
    cursor.execute(
        f"""
        INSERT INTO schemaadmin_query_stat_delta (snapshot_id, dbid, userid, queryid, {columns},
                                                  cum_calls, cum_total_ms, cum_rows, cum_shared_blks_hit,
                                                  cum_shared_blks_read, cum_temp_blks_written)
        SELECT snapshot_id, dbid, userid, queryid, {columns}, {running}
        FROM (
            SELECT s.id AS snapshot_id, d.oid AS dbid, r.oid AS userid, q.queryid,
                   1 + (q.queryid * 7 + s.id) %% 50 AS calls,
                   ((q.queryid * 13 + s.id) %% 1000) / 10.0 + 0.05 AS total_ms,
                   (q.queryid + s.id) %% 200 AS rows,
                   (q.queryid * 3 + s.id) %% 5000 AS shared_blks_hit, (q.queryid + s.id) %% 40 AS shared_blks_read,
                   (q.queryid + s.id) %% 7 AS temp_blks_written
            FROM schemaadmin_query_snapshot AS s
            CROSS JOIN (SELECT oid FROM pg_database WHERE datname = current_database()) AS d
            CROSS JOIN (SELECT oid FROM pg_roles WHERE rolname = current_user) AS r
            CROSS JOIN LATERAL (
                SELECT h AS queryid FROM generate_series(1, %(hot)s) AS h
                UNION ALL
                SELECT %(hot)s + 1 + ((s.id * %(rotating)s + k) %% (%(statements)s - %(hot)s))
                FROM generate_series(0, %(rotating)s - 1) AS k
            ) AS q
        ) AS generated
        ORDER BY snapshot_id
        """,  # noqa: S608 -- column names are constants
        {"hot": hot, "rotating": rotating, "statements": statements},
    )
    cursor.execute(
        """
        INSERT INTO schemaadmin_query_stat_key (database_alias, dbid, userid, queryid, first_taken_at, last_taken_at,
                                                cum_calls, cum_total_ms, cum_rows, cum_shared_blks_hit,
                                                cum_shared_blks_read, cum_temp_blks_written)
        SELECT 'default', d.dbid, d.userid, d.queryid, min(s.taken_at), max(s.taken_at),
               sum(d.calls), sum(d.total_ms), sum(d.rows), sum(d.shared_blks_hit), sum(d.shared_blks_read),
               sum(d.temp_blks_written)
        FROM schemaadmin_query_stat_delta AS d
        JOIN schemaadmin_query_snapshot AS s ON s.id = d.snapshot_id
        GROUP BY d.dbid, d.userid, d.queryid
        """
    )
    cursor.execute(
        """
        UPDATE schemaadmin_query_snapshot AS s
        SET total_ms = stored.total_ms
        FROM (SELECT snapshot_id, sum(total_ms) AS total_ms FROM schemaadmin_query_stat_delta GROUP BY snapshot_id)
             AS stored
        WHERE s.id = stored.snapshot_id
        """
    )
    for span in ("hour", "day"):
        cursor.execute(
            """
            INSERT INTO schemaadmin_query_stat_rollup (database_alias, span, bucket, dbid, userid, queryid, calls,
                                                       total_ms, rows, shared_blks_hit, shared_blks_read,
                                                       temp_blks_written)
            SELECT 'default', %(span)s, date_trunc(%(span)s, s.taken_at, 'UTC'), d.dbid, d.userid, d.queryid,
                   sum(d.calls), sum(d.total_ms), sum(d.rows), sum(d.shared_blks_hit), sum(d.shared_blks_read),
                   sum(d.temp_blks_written)
            FROM schemaadmin_query_stat_delta AS d
            JOIN schemaadmin_query_snapshot AS s ON s.id = d.snapshot_id
            GROUP BY 3, 4, 5, 6
            ORDER BY 3
            """,
            {"span": span},
        )
    cursor.execute(
        """
        INSERT INTO schemaadmin_query_text (queryid, query, first_seen)
        SELECT q, 'SELECT id, payload, created_at FROM bench_table_' || q || ' WHERE tenant_id = $1 AND created_at > $2'
                  || ' ORDER BY created_at DESC LIMIT $3', now()
        FROM generate_series(1, %(statements)s) AS q
        """,
        {"statements": statements},
    )


def _real_statements(cursor, statements: int) -> list[str]:
    """Create tables and return that many distinct statements (PostgreSQL 18 tells them apart by table name)."""
    columns = [f"c{i}" for i in range(10)]
    shapes = [[c] for c in columns] + [[a, b] for i, a in enumerate(columns) for b in columns[i + 1 :]]
    tables = -(-statements // len(shapes))
    cursor.execute("CREATE SCHEMA bench")
    for n in range(tables):
        cursor.execute(f"CREATE TABLE bench.w{n} (id int PRIMARY KEY, {', '.join(c + ' int' for c in columns)})")
    texts = [
        f"SELECT {', '.join(shape)} FROM bench.w{n} WHERE id = %s"  # noqa: S608 -- bench tables
        for n in range(tables)
        for shape in shapes
    ]
    return texts[:statements]


def _windows(now: datetime, days: int) -> dict[str, str]:
    """Return the windows the page offers, and custom ones of odd lengths and alignments, as query strings."""

    def custom(start_ago: timedelta, end_ago: timedelta) -> str:
        start, end = (now - start_ago).strftime("%Y-%m-%dT%H:%M"), (now - end_ago).strftime("%Y-%m-%dT%H:%M")
        return f"window=custom&start={start}&end={end}"

    hours, minutes = timedelta(hours=1), timedelta(minutes=1)
    return {
        **{name: f"window={name}" for name in ("1h", "6h", "1d", "7d", "14d")},
        "custom 3 h": custom(3 * hours + 7 * minutes, 2 * hours + 47 * minutes),
        "custom 1 d": custom(27 * hours + 37 * minutes, 3 * hours + 13 * minutes),
        "custom 7 d": custom(min(9, days) * 24 * hours + 37 * minutes, min(2, days - 1) * 24 * hours + 13 * minutes),
        "custom 13 d": custom((days - 1) * 24 * hours + 11 * minutes, 11 * hours + 3 * minutes),
    }


def _pages(client: Client, options: argparse.Namespace, now: datetime) -> list[str]:
    """Time every window with every order and length of /queries/, the regressions and a statement's page."""
    from schemaadmin.forms.queries import LIMITS, ORDER_CHOICES

    windows = _windows(now, options.days)
    pages: dict[str, str] = {}
    for name, query in windows.items():
        for order, _ in ORDER_CHOICES:
            for limit in LIMITS:
                pages[f"/queries/ {name} {order} {limit}"] = f"/queries/?{query}&order={order}&limit={limit}"
    for name, query in windows.items():
        pages[f"regressions {name}"] = f"/queries/regressions/?{query}&limit=100"
    statement = options.per_snapshot // 10
    for name, query in windows.items():
        pages[f"statement {statement} {name}"] = f"/queries/{statement}/?{query}"
    if options.only:
        pages = {name: url for name, url in pages.items() if re.search(options.only, name)}

    def get(url: str) -> Callable[[], object]:
        def fetch() -> object:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response

        return fetch

    width = max(map(len, pages))
    print(
        f"\n{'page (window, order, statements)':{width}}  median ms  fastest ms  web CPU ms  (of {options.repeat}; "
        f"load average {os.getloadavg()[0]:.1f} at the start on {os.cpu_count()} CPUs)"
    )
    failures = []
    for name, url in pages.items():
        median, fastest, cpu = _timed_ms(get(url), options.repeat)
        print(f"{name:{width}}  {median:>9.0f}  {fastest:>10.0f}  {cpu:>10.0f}", flush=True)
        if median > PAGE_BUDGET_MS:
            failures.append(f"{url}: {median:.0f} ms, over the {PAGE_BUDGET_MS} ms budget")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--per-snapshot", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="Time only the pages whose name matches this regular expression.")
    parser.add_argument("--no-snapshots", action="store_true", help="Skip the real snapshots and the storage.")
    parser.add_argument("--setup-only", action="store_true", help="Write the history (with --keep) and stop.")
    parser.add_argument("--keep", type=Path, help="Keep the server's data here and reuse its history next time.")
    options = parser.parse_args()

    scratch = options.keep or Path(tempfile.mkdtemp(prefix="schemaadmin-bench-"))
    os.environ["SCHEMAADMIN_PGDATA"] = str(scratch / "pgdata")
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["SCHEMAADMIN_SSL_REDIRECT"] = "0"  # the test client speaks plain http
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        import django

        django.setup()
        return _run(options)
    finally:
        from schemaadmin.embedded import stop_server

        stop_server(scratch / "pgdata")
        if not options.keep:
            shutil.rmtree(scratch, ignore_errors=True)


def _run(options: argparse.Namespace) -> int:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment
    from django.utils import timezone

    from schemaadmin.pg.connection import own_connection
    from schemaadmin.services.workload.snapshots import take_snapshot

    setup_test_environment()
    print(f"scratch server: {connection.settings_dict['HOST']} (database {connection.settings_dict['NAME']})")
    call_command("migrate", verbosity=0)
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", "bench@example.test", "bench-password-123"
    )
    client = Client()
    client.force_login(user)

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM schemaadmin_query_snapshot)")
        if not cursor.fetchone()[0]:
            _history(cursor, options.statements, options.days, options.per_snapshot)
        cursor.execute("SELECT count(*) FROM schemaadmin_query_snapshot")
        snapshots = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM schemaadmin_query_stat_delta")
        deltas = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM schemaadmin_query_stat_rollup")
        rollups = cursor.fetchone()[0]
    print(
        f"history: {snapshots:,} snapshots, {deltas:,} deltas, {rollups:,} roll-up rows, {options.statements:,} "
        f"statements ({time.perf_counter() - started:.1f} s)"
    )

    with connection.cursor() as cursor:
        # What autovacuum does to insert-only tables: the visibility map lets the window probes read the index alone.
        cursor.execute("VACUUM (ANALYZE) " + ", ".join(TABLES))
    if options.setup_only:
        return 0
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        failures = _pages(client, options, timezone.now())
    if options.no_snapshots:
        return 1 if failures else 0
    with connection.cursor() as cursor:
        texts = _real_statements(cursor, options.statements)
    with own_connection() as other:
        started = time.perf_counter()
        for text in texts:
            other.execute(text, [1])
        print(f"\nran {len(texts):,} distinct statements ({time.perf_counter() - started:.1f} s)")
        timings = []
        for round_ in range(3):
            for text in texts:
                other.execute(text, [round_])
            started = time.perf_counter()
            snapshot = take_snapshot()
            timings.append((time.perf_counter() - started) * 1000)
            print(
                f"snapshot {round_ + 1}: {timings[-1]:.0f} ms, {snapshot.statements_changed:,} statements moved, "
                f"{snapshot.statements_kept:,} stored"
            )
    worst = max(timings)
    if worst > SNAPSHOT_BUDGET_MS:
        failures.append(f"a snapshot took {worst:.0f} ms, over the {SNAPSHOT_BUDGET_MS} ms budget")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(pg_total_relation_size(name::regclass)) FROM unnest(%s::text[]) AS name", [list(TABLES)]
        )
        total = cursor.fetchone()[0]
    print(
        f"\nstorage: {total / 1024**2:,.0f} MB for {options.days} days = {total / options.days / 1024**2:,.1f} MB per "
        f"day at {options.per_snapshot} statements per snapshot (tables and indexes)"
    )
    print()
    if failures:
        print("Over budget:\n  " + "\n  ".join(failures))
        return 1
    print(
        f"Within budget: every page above ≤ {PAGE_BUDGET_MS} ms (every window, order and length of /queries/, the "
        f"regressions and a statement's page), a snapshot ≤ {SNAPSHOT_BUDGET_MS} ms."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
