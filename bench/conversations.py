"""Benchmark the conversation browser against Django admin's changelist on the same tables.

    python bench/conversations.py                 # 10M messages / 1M conversations / 100k users (--scale 50)
    python bench/conversations.py --scale 1       # the demo size, for a quick run
    python bench/conversations.py --only list     # only the tasks whose name contains "list"

Uses its own embedded PostgreSQL in .pgdata-bench/ (or DATABASE_URL when set), seeds it once with seed_demo,
adds one 50,000-message thread, then times each task server-side through Django's test client: p50/p95 over
--repeats requests (≥ 30), the admin changelist over --admin-repeats (each of its requests counts every row).
Prints one table with the ratio admin/ours, queries per request, and the process's peak memory.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

BIG_THREAD_MESSAGES = 50_000
PAGE_SIZE = 50  # one thread window, one "load older" step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=50.0, help="seed_demo --scale (50 = 10M messages)")
    parser.add_argument("--repeats", type=int, default=30, help="requests per task for our pages (default 30)")
    parser.add_argument("--admin-repeats", type=int, default=5, help="requests per admin task (default 5)")
    parser.add_argument("--only", default="", help="run only the tasks whose name contains this (quick iterations)")
    args = parser.parse_args()
    if args.repeats < 30:
        parser.error("--repeats must be at least 30 for a p95 worth printing")

    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("SCHEMAADMIN_PGDATA", str(PROJECT / ".pgdata-bench"))
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 44)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    # The test client speaks plain http: production settings would redirect it to https.
    os.environ["SCHEMAADMIN_SSL_REDIRECT"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    started = time.perf_counter()
    # The knowledge base stays at its demo size: this benchmark is about the chat tables.
    call_command("seed_demo", scale=args.scale, documents=500, chunks=5000, if_empty=True)
    print(f"seed/check: {time.perf_counter() - started:.0f} s", flush=True)
    big_thread = ensure_big_thread()
    run(args, big_thread)


def ensure_big_thread() -> int:
    """Return the id of a conversation with 50,000 messages, adding one (by COPY) the first time."""
    from django.db import connection, transaction

    from schemaadmin.models import ChatUser, Conversation

    title = "Benchmark: 50k-message thread"
    existing = Conversation.objects.filter(title=title).first()
    if existing is not None and existing.message_count >= BIG_THREAD_MESSAGES:
        return existing.pk
    if existing is not None:  # left by an interrupted earlier run
        existing.delete()
    user = ChatUser.objects.order_by("created_at").first()
    assert user is not None, "seed_demo loaded no users"
    start = Conversation.objects.order_by("created_at").values_list("created_at", flat=True).first()
    columns = "conversation_id, user_id, role, content, token_count, created_at"
    with transaction.atomic(), connection.cursor() as cur:
        thread = Conversation.objects.create(user=user, title=title, channel="api", created_at=start, updated_at=start)
        with cur.copy(f"COPY conversation_messages ({columns}) FROM STDIN") as copy:
            for k in range(BIG_THREAD_MESSAGES):
                text = f"Turn {k} of a very long session."
                copy.write_row(
                    (thread.pk, user.pk, ("user", "assistant")[k % 2], text, 9, start + timedelta(seconds=k))
                )
    with connection.cursor() as cur:
        cur.execute("ANALYZE conversation_messages")
    return thread.pk


def timed(client, url: str, repeats: int, headers: dict[str, str] | None = None) -> tuple[list[float], int, int]:
    """Return per-request milliseconds, the status of the last response, and queries per request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    status = 0
    queries = 0
    for i in range(repeats):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = client.get(url, headers=headers or {})
            body = b"".join(response.streaming_content) if response.streaming else response.content
            times.append((time.perf_counter() - began) * 1000)
        status = response.status_code
        assert body, url
        if i == 0:
            queries = len(captured)
    return times, status, queries


def run(args: argparse.Namespace, big_thread: int) -> None:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from schemaadmin.models import ChatUser, Conversation
    from schemaadmin.pg.relations import table_estimates

    user, _ = User.objects.get_or_create(username="bench", defaults={"is_superuser": True, "is_staff": True})
    user.is_superuser = user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)

    sizes = {t.table: t.estimated_rows for t in table_estimates(["conversation_messages", "conversations", "users"])}
    print(
        f"database: ≈{sizes['conversation_messages']:,} messages, ≈{sizes['conversations']:,} conversations, "
        f"≈{sizes['users']:,} users"
    )

    # The owner of the busiest conversation: a heavy user, the one support looks up most.
    busiest_owner = Conversation.objects.order_by("-message_count").values_list("user_id", flat=True)[:1][0]
    one_user = ChatUser.objects.get(pk=busiest_owner)
    typical = Conversation.objects.filter(message_count__gte=10).order_by("id").values_list("id", flat=True)[:1][0]
    rare, common = search_terms(connection, exclude_conversation=big_thread)

    def page_50_url() -> str:
        url = "/conversations/"
        for _ in range(49):
            url = "/conversations/" + link(client.get(url), NEXT_LINK)
        return url

    def older_100_deep() -> str:
        url = f"/conversations/{big_thread}/"
        response = client.get(url)
        for _ in range(99):
            response = client.get(url + link(response, OLDER_LINK), headers={"HX-Request": "true"})
        return url + link(response, OLDER_LINK)

    ours: list[tuple[str, Callable[[], str], dict[str, str] | None]] = [
        ("list, first page", lambda: "/conversations/", None),
        ("list, one user", lambda: "/conversations/?" + urlencode({"user": one_user.external_id}), None),
        ("list, 50th page by cursor", page_50_url, None),
        (f"search, selective ({rare})", lambda: f"/conversations/?q={rare}&size=50", None),
        (f"search, common ({common})", lambda: f"/conversations/?q={common}&size=50", None),
        ("thread, first page", lambda: f"/conversations/{typical}/", None),
        ("thread, older 100 pages deep", older_100_deep, {"HX-Request": "true"}),
    ]
    # Page 5,000 of the changelist (100 rows a page), or its last page on a smaller database.
    deep_conversations = min(5000, max(1, int(sizes["conversations"] * 0.9) // 100))
    deep_messages = min(5000, max(1, int(sizes["conversation_messages"] * 0.9) // 100))
    admin = {
        "list, first page": ["/admin/schemaadmin/conversation/", "/admin/schemaadmin/message/"],
        "list, 50th page by cursor": [
            f"/admin/schemaadmin/conversation/?p={deep_conversations}",
            f"/admin/schemaadmin/message/?p={deep_messages}",
        ],
        f"search, selective ({rare})": [f"/admin/schemaadmin/message/?q={rare}"],
        f"search, common ({common})": [f"/admin/schemaadmin/message/?q={common}"],
    }

    ours = [task for task in ours if args.only in task[0]]
    admin = {name: urls for name, urls in admin.items() if args.only in name}
    rss_before, peak_before = rss_mb(), peak_rss_mb()
    rows = []
    for name, make_url, headers in ours:
        url = make_url()
        times, status, queries = timed(client, url, args.repeats, headers)
        assert status == 200, (name, status)
        rows.append((name, times, queries))
        print(f"  measured: {name:<34} p50 {pct(times, 50):8.1f} ms", flush=True)
    rss_after, peak_after = rss_mb(), peak_rss_mb()

    admin_rows = []
    for name, urls in admin.items():
        for url in urls:
            times, status, _ = timed(client, url, args.admin_repeats)
            assert status == 200, (url, status)
            admin_rows.append((name, url, times))
            print(f"  measured: admin {url:<45} p50 {pct(times, 50):8.1f} ms", flush=True)

    print()
    header = f"{'task (ours)':<36}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}"
    print(header + "   admin changelist (p50 ms)          ratio admin/ours")
    for name, times, queries in rows:
        matches = [(url, t) for n, url, t in admin_rows if n == name]
        line = f"{name:<36}{pct(times, 50):>9.1f}{pct(times, 95):>9.1f}{queries:>9}"
        if not matches:
            print(line + "   (no admin equivalent)")
            continue
        for i, (url, admin_times) in enumerate(matches):
            prefix = line if i == 0 else " " * len(line)
            ratio = pct(admin_times, 50) / pct(times, 50)
            model = url.split("/")[3]
            print(f"{prefix}   {model:<13}{pct(admin_times, 50):>10.1f}{'':>12}{ratio:>9.0f}×")
    print()
    print(
        f"RSS: {rss_before:.0f} MB before our {len(rows) * args.repeats} requests, {rss_after:.0f} MB after "
        f"(peak {peak_before:.0f} MB before, {peak_after:.0f} MB after; setup's collectstatic sets the peak)"
    )
    print(f"messages in the database: ≈{sizes['conversation_messages']:,}")


NEXT_LINK = re.compile(r'rel="next" href="(\?[^"]+)"')
OLDER_LINK = re.compile(r'class="[^"]*load-older[^"]*" href="(\?before=\d+)"')


def link(response, pattern: re.Pattern[str]) -> str:
    """Return the query string of the link pattern finds in the page (what a user would click)."""
    match = pattern.search(response.content.decode())
    assert match, f"no link matching {pattern.pattern}"
    return html.unescape(match.group(1))


def search_terms(connection, *, exclude_conversation: int) -> tuple[str, str]:
    """Return a rare and a common word of the seeded messages, from the tsvector statistics of a 1% sample."""
    # ts_stat takes the query as text, so the id goes in as a formatted int, never as input text.
    sample = "SELECT search_vector FROM conversation_messages TABLESAMPLE SYSTEM (1) WHERE conversation_id <> %d"
    sample = sample % int(exclude_conversation)
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT word, ndoc FROM ts_stat(%s)
            WHERE length(word) >= 5 AND word ~ '^[a-z]+$'
            ORDER BY ndoc DESC
            """,
            [sample],
        )
        words = cur.fetchall()
    common = words[0][0]
    rare = next((w for w, n in reversed(words) if n >= 2), words[-1][0])
    return rare, common


def pct(values: list[float], q: int) -> float:
    if q == 50:
        return statistics.median(values)
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Return the process's resident memory now (Linux), which, unlike the peak, can show growth under it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()


if __name__ == "__main__":
    main()
