"""Benchmark index health at scale: 1,000 tables and 3,000 indexes in a scratch embedded PostgreSQL.

    .venv/bin/python bench/index_health.py [--tables 1000] [--repeat 5]
    .venv/bin/python bench/index_health.py --tables 10000      # 3,000 and 30,000 indexes in one run

Starts its own throwaway server in a temporary directory (the dev database in .pgdata is never touched),
migrates, measures /indexes/, /tables/, /, one index's page and the JSON command at a tenth of the scale, grows
the schema to full scale, measures again, and prints per page the median wall time, the median CPU time of this
process plus the server backend that answered (what the page costs, whatever else the machine runs), the SQL
query count, the median wall time on new connections (a new server session fills its relation cache: the first
request after CONN_MAX_AGE), and the load average. Budgets: 200 ms at 3,000 indexes, 1 s at 30,000; query counts
must not grow.
Not part of `make test`.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Wall-time budget (ms) by the number of planted indexes (three per table) it holds up to.
BUDGETS_MS = {3_000: 200, 30_000: 1_000}


def _budget_ms(tables: int) -> int | None:
    return next((ms for indexes, ms in sorted(BUDGETS_MS.items()) if 3 * tables <= indexes), None)


# Tables created per transaction: each holds locks on its new relations until it commits, and one transaction for
# 10,000 tables would run out of max_locks_per_transaction.
PLANT_BATCH = 500


def _plant(cursor, first: int, last: int) -> None:
    """Create tables first..last-1 in schema bench, three indexes each, with a few problems sprinkled in."""
    for start in range(first, last, PLANT_BATCH):
        _plant_batch(cursor, start, min(start + PLANT_BATCH, last))
    # The web statement timeout would cancel ANALYZE of 10,000 tables on a busy machine.
    cursor.execute("SET statement_timeout = 0")
    cursor.execute("ANALYZE")
    cursor.execute("RESET statement_timeout")


def _plant_batch(cursor, first: int, last: int) -> None:
    cursor.execute(
        """
        DO $$
        BEGIN
            FOR n IN %(first)s..%(last)s - 1 LOOP
                EXECUTE format(
                    'CREATE TABLE bench.t%%s (id bigint PRIMARY KEY, a int, b text, created timestamptz)', n);
                EXECUTE format('CREATE INDEX t%%s_a ON bench.t%%s (a)', n, n);
                EXECUTE format('CREATE INDEX t%%s_b_created ON bench.t%%s (b, created)', n, n);
                EXECUTE format(
                    'INSERT INTO bench.t%%s SELECT i, mod(i, 10), ''b'' || i, now() FROM generate_series(1, 20) AS i',
                    n);
            END LOOP;
        END
        $$
        """,
        {"first": first, "last": last},
    )


def _median_ms(action: Callable[[], object], repeat: int) -> float:
    return _measure(action, repeat)[0]


def _backend_cpu_ms() -> float:
    """Return the CPU time the server backend of Django's connection has used (the scratch server is local)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _measure(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Return the median wall time and the median CPU time (this process and the server backend) in ms."""
    action()  # warm: connections, template loading, catalog caches, the kept index rows
    times, cpu = [], []
    for _ in range(repeat):
        server = _backend_cpu_ms()
        client = time.process_time()
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - client) * 1000 + _backend_cpu_ms() - server)
    return statistics.median(times), statistics.median(cpu)


def _new_connection_ms(action: Callable[[], object], repeat: int) -> float:
    """Return the median wall time in ms of action on new connections, its own and the side one (pg/beside.py).

    What a page costs when its worker's connection is new (CONN_MAX_AGE passed, or the first request): a new server
    session has an empty relation cache, and exact sizes open every table and index.
    """
    from django.db import connection

    from schemaadmin.pg.beside import close_side_connections

    times = []
    for _ in range(repeat):
        connection.close()
        close_side_connections()
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _queries(action: Callable[[], object]) -> int:
    """Count the statements action runs, those it runs on the side connection (pg/beside.py) too."""
    from django.db import connection

    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        action()
    return len(statements)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="schemaadmin-bench-"))
    os.environ["SCHEMAADMIN_PGDATA"] = str(scratch / "pgdata")
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
    # The test client speaks plain http: production settings would redirect it to https.
    os.environ["SCHEMAADMIN_SSL_REDIRECT"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        import django

        django.setup()
        return _run(options.tables, options.repeat)
    finally:
        from schemaadmin.embedded import stop_server

        stop_server(scratch / "pgdata")
        shutil.rmtree(scratch, ignore_errors=True)


def _run(total_tables: int, repeat: int) -> int:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment

    from schemaadmin.pg.indexes import indexes

    setup_test_environment()  # the test client's response.templates, and ALLOWED_HOSTS stays ours
    print(f"scratch server: {connection.settings_dict['HOST']} (database {connection.settings_dict['NAME']})")
    call_command("migrate", verbosity=0)
    user = User.objects.create_superuser("bench", "bench@example.test", "bench-password-123")
    client = Client()
    client.force_login(user)
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA bench")

    def page(url: str) -> Callable[[], object]:
        def get() -> object:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response

        return get

    def command() -> object:
        # A real stdout, as cron's redirect to a file or a pipe gives it: the command writes its bytes to .buffer (a
        # StringIO would add decoding the 30 MB of 30,000 indexes and copying them, ~60 ms no user waits for).
        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        call_command("index_health", "--format", "json", stdout=out)
        return out

    measured = {
        "GET /indexes/": page("/indexes/"),
        "GET /indexes/?problems=on": page("/indexes/?problems=on"),
        "GET /tables/": page("/tables/"),
        "GET / (overview)": page("/"),
        "GET /indexes/bench.t1_a/": page("/indexes/bench.t1_a/"),
        "index_health --format json": command,
    }
    results: dict[str, dict[int, tuple[float, float, int, float]]] = {name: {} for name in measured}
    loads: dict[int, str] = {}
    scales = sorted({max(1, total_tables // 10), total_tables})
    created = 0
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        for scale in scales:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                _plant(cursor, created, scale)
            created = scale
            index_count = sum(1 for i in indexes() if i.schema == "bench")
            print(
                f"planted {scale:,} tables / {index_count:,} indexes in schema bench "
                f"({time.perf_counter() - started:.1f} s)"
            )
            before = os.getloadavg()[0]
            for name, action in measured.items():
                results[name][scale] = (
                    *_measure(action, repeat),
                    _queries(action),
                    _new_connection_ms(action, repeat),
                )
            loads[scale] = f"{before:.1f} → {os.getloadavg()[0]:.1f}"

    print("\ncatalog questions at full scale (median ms, one query each; index_cache.indexes: rows kept):")
    from schemaadmin.pg import constraints, databases, index_cache, relations, row_statistics, vectors
    from schemaadmin.pg import indexes as pg_indexes

    for question in (
        pg_indexes.indexes,
        index_cache.indexes,
        row_statistics.relation_statistics,
        constraints.foreign_keys,
        relations.tables,
        databases.database_statistics,
        vectors.vector_columns,
    ):
        print(f"  {question.__module__.rsplit('.', 1)[-1]}.{question.__name__:<22}{_median_ms(question, repeat):>8.0f}")

    width = max(map(len, results))
    header = "".join(f"  {f'{s:,} tables, {3 * s:,} indexes':>50}" for s in scales)
    print()
    print(f"{'':{width}}{header}")
    print(
        f"{'':{width}}"
        + "".join(f"  {'median ms':>11}{'cpu ms':>11}{'queries':>14}{'new conn ms':>14}" for _ in scales)
    )
    failures = []
    for name, by_scale in results.items():
        cells = "".join(
            f"  {ms:>11.0f}{cpu:>11.0f}{count:>14}{cold:>14.0f}"
            for ms, cpu, count, cold in (by_scale[s] for s in scales)
        )
        print(f"{name:{width}}{cells}")
        small, large = by_scale[scales[0]], by_scale[scales[-1]]
        if large[2] != small[2]:
            failures.append(f"{name}: {small[2]} queries at {scales[0]} tables, {large[2]} at {scales[-1]}")
        for scale in scales:
            budget = _budget_ms(scale)
            if budget is not None and by_scale[scale][0] > budget:
                failures.append(f"{name}: {by_scale[scale][0]:.0f} ms at {scale:,} tables, over the {budget} ms budget")
    print(f"{'load average (1 min)':{width}}" + "".join(f"  {loads[s]:>50}" for s in scales))
    print()
    budgets = ", ".join(f"≤ {ms:,} ms at {indexes:,} indexes" for indexes, ms in sorted(BUDGETS_MS.items()))
    if failures:
        print(f"Over budget ({budgets}) or growing:\n  " + "\n  ".join(failures))
        return 1
    print(f"Within budget: every page and the JSON command {budgets}; query counts do not grow with indexes.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
