"""Benchmark the conversation browser against Django admin's stock changelist on the same tables.

    python bench/conversations.py --scale 5 --scale 50    # 1M, then 10M messages, and the growth between them
    python bench/conversations.py --scale 1               # the demo size (200k messages), for a quick run
    python bench/conversations.py --scale 5 --only thread # only the tasks whose name contains "thread"
    python bench/conversations.py --scale 5 --profile 20  # also a profile of 20 requests of each page
    python bench/conversations.py --scale 5 --drop        # drop the scale's database afterwards

Production mode: DEBUG off, static files collected (manifest storage), the cached template loader, the objects
alive before the timed requests frozen as config/wsgi.py freezes them. Uses its own
embedded PostgreSQL in .pgdata-bench/ (or the server of DATABASE_URL) and one database per scale
(bench_conversations_<scale>), seeded once with seed_demo plus one 50,000-message thread, vacuumed once after
loading (as autovacuum would have), kept for the next run unless --drop. Each task is timed server-side through
Django's test client: p50/p95 over --repeats requests (≥ 30), the database's share of them (time inside
cursor.execute), and the admin changelist over --admin-repeats (each of its requests counts every row). With two
scales or more it prints, per page, the growth of p50 and p95 from the smallest to the largest.

The baseline is Django admin as it comes (a default ModelAdmin, searching the text), not the product's /admin/,
which shows the chat tables read-only, audited and without whole-table counts (schemaadmin/admin_chat.py): this
process serves its own AdminSite at /stock-admin/ (bench/stock_admin.py, its ROOT_URLCONF here: config.urls plus that
site), which nothing else serves.
"""

from __future__ import annotations

import argparse
import cProfile
import html
import os
import pstats
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

BIG_THREAD_MESSAGES = 50_000
# Long assistant answers (~5,000 characters) that name a rare word only near their end: what a snippet costs
# when the messages are as long as real answers are (seed_demo's are a few hundred characters).
LONG_ANSWERS = 60
LONG_ANSWER_WORD = "escrowrefund"
# Words the demo's travel topic writes together ("A cancelled flight entitles you to a full refund..."): the planner
# multiplies their odds and guesses a few thousand hits where there are a few hundred thousand at 10M messages.
WORDS_TOGETHER = "flight cancelled refund"
PAGE_SIZE = 50  # one thread window, one "load older" step
# The pages issue #16 holds to p95 ≤ 10 ms at 10M messages and ≤ 1.2× growth from 1M.
TARGET_MS = 10.0
TARGET_GROWTH = 1.2


@dataclass
class Measured:
    name: str
    url: str
    times: list[float]
    db_times: list[float]
    cpu_times: list[float]
    queries: int
    target: bool  # one of the pages the targets name
    admin: list[tuple[str, list[float]]] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scale",
        type=float,
        action="append",
        help="seed_demo --scale, repeatable: 5 = 1M messages, 50 = 10M (default: 50)",
    )
    parser.add_argument("--repeats", type=int, default=30, help="requests per task for our pages (default 30)")
    parser.add_argument(
        "--admin-repeats", type=int, default=5, help="requests per admin task (default 5; 0 skips the baseline)"
    )
    parser.add_argument("--only", default="", help="run only the tasks whose name contains this (quick iterations)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile N requests of each page")
    parser.add_argument("--drop", action="store_true", help="drop each scale's database when done")
    args = parser.parse_args()
    if args.repeats < 30:
        parser.error("--repeats must be at least 30 for a p95 worth printing")
    if args.admin_repeats < 0:
        parser.error("--admin-repeats must be 0 (no baseline) or more")
    scales = sorted(set(args.scale or [50.0]))
    if any(scale <= 0 for scale in scales):
        parser.error("--scale must be above zero")

    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("SCHEMAADMIN_PGDATA", str(PROJECT / ".pgdata-bench"))
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 44)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ.pop("DJANGO_DEBUG", None)  # production mode
    # The test client speaks plain http: production settings would redirect it to https.
    os.environ["SCHEMAADMIN_SSL_REDIRECT"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    assert not settings.DEBUG, "the benchmark measures production mode"
    # The stock admin of the baseline, served by this process alone (bench/stock_admin.py).
    settings.ROOT_URLCONF = "bench.stock_admin"
    call_command("collectstatic", interactive=False, verbosity=0)
    home = settings.DATABASES["default"]["NAME"]
    results: dict[float, list[Measured]] = {}
    try:
        for scale in scales:
            name = database_name(scale)
            use_database(name, home=home)
            print(f"\n== scale {scale:g}: database {name}", flush=True)
            call_command("migrate", interactive=False, verbosity=0)
            started = time.perf_counter()
            # The knowledge base stays at its demo size: this benchmark is about the chat tables.
            call_command("seed_demo", scale=scale, documents=500, chunks=5000, if_empty=True, no_progress=True)
            print(f"seed/check: {time.perf_counter() - started:.0f} s", flush=True)
            big_thread = ensure_big_thread()
            ensure_long_answers()
            settle()
            results[scale] = run(args, big_thread)
    finally:
        use_database(home, home=home)
        if args.drop:
            for scale in scales:
                drop_database(database_name(scale))
    if len(results) > 1:
        print_growth(results)


def database_name(scale: float) -> str:
    return "bench_conversations_" + f"{scale:g}".replace(".", "_")


def use_database(name: str, *, home: str) -> None:
    """Point Django's default connection at database name on the same server, creating it the first time."""
    from django.core.cache import cache
    from django.db import connection

    if name != home:
        with connection.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone() is None:
                # The owner role has CREATEDB; template1 carries the extensions on the embedded server.
                cur.execute(f'CREATE DATABASE "{name}" TEMPLATE template1')
    connection.close()
    connection.settings_dict["NAME"] = name
    cache.clear()  # cached totals and fragments belong to the previous database


def drop_database(name: str) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"dropped database {name}")


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


def ensure_long_answers() -> None:
    """Add a conversation of LONG_ANSWERS long answers naming LONG_ANSWER_WORD near their end, the first time."""
    from django.db import transaction

    from schemaadmin.models import ChatUser, Conversation, Message

    title = "Benchmark: long answers"
    if Conversation.objects.filter(title=title, message_count__gte=LONG_ANSWERS).exists():
        return
    Conversation.objects.filter(title=title).delete()  # left by an interrupted earlier run
    user = ChatUser.objects.order_by("created_at").first()
    assert user is not None, "seed_demo loaded no users"
    start = Conversation.objects.order_by("created_at").values_list("created_at", flat=True).first()
    paragraph = (
        "Here is what happened with your order, step by step, and what we can do next. The payment was captured "
        "on the day you placed it, the parcel left the warehouse two days later and the courier scanned it at "
        "the depot. "
    )
    with transaction.atomic():
        thread = Conversation.objects.create(user=user, title=title, channel="web", created_at=start, updated_at=start)
        Message.objects.bulk_create(
            Message(
                conversation=thread,
                user=user,
                role="assistant",
                content=f"{paragraph * 20}Answer {k}: the {LONG_ANSWER_WORD} is on hold. {paragraph * 3}",
                token_count=1200,
                created_at=start + timedelta(seconds=k),
            )
            for k in range(LONG_ANSWERS)
        )


CHAT_TABLES = ("users", "conversations", "conversation_messages")


def settle() -> None:
    """VACUUM (ANALYZE) the chat tables once after they were loaded, as autovacuum would have by the time people read.

    A fresh bulk load leaves no visibility map (every index-only scan visits the heap), hint bits unset (the first
    reads write) and the GIN index's pending list full (each search scans it): not what a served database looks like.
    """
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname = ANY(%s) "
            "AND last_vacuum IS NULL AND last_autovacuum IS NULL",
            [list(CHAT_TABLES)],
        )
        if cur.fetchone()[0] == 0:
            return
        started = time.perf_counter()
        cur.execute(f"VACUUM (ANALYZE) {', '.join(CHAT_TABLES)}")
    print(f"vacuumed {', '.join(CHAT_TABLES)} once after loading: {time.perf_counter() - started:.0f} s", flush=True)


class _DatabaseClock:
    """An execute wrapper adding up the time spent inside cursor.execute (round trips and the server's work)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - began
            self.count += 1


def timed(
    client,
    url: str,
    repeats: int,
    headers: dict[str, str] | None = None,
    *,
    may_time_out: bool = False,
    warm_up: bool = False,
) -> tuple[list[float], list[float], list[float], int]:
    """Return per-request milliseconds: wall, in the database, on this process's CPU; and queries per request.

    warm_up: one request first, not timed: the first page of a scale otherwise pays for a new connection (its
    server process loading the catalog, the database label) and for the minute-long caches being empty.
    """
    from django.db import connection

    if warm_up:
        client.get(url, headers=headers or {})
    times, db_times, cpu_times, queries = [], [], [], 0
    for i in range(repeats):
        clock = _DatabaseClock()
        with connection.execute_wrapper(clock):
            began, cpu_began = time.perf_counter(), time.process_time()
            response = client.get(url, headers=headers or {})
            body = b"".join(response.streaming_content) if response.streaming else response.content
            times.append((time.perf_counter() - began) * 1000)
            cpu_times.append((time.process_time() - cpu_began) * 1000)
        db_times.append(clock.seconds * 1000)
        # The admin's search over 10M rows can outlast WEB_STATEMENT_TIMEOUT_MS: our middleware answers 503.
        timed_out = may_time_out and response.status_code == 503
        assert response.status_code == 200 or timed_out, (url, response.status_code)
        assert body, url
        if i == 0:
            queries = clock.count
    return times, db_times, cpu_times, queries


# These machines' speed varies from day to day (the list page's CPU time was 5.7 ms at one stop and 16.4 ms at a later
# one, its code unchanged), so each run prints the time of a fixed loop beside its figures: compare runs by it.
SPEED_LOOP = 10_000_000


def machine_speed() -> float:
    """Return the seconds a fixed pure-Python loop takes here now: the scale for comparing figures across runs."""
    started = time.process_time()
    total = 0
    for number in range(SPEED_LOOP):
        total += number
    return time.process_time() - started


def run(args: argparse.Namespace, big_thread: int) -> list[Measured]:
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client

    from bench.stock_admin import PREFIX as STOCK_ADMIN
    from schemaadmin.models import ChatUser, Conversation
    from schemaadmin.pg.relations import table_estimates

    # Our pages as the people who use them see them: a support account (its permissions are looked up per
    # request); the stock admin changelist (bench/stock_admin.py) as a superuser.
    support, _ = User.objects.get_or_create(username="bench-support")
    support.groups.set([Group.objects.get(name="support")])
    client = Client()
    client.force_login(support)
    superuser, _ = User.objects.get_or_create(username="bench", defaults={"is_superuser": True, "is_staff": True})
    superuser.is_superuser = superuser.is_staff = True
    superuser.save()
    admin_client = Client()
    admin_client.force_login(superuser)

    sizes = {t.table: t.estimated_rows for t in table_estimates(["conversation_messages", "conversations", "users"])}
    print(
        f"database: ≈{sizes['conversation_messages']:,} messages, ≈{sizes['conversations']:,} conversations, "
        f"≈{sizes['users']:,} users"
    )
    print(f"machine: {machine_speed():.2f} s for {SPEED_LOOP:,} turns of a Python loop (compare runs by it)")

    # The owner of the busiest conversation (the 50k thread's): a heavy user, the one support looks up most.
    busiest_owner = Conversation.objects.order_by("-message_count").values_list("user_id", flat=True)[:1][0]
    one_user = ChatUser.objects.get(pk=busiest_owner)
    typical = Conversation.objects.filter(message_count__gte=10).order_by("id").values_list("id", flat=True)[:1][0]
    rare, thousands, common = search_terms(connection, exclude_conversation=big_thread)
    phrase = common_phrase(connection, exclude_conversation=big_thread)
    # A common word without the commonest one: an exclusion of common words, whose hits are everywhere.
    excluding = f"{common} -{'the' if common != 'the' else 'and'}"

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

    # (name, url, htmx headers, one of the pages the targets name)
    ours: list[tuple[str, Callable[[], str], dict[str, str] | None, bool]] = [
        ("list, first page", lambda: "/conversations/", None, True),
        ("list, one user", lambda: "/conversations/?" + urlencode({"user": one_user.external_id}), None, False),
        ("list, 50th page by cursor", page_50_url, None, False),
        (f"search, selective ({rare})", lambda: f"/conversations/?q={rare}&size=50", None, True),
        (f"search, thousands ({thousands})", lambda: f"/conversations/?q={thousands}&size=50", None, True),
        (f"search, common ({common})", lambda: f"/conversations/?q={common}&size=50", None, True),
        (f"search, phrase ({phrase})", lambda: "/conversations/?" + urlencode({"q": phrase, "size": 50}), None, True),
        (
            f"search, exclusion ({excluding})",
            lambda: "/conversations/?" + urlencode({"q": excluding, "size": 50}),
            None,
            True,
        ),
        (
            f"search, long answers ({LONG_ANSWER_WORD})",
            lambda: f"/conversations/?q={LONG_ANSWER_WORD}&size=50",
            None,
            True,
        ),
        (
            f"search, words together ({WORDS_TOGETHER})",
            lambda: "/conversations/?" + urlencode({"q": WORDS_TOGETHER, "size": 50}),
            None,
            True,
        ),
        # The rare roles' filters (issue #16's pages, not its targets): a walk of every message before their indexes.
        ("list, has a message from system", lambda: "/conversations/?role=system", None, False),
        (f"search, {common} from system", lambda: f"/conversations/?q={common}&role=system&size=50", None, False),
        (f"search, {common} from tool", lambda: f"/conversations/?q={common}&role=tool&size=50", None, False),
        ("thread, largest (50k messages)", lambda: f"/conversations/{big_thread}/", None, True),
        ("thread, a typical one", lambda: f"/conversations/{typical}/", None, False),
        ("thread, older 100 pages deep", older_100_deep, {"HX-Request": "true"}, False),
        ("user page, busiest user", lambda: f"/users/{one_user.pk}/", None, True),
    ]
    # Page 5,000 of the changelist (100 rows a page), or its last page on a smaller database.
    deep_conversations = min(5000, max(1, int(sizes["conversations"] * 0.9) // 100))
    deep_messages = min(5000, max(1, int(sizes["conversation_messages"] * 0.9) // 100))
    stock = f"{STOCK_ADMIN}schemaadmin"  # Django's admin as it comes, on the bench's own site
    admin = {
        "list, first page": [f"{stock}/conversation/", f"{stock}/message/"],
        "list, 50th page by cursor": [
            f"{stock}/conversation/?p={deep_conversations}",
            f"{stock}/message/?p={deep_messages}",
        ],
        f"search, selective ({rare})": [f"{stock}/message/?q={rare}"],
        f"search, common ({common})": [f"{stock}/message/?q={common}"],
    }

    ours = [task for task in ours if args.only in task[0]]
    # As the WSGI process does once loaded: what is alive now is out of the cyclic collector's reach.
    from config.wsgi import freeze_loaded_objects

    freeze_loaded_objects()
    rss_before, peak_before = rss_mb(), peak_rss_mb()
    rows: list[Measured] = []
    for name, make_url, headers, target in ours:
        url = make_url()
        times, db_times, cpu_times, queries = timed(client, url, args.repeats, headers, warm_up=True)
        rows.append(Measured(name, url, times, db_times, cpu_times, queries, target))
        print(f"  measured: {name:<34} p50 {pct(times, 50):8.1f} ms", flush=True)
    rss_after, peak_after = rss_mb(), peak_rss_mb()

    for row in rows:
        for url in admin.get(row.name, []) if args.admin_repeats else []:
            times, _, _, _ = timed(admin_client, url, args.admin_repeats, may_time_out=True)
            row.admin.append((url, times))
            print(f"  measured: admin {url:<45} p50 {pct(times, 50):8.1f} ms", flush=True)

    print()
    header = f"{'task (ours)':<38}{'p50 ms':>8}{'p95 ms':>8}{'db p50':>8}{'cpu p50':>8}{'queries':>8}"
    print(header + "   stock admin changelist (p50 ms)   ratio admin/ours")
    for row in rows:
        mark = "*" if row.target else " "
        line = f"{mark}{row.name:<37}{pct(row.times, 50):>8.1f}{pct(row.times, 95):>8.1f}"
        line += f"{pct(row.db_times, 50):>8.1f}{pct(row.cpu_times, 50):>8.1f}{row.queries:>8}"
        if not row.admin:
            print(line + "   (no admin equivalent)")
            continue
        for i, (url, admin_times) in enumerate(row.admin):
            prefix = line if i == 0 else " " * len(line)
            ratio = pct(admin_times, 50) / pct(row.times, 50)
            model = url.split("/")[3]
            stopped = " (stopped by the 15 s statement timeout: ≥)" if pct(admin_times, 50) >= 15_000 else ""
            print(f"{prefix}   {model:<13}{pct(admin_times, 50):>10.1f}{'':>8}{ratio:>9.0f}×{stopped}")
    print(f"* a page of issue #16's targets: p95 ≤ {TARGET_MS:g} ms at 10M messages")
    print(
        f"RSS: {rss_before:.0f} MB before our {len(rows) * args.repeats} requests, {rss_after:.0f} MB after "
        f"(peak {peak_before:.0f} MB before, {peak_after:.0f} MB after; setup's collectstatic sets the peak)"
    )
    print(f"messages in the database: ≈{sizes['conversation_messages']:,}")
    if args.profile:
        for row in rows:
            headers = {"HX-Request": "true"} if "older" in row.name else None
            profile(client, row, args.profile, headers)
    return rows


# Where a request's time goes: the first match of a profile entry's file and function, by cumulative time.
AREAS = [
    ("database (cursor.execute)", "django/db/backends/utils.py", "_execute_with_wrappers"),
    ("templates (with context processors)", "django/template/base.py", "render"),
    ("  of which the layout's context", "schemaadmin/context_processors.py", "layout"),
    ("the view", "schemaadmin/permissions.py", "wrapped"),
    ("  audit event", "schemaadmin/audit.py", "record_read"),
    ("session + user lookup", "django/contrib/auth/__init__.py", "get_user"),
    ("permission checks", "django/contrib/auth/models.py", "has_perm"),
    ("ORM: compiling SQL", "django/db/models/sql/compiler.py", "as_sql"),
    ("ORM: model instances from rows", "django/db/models/base.py", "from_db"),
    ("CSRF token for the page", "django/middleware/csrf.py", "get_token"),
]


def profile(client, row: Measured, repeats: int, headers: dict[str, str] | None) -> None:
    """Print where the time of repeats requests of one page goes: cProfile's top functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeats):
        response = client.get(row.url, headers=headers or {})
        assert response.status_code == 200
    profiler.disable()
    profiler.dump_stats(f"/tmp/prof-{row.name.split()[0]}-{row.name.split()[-1]}.out")
    stats = pstats.Stats(profiler)
    total = stats.total_tt / repeats * 1000  # type: ignore[attr-defined]
    print(f"\nprofile: {row.name} ({repeats} requests, {total:.1f} ms each under the profiler)")
    entries = stats.stats  # type: ignore[attr-defined]
    for label, path, function in AREAS:
        cumulative = max(
            (ct for (file, _, func), (_, _, _, ct, _) in entries.items() if file.endswith(path) and func == function),
            default=0.0,
        )
        print(f"  {label:<38}{cumulative / repeats * 1000:>7.2f} ms  {cumulative / stats.total_tt:>4.0%}")  # type: ignore[attr-defined]
    print("  top functions by own time:")
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:15]
    for (file, line, func), (_, calls, tt, _, _) in ranked:
        where = "/".join(Path(file).parts[-3:]) if file != "~" else "(builtin)"
        print(f"  {tt / repeats * 1000:>7.2f} ms  {calls // repeats:>6} calls  {where}:{line} {func}")


def print_growth(results: dict[float, list[Measured]]) -> None:
    """Print, per page, p50 and p95 at each scale and the growth from the smallest scale to the largest."""
    scales = sorted(results)
    small, large = scales[0], scales[-1]
    by_name = {scale: {row.name.split(" (")[0]: row for row in rows} for scale, rows in results.items()}
    print(f"\n== growth from scale {small:g} to scale {large:g}")
    heading = "".join(f"{'p50@' + f'{s:g}':>10}{'p95@' + f'{s:g}':>10}" for s in scales)
    print(f"{'task (ours)':<38}{heading}{'p50 ×':>8}{'p95 ×':>8}")
    for name, first in by_name[small].items():
        if not all(name in by_name[s] for s in scales):
            continue
        cells = "".join(
            f"{pct(by_name[s][name].times, 50):>10.1f}{pct(by_name[s][name].times, 95):>10.1f}" for s in scales
        )
        last = by_name[large][name]
        growth50 = pct(last.times, 50) / pct(first.times, 50)
        growth95 = pct(last.times, 95) / pct(first.times, 95)
        mark = "*" if first.target else " "
        print(f"{mark}{name:<37}{cells}{growth50:>7.2f}×{growth95:>7.2f}×")
    print(f"* a page of issue #16's targets: growth ≤ {TARGET_GROWTH:g}×")


NEXT_LINK = re.compile(r'rel="next" href="(\?[^"]+)"')
OLDER_LINK = re.compile(r'class="[^"]*load-older[^"]*" href="(\?before=\d+)"')


def link(response, pattern: re.Pattern[str]) -> str:
    """Return the query string of the link pattern finds in the page (what a user would click)."""
    match = pattern.search(response.content.decode())
    assert match, f"no link matching {pattern.pattern}"
    return html.unescape(match.group(1))


def search_terms(connection, *, exclude_conversation: int) -> tuple[str, str, str]:
    """Return a rare word, a word of thousands of messages and a common word of the seeded messages, from the
    tsvector statistics of a 1% sample. The middle one is among no common words ANALYZE lists: its hits are read
    through the GIN index and sorted, the search that cost most before its page was picked before the joins."""
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
    # 10-49 in the 1% sample: about 1,000-4,900 messages, under COLLECTED_HITS.
    from schemaadmin.services.message_search import search_facts

    thousands = next((w for w, n in words if 10 <= n < 50 and not search_facts(w).walkable), rare)
    return rare, thousands, common


def common_phrase(connection, *, exclude_conversation: int) -> str:
    """Return the commonest two-word phrase of a 0.1% sample of the messages, quoted: a phrase of common words."""
    sample = "SELECT content FROM conversation_messages TABLESAMPLE SYSTEM (0.1) WHERE conversation_id <> %s LIMIT 5000"
    with connection.cursor() as cur:
        cur.execute(sample, [exclude_conversation])
        pairs: dict[tuple[str, str], int] = {}
        for (content,) in cur.fetchall():
            words = re.findall(r"[a-z0-9]+", content.lower())  # as the parser splits them: a number parts two words
            for pair in zip(words, words[1:], strict=False):
                if all(len(word) >= 4 and word.isalpha() for word in pair):
                    pairs[pair] = pairs.get(pair, 0) + 1
    first, second = max(pairs, key=pairs.__getitem__)
    return f'"{first} {second}"'


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
