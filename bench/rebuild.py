"""Benchmark an HNSW rebuild: plain REINDEX CONCURRENTLY vs hand-tuned psql settings vs SchemaAdmin end to end.

    python bench/rebuild.py                 # 100,000 chunks of 3072 dimensions (halfvec HNSW, as the product has)
    python bench/rebuild.py --rows 5000     # a quick run

Uses its own embedded PostgreSQL in .pgdata-bench-rebuild/ (or DATABASE_URL when set) and a schema of its own,
loaded once per row count. Times, on the same index:
  (a) REINDEX INDEX CONCURRENTLY with the server's default settings,
  (b) the same after the best hand-tuned settings (maintenance_work_mem sized to the graph; parallel workers
      0 and the server's default, the faster counts),
  (c) SchemaAdmin: plan_rebuild + start_rebuild, a real `manage.py procrastinate worker` subprocess, until the
      record says succeeded (enqueue → worker → swapped in).
Prints each time, the ratios, and the largest gap between two progress snapshots saved during (c).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

SCHEMA = "bench_rebuild"
DIMENSIONS = 3072


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="chunks in the table (default 100,000)")
    parser.add_argument("--skip-default", action="store_true", help="skip (a), the slow one, when it is known")
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("SCHEMAADMIN_PGDATA", str(PROJECT / ".pgdata-bench-rebuild"))
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 44)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    load(args.rows)
    run(args)


def _conn():
    import psycopg

    from schemaadmin.pg.connection import connection_params

    return psycopg.connect(**connection_params("default"), autocommit=True)


def load(rows: int) -> None:
    """Create the chunks table with rows random 3072-d vectors and its halfvec HNSW index, unless already there."""
    table = f"chunks_{rows}"
    with _conn() as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{SCHEMA}.{table}"]).fetchone()[0]
        if exists:
            return
        started = time.perf_counter()
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(f"CREATE TABLE {SCHEMA}.{table} (id bigint PRIMARY KEY, embedding vector({DIMENSIONS}))")
        batch = 2_000
        for first in range(1, rows + 1, batch):
            last = min(first + batch - 1, rows)
            conn.execute(
                f"""
                INSERT INTO {SCHEMA}.{table}
                SELECT i, (SELECT array_agg(random() - 0.5)::vector({DIMENSIONS})
                           FROM generate_series(1, {DIMENSIONS}) WHERE i > 0)
                FROM generate_series(%s::int, %s::int) AS i
                """,  # noqa: S608 -- constants
                [first, last],
            )
            print(f"\rloading {last:,}/{rows:,}", end="", flush=True)
        conn.execute(f"VACUUM ANALYZE {SCHEMA}.{table}")
        conn.execute("SET maintenance_work_mem = '4GB'")
        conn.execute(
            f"CREATE INDEX {table}_hnsw ON {SCHEMA}.{table} "
            f"USING hnsw ((embedding::halfvec({DIMENSIONS})) halfvec_cosine_ops)"
        )
        print(f"\nloaded {rows:,} rows and built the index in {time.perf_counter() - started:.0f} s", flush=True)


def timed_reindex(name: str, settings: dict[str, str]) -> tuple[float, list[str]]:
    """Return the seconds a REINDEX INDEX CONCURRENTLY takes with settings, and the NOTICEs it raised."""
    notices: list[str] = []
    with _conn() as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        for key, value in settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", [key, value])
        started = time.perf_counter()
        conn.execute(f"REINDEX INDEX CONCURRENTLY {SCHEMA}.{name}")
        return time.perf_counter() - started, notices


def run(args: argparse.Namespace) -> None:
    from schemaadmin.models import IndexRebuild
    from schemaadmin.services.rebuilds import plan_rebuild, start_rebuild

    name = f"chunks_{args.rows}_hnsw"
    plan = plan_rebuild(f"{SCHEMA}.{name}")
    estimate = plan.estimate
    graph_mb = (estimate.graph_memory_bytes or 0) / 2**20
    default_mb = estimate.server_maintenance_work_mem_bytes / 2**20
    print(
        f"{args.rows:,} rows × {DIMENSIONS} dims (halfvec HNSW, m=16, ef_construction=64); graph ≈ {graph_mb:,.0f} MB; "
        f"server maintenance_work_mem {default_mb:,.0f} MB; SchemaAdmin plans "
        f"{estimate.planned_maintenance_work_mem_bytes / 2**20:,.0f} MB; {os.cpu_count()} CPUs",
        flush=True,
    )
    results: dict[str, float] = {}
    if not args.skip_default:
        results["(a) REINDEX CONCURRENTLY, server defaults"], notices = timed_reindex(name, {})
        print(f"(a) {results['(a) REINDEX CONCURRENTLY, server defaults']:.1f} s {notices[:1]}", flush=True)
    tuned_mem = f"{estimate.planned_maintenance_work_mem_bytes // 1024}kB"
    best = None
    for workers in ("0", "2"):
        seconds, notices = timed_reindex(
            name, {"maintenance_work_mem": tuned_mem, "max_parallel_maintenance_workers": workers}
        )
        print(
            f"(b) maintenance_work_mem={tuned_mem}, max_parallel_maintenance_workers={workers}: {seconds:.1f} s "
            f"{notices[:1]}",
            flush=True,
        )
        if best is None or seconds < best[0]:
            best = (seconds, workers)
    assert best is not None
    results[f"(b) hand-tuned ({tuned_mem}, {best[1]} parallel workers)"] = best[0]

    worker = subprocess.Popen(
        [sys.executable, str(PROJECT / "manage.py"), "procrastinate", "worker"],
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(3)  # let the worker start and listen, as a running deployment's would be
        started = time.perf_counter()
        rebuild = start_rebuild(plan_rebuild(f"{SCHEMA}.{name}"), user=None)
        samples: list[float] = []
        last_sample = None
        while True:
            rebuild.refresh_from_db(fields=["state", "progress"])
            sampled = rebuild.progress.get("sampled_at") if rebuild.progress else None
            if sampled and sampled != last_sample:
                samples.append(time.perf_counter())
                last_sample = sampled
            if not rebuild.is_active:
                break
            time.sleep(0.1)
        results["(c) SchemaAdmin end to end"] = time.perf_counter() - started
    finally:
        # The worker goes on to the recall check a vector rebuild queues; the bench does not wait for it.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    rebuild = IndexRebuild.objects.get(pk=rebuild.pk)
    assert rebuild.state == "succeeded", rebuild.error
    gaps = [b - a for a, b in zip(samples, samples[1:], strict=False)]
    print()
    print(f"{'run':62} {'seconds':>8}")
    for label, seconds in results.items():
        print(f"{label:62} {seconds:8.1f}")
    c = results["(c) SchemaAdmin end to end"]
    b = best[0]
    print(f"(c)/(b) = {c / b:.2f} (target ≤ 1.1)")
    if "(a) REINDEX CONCURRENTLY, server defaults" in results:
        a = results["(a) REINDEX CONCURRENTLY, server defaults"]
        fits = "fits" if graph_mb <= default_mb else "does not fit"
        print(f"(a)/(c) = {a / c:.2f} (target ≥ 2 when the graph does not fit the default; here it {fits})")
    print(f"settings used by (c): {rebuild.settings_used}")
    print(
        f"progress snapshots during (c): {len(samples)}, largest gap "
        f"{max(gaps) if gaps else float('nan'):.2f} s (target ≤ 2 s)"
    )


if __name__ == "__main__":
    main()
