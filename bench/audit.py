"""Benchmark the audit log at millions of events: /audit/ with each filter, a first and a deep page.

    .venv/bin/python bench/audit.py                    # 5 million events (loaded once, ~2 minutes)
    .venv/bin/python bench/audit.py --events 1000000   # another size: its own database
    .venv/bin/python bench/audit.py --drop             # drop the database afterwards

Production mode (DEBUG off, static files collected). Uses the benchmarks' embedded PostgreSQL in .pgdata-bench/ (or
the server of DATABASE_URL) and one database per size (bench_audit_<events>), loaded with SQL: events over the last
365 days from 200 staff accounts, most of them thread views, a few rare actions, one account with 5 events. Each
page is timed through Django's test client as a DBA after one untimed request: p50/p95 over --repeats requests,
the database's share and the statements a request ran. "deep" follows the page's Next link 50 times first. A filter
that matches few events must cost what a common one does: before migration 0019 they read the whole table.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.conversations import _DatabaseClock, drop_database, pct, use_database  # noqa: E402 -- after the project is on the path

NEXT_LINK = re.compile(r'<a [^>]*rel="next" href="([^"]+)"')
# (action, share of events): thread views dominate; the rare ones are what an investigation filters for.
ACTIONS = [
    ("conversation.view", 0.80),
    ("user.view", 0.08),
    ("conversation.export", 0.04),
    ("login", 0.03),
    ("logout", 0.03),
    ("login_failed", 0.015),
    ("explain.run", 0.0049),
    ("rebuild.requested", 0.0001),
]
LOAD = """
INSERT INTO schemaadmin_auditevent (actor_id, actor_username, action, target, detail, ip_address, at)
SELECT NULL, 'staff' || lpad((g %% 200)::text, 3, '0'), action.name,
       CASE WHEN action.name LIKE 'conversation.%%' THEN 'conversation:' || (1 + (g * 7919) %% 2000000)
            WHEN action.name = 'user.view' THEN 'user:' || md5(g::text)
            ELSE 'public.idx_' || (g %% 500) END,
       jsonb_build_object('n', g), '192.0.2.1'::inet,
       now() - interval '365 days' + (g::float8 / %(events)s) * interval '365 days'
FROM generate_series(1::bigint, %(events)s) AS g
CROSS JOIN LATERAL (
    SELECT name FROM unnest(%(names)s::text[], %(edges)s::float8[]) AS a(name, edge)
    WHERE ((g * 2654435761) %% 1000000) / 1000000.0 < edge ORDER BY edge LIMIT 1
) AS action
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000_000, help="audit events to load (default 5,000,000)")
    parser.add_argument("--repeats", type=int, default=30, help="requests per page (default 30)")
    parser.add_argument("--drop", action="store_true", help="drop the database when done")
    args = parser.parse_args()
    if args.events < 1000 or args.repeats < 30:
        parser.error("--events must be at least 1,000 and --repeats at least 30")

    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("SCHEMAADMIN_PGDATA", str(PROJECT / ".pgdata-bench"))
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 44)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ.pop("DJANGO_DEBUG", None)
    os.environ["SCHEMAADMIN_SSL_REDIRECT"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    home = settings.DATABASES["default"]["NAME"]
    name = f"bench_audit_{args.events}"
    use_database(name, home=home)
    try:
        call_command("migrate", interactive=False, verbosity=0)
        _load(args.events)
        from config.wsgi import freeze_loaded_objects

        freeze_loaded_objects()
        _measure(args.repeats)
    finally:
        use_database(home, home=home)
        if args.drop:
            drop_database(name)


def _load(events: int) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) >= %s FROM (SELECT 1 FROM schemaadmin_auditevent LIMIT %s) s", [events, events])
        if cur.fetchone()[0]:
            return
        started = time.perf_counter()
        cur.execute("TRUNCATE schemaadmin_auditevent")
        edges, total = [], 0.0
        for _, share in ACTIONS:
            total += share
            edges.append(total)
        edges[-1] = 1.01
        cur.execute(LOAD, {"events": events, "names": [a for a, _ in ACTIONS], "edges": edges})
        # One account that acted five times, a year ago: the investigation of someone who left.
        cur.execute(
            "UPDATE schemaadmin_auditevent SET actor_username = 'departed' WHERE id IN "
            "(SELECT id FROM schemaadmin_auditevent ORDER BY id LIMIT 5)"
        )
        cur.execute("VACUUM (ANALYZE) schemaadmin_auditevent")
        print(f"loaded {events:,} audit events in {time.perf_counter() - started:.0f} s", flush=True)


def _measure(repeats: int) -> None:
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client

    dba, _ = User.objects.get_or_create(username="bench-dba")
    dba.groups.set([Group.objects.get(name="dba")])
    client = Client()
    client.force_login(dba)
    with connection.cursor() as cur:
        cur.execute("SELECT (max(at) - interval '200 days')::date FROM schemaadmin_auditevent")
        day = cur.fetchone()[0].isoformat()
    pages = [
        ("newest first", {}),
        ("oldest first", {"order": "oldest"}),
        ("who: a busy account", {"actor": "staff007"}),
        ("who: an account with 5 events", {"actor": "departed"}),
        ("who: no such account", {"actor": "nobody"}),
        ("action: thread views", {"action": "conversation.view"}),
        ("action: a rare one", {"action": "rebuild.requested"}),
        ("target starts with, common", {"target": "conversation:1"}),
        ("target starts with, none", {"target": "public.nothing"}),
        ("one day 200 days ago", {"since": day, "until": day}),
        ("who and action", {"actor": "staff007", "action": "explain.run"}),
    ]
    print(f"\n{'page':<34}{'p50 ms':>8}{'p95 ms':>8}{'db p50':>8}{'queries':>8}{'deep p50':>10}")
    for label, params in pages:
        url = "/audit/" + (f"?{urlencode(params)}" if params else "")
        times, db, queries = _timed(client, url, repeats)
        deep = _deep(client, url)
        deep_ms = f"{statistics.median(_timed(client, deep, repeats)[0]):>10.1f}" if deep else f"{'(1 page)':>10}"
        print(f"{label:<34}{pct(times, 50):>8.1f}{pct(times, 95):>8.1f}{pct(db, 50):>8.1f}{queries:>8}{deep_ms}")


def _timed(client, url: str, repeats: int) -> tuple[list[float], list[float], int]:  # type: ignore[no-untyped-def]
    from django.db import connection

    client.get(url)  # untimed: a new page's caches
    times, db, queries = [], [], 0
    for _ in range(repeats):
        clock = _DatabaseClock()
        with connection.execute_wrapper(clock):
            began = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        db.append(clock.seconds * 1000)
        queries = clock.count
    return times, db, queries


def _deep(client, url: str) -> str | None:  # type: ignore[no-untyped-def]
    """Return the URL 50 Next links on from url, or None when the list ends before."""
    for _ in range(50):
        found = NEXT_LINK.search(client.get(url).content.decode())
        if found is None:
            return None
        url = found.group(1).replace("&amp;", "&")
        url = url if url.startswith("/") else "/audit/" + url
    return url


if __name__ == "__main__":
    main()
