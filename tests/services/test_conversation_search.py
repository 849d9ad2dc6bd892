"""Message search never walks every message by creation time: plain common words walk (a page comes fast), phrases
and exclusions of common words walk a bounded number of the newest messages, everything else reads the GIN index."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.http import QueryDict

from schemaadmin.conf import app_settings
from schemaadmin.filters import MessageSearchFilter
from schemaadmin.models import ChatUser, Conversation, Message
from schemaadmin.paging import Cursor
from schemaadmin.services import conversations, message_search, search_walks
from schemaadmin.services.conversations import SEARCH_ORDER
from schemaadmin.services.message_search import COLLECTED_HITS, search_page
from schemaadmin.services.search_walks import WALKED_ROWS, WalkScope

ROWS = 30_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
GIN_INDEX = "messages_content_fts"


@pytest.fixture
def messages(plant) -> Iterator[str]:
    """A planted, analyzed copy of conversation_messages (same indexes) that the test's queries read instead."""
    user = ChatUser.objects.create(external_id="acct-search")
    conversation = Conversation.objects.create(user=user, created_at=T0, updated_at=T0)
    schema = plant.schema
    plant.sql(
        f"CREATE TABLE {schema}.conversation_messages (LIKE public.conversation_messages "
        "INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)"
    )
    # "the" in two messages in three, like a stop word; "word" in one in 10, "other" in one in 20 (all with "word").
    plant.sql(
        f"""
        INSERT INTO {schema}.conversation_messages
            (id, conversation_id, user_id, role, content, token_count, created_at)
        SELECT i, %(conversation)s, %(user)s, 'user',
               CASE WHEN i %% 3 <> 0 THEN 'the ' ELSE '' END
               || 'parcel '
               || CASE WHEN i %% 10 = 0 THEN 'word ' ELSE '' END
               || CASE WHEN i %% 20 = 0 THEN 'other ' ELSE '' END
               || CASE WHEN i %% 3000 = 7 THEN 'the the refund ' ELSE '' END
               || CASE WHEN i %% 10000 = 3 THEN 'the the the ' ELSE '' END
               || 'number ' || i,
               3, timestamptz '2026-01-01' + i * interval '1 minute'
        FROM generate_series(1, {ROWS}) AS i
        """,  # noqa: S608 -- a test schema
        {"conversation": conversation.pk, "user": str(user.pk)},
    )
    plant.sql(f"ALTER TABLE {schema}.conversation_messages ADD PRIMARY KEY (id)")
    plant.sql(f"CREATE INDEX messages_content_fts ON {schema}.conversation_messages USING gin (search_vector)")
    plant.sql(f"CREATE INDEX messages_created_id ON {schema}.conversation_messages (created_at DESC, id DESC)")
    plant.sql(f"ANALYZE {schema}.conversation_messages")
    with connection.cursor() as cur:  # undone with the test's transaction
        cur.execute(f"SET LOCAL search_path TO {schema}, public")
    yield schema


def _matching(schema: str, text: str, plant) -> list[int]:
    """Return the ids of the messages matching text, newest first, without any index."""
    rows = plant.sql(
        f"""
        SELECT id FROM {schema}.conversation_messages
        WHERE to_tsvector('simple', content) @@ websearch_to_tsquery('simple', %s)
        ORDER BY created_at DESC, id DESC
        """,  # noqa: S608 -- a test schema
        [text],
    )
    return [row[0] for row in rows]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.fixture
def plans() -> Iterator[list[tuple[str, list[dict[str, Any]]]]]:
    """Collect the plan of every statement reading messages, run under EXPLAIN ANALYZE (under its SET LOCALs)."""
    seen: list[tuple[str, list[dict[str, Any]]]] = []

    def explain(execute, sql, params, many, context):
        if '"conversation_messages"' in sql and not sql.startswith("EXPLAIN"):
            with context["connection"].connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                seen.append((sql, list(_nodes(cur.fetchone()[0][0]["Plan"]))))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain):
        yield seen


def _walks(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the nodes that read messages by walking: all of them (Seq Scan) or an index in its order."""
    on_messages = [n for n in nodes if n.get("Relation Name") == "conversation_messages"]
    return [n for n in on_messages if n["Node Type"] in ("Seq Scan", "Index Scan", "Index Only Scan")]


def _walked(walk: dict[str, Any]) -> int:
    """Return how many rows a walk passed: those it gave and those its filter dropped."""
    return (walk["Actual Rows"] + walk.get("Rows Removed by Filter", 0)) * walk["Actual Loops"]


def _steps(plans: list[tuple[str, list[dict[str, Any]]]]) -> list[int]:
    """Return the messages each step of a bounded walk may walk (from where the last stopped), in order: the LIMIT of
    the window it reads."""
    windows = [re.search(r' LIMIT (\d+)\) AS "conversation_messages"', sql) for sql, _ in plans]
    return [int(window.group(1)) for window in windows if window]


def _uses_gin(nodes: list[dict[str, Any]]) -> bool:
    return any((n["Node Type"], n.get("Index Name")) == ("Bitmap Index Scan", GIN_INDEX) for n in nodes)


@pytest.mark.parametrize(
    "text",
    ["word", "refund", '"the the refund"', "the -the", '"the the the"', "the refund"],
)
def test_searches_that_may_match_little_read_messages_through_the_gin_index(messages, plant, plans, text, monkeypatch):
    # Plain words go to the GIN index at once. A phrase or an exclusion of common words ("the -the") first walks
    # the newest messages, at most WALKED_ROWS[-1] of them, and finds too few hits there: never the whole table.
    # (A walk that met a few hits walks on up to WALKED_FURTHEST messages, more than this table holds: not here.)
    monkeypatch.setattr(search_walks, "WALKED_FURTHEST", WALKED_ROWS[-1])
    result = search_page(Message.objects.all(), text, None, 25)
    expected = _matching(messages, text, plant)
    assert [m.pk for m in result.page.rows] == expected[:25]
    assert len(expected) < COLLECTED_HITS
    assert result.total.exact and result.total.value == len(expected)
    assert plans, "the search read no messages"
    for sql, nodes in plans:
        for walk in _walks(nodes):
            walked = _walked(walk)
            assert walk["Node Type"] != "Seq Scan" and walked <= WALKED_ROWS[-1], f"{text!r} walks {walked}: {sql}"
            assert walk.get("Index Name") == "messages_created_id", (walk, sql)
    assert any(_uses_gin(nodes) for _, nodes in plans), f"{text!r} never read the GIN index"


@pytest.mark.parametrize("text", ['"the parcel"', "parcel -word", "word -other"])
def test_a_phrase_or_exclusion_of_common_words_finds_its_pages_among_the_newest_messages(messages, plant, plans, text):
    # Hits everywhere (two messages in three, 9 in 10, 1 in 20): a walk of the newest WALKED_ROWS[0] messages finds
    # each page, forward and back, and the GIN index (every hit rechecked to be sorted) is never read.
    expected = _matching(messages, text, plant)
    first = search_page(Message.objects.all(), text, None, 25)
    second = search_page(Message.objects.all(), text, first.page.next, 25)
    back = search_page(Message.objects.all(), text, second.page.previous, 25)
    assert [m.pk for m in first.page.rows] == expected[:25]
    assert [m.pk for m in second.page.rows] == expected[25:50]
    assert [m.pk for m in back.page.rows] == expected[:25]
    assert (second.page.first, second.page.last) == (26, 50)
    assert not first.total.exact and first.total.value >= 25  # the planner's estimate: the hits were not counted
    for sql, nodes in plans:
        assert not _uses_gin(nodes), f"{text!r} read the GIN index: {sql}"
        for walk in _walks(nodes):
            assert _walked(walk) <= WALKED_ROWS[0], sql


def test_a_plain_common_word_walks_newest_first_and_stops_at_a_page(messages, plant, plans):
    # "the" is in two messages in three: a newest-first walk meets 25 hits within about 40 rows, where collecting
    # its 20,000 hits from the GIN index would read most of the table.
    result = search_page(Message.objects.all(), "the", None, 25)
    expected = _matching(messages, "the", plant)
    assert [m.pk for m in result.page.rows] == expected[:25]
    assert not result.total.exact and result.total.value >= COLLECTED_HITS
    page_reads = [nodes for sql, nodes in plans if "@@" in sql and "LIMIT" in sql]
    assert page_reads, plans
    for nodes in page_reads:
        assert nodes[0]["Node Type"] == "Limit"
        assert any((n["Node Type"], n.get("Index Name")) == ("Index Scan", "messages_created_id") for n in nodes)


@pytest.mark.parametrize("text", ["word", "refund", "parcel -other"])
def test_the_snippets_query_joins_only_the_page_it_shows(messages, plant, text):
    # The GIN index gives hits in no order. The query that joins conversations and users and makes the snippets
    # must read the page's messages alone: joined before the sort, each of 3,000 hits of "word" was joined (and
    # each of 28,500 of "parcel -other", past COLLECTED_HITS) to keep 25.
    read: list[int] = []

    def explain(execute, sql, params, many, context):
        if "ts_headline" in sql:
            with context["connection"].connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                nodes = list(_nodes(cur.fetchone()[0][0]["Plan"]))
            outer = [n for n in nodes if n.get("Alias") == "conversation_messages"]
            assert outer, nodes
            read.append(sum(n["Actual Rows"] * n["Actual Loops"] for n in outer))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain):
        result = search_page(Message.objects.all(), text, None, 25)
    assert [m.pk for m in result.page.rows] == _matching(messages, text, plant)[:25]
    assert read and all(rows <= 26 for rows in read), read


def test_common_words_that_go_together_find_their_pages_among_the_newest_messages(messages, plant, plans):
    # The planner multiplies the odds of "word" (1 in 10) and "other" (1 in 20): 150 hits guessed. "other" is never
    # without "word": there are 1,500. Collected from the GIN index, such a search read and sorted every hit ("password
    # reset" at 10M messages: 87,634 hits, 0.5 s; "rebook free", 100 ms): it probes the newest messages first.
    expected = _matching(messages, "word other", plant)
    first = search_page(Message.objects.all(), "word other", None, 25)
    second = search_page(Message.objects.all(), "word other", first.page.next, 25)
    assert [m.pk for m in first.page.rows] == expected[:25]
    assert [m.pk for m in second.page.rows] == expected[25:50]
    page_plans = [(sql, nodes) for sql, nodes in plans if not sql.startswith("SELECT COUNT(*)")]  # the total's count
    assert not any(_uses_gin(nodes) for _, nodes in page_plans), [sql[:120] for sql, _ in page_plans]
    assert _steps(plans) == [WALKED_ROWS[0], WALKED_ROWS[0]]  # one step a page
    walks = [_walked(walk) for _, nodes in plans for walk in _walks(nodes)]
    assert walks and all(walked <= WALKED_ROWS[0] for walked in walks), walks


def test_words_that_never_meet_among_the_newest_go_to_the_gin_index_after_a_probe(messages, plant, plans):
    # "refund" (every 3,000th message) and "other" (every 20th) are never in one message: the probe of the newest
    # WALKED_ROWS[0] messages meets no hit, and the GIN index reads the none there are at once (no second step).
    result = search_page(Message.objects.all(), "refund other", None, 25)
    assert result.page.rows == [] and result.total.exact and result.total.value == 0
    assert _steps(plans) == [WALKED_ROWS[0]]


def test_words_that_go_together_under_a_filter_walk_on_though_the_probe_met_none(messages, plant, plans):
    # Among the oldest 3,000 messages only: a filter may be why the probe met no hit (the GIN index would then read
    # every hit of the words for the filter to keep few), so the walk takes its next step before the GIN index.
    oldest = Message.objects.filter(pk__lte=3_000)
    result = search_page(oldest, "word other", None, 25)
    expected = [pk for pk in _matching(messages, "word other", plant) if pk <= 3_000]
    assert [m.pk for m in result.page.rows] == expected[:25]
    assert result.total.exact and result.total.value == len(expected) == 150
    assert _steps(plans) == [WALKED_ROWS[0], WALKED_ROWS[1] - WALKED_ROWS[0]]


def test_a_search_with_more_hits_than_guessed_is_walked_once_the_gin_index_gives_collected_hits(
    messages, plant, plans, monkeypatch
):
    # "the refund": the probe of the newest WALKED_ROWS[0] messages meets none of its 10 hits, and it goes to the GIN
    # index. Those are more than COLLECTED_HITS here (8): the page is then looked for by the walk's next step, not read
    # by sorting every hit (at 10M messages "flight cancelled refund", guessed 1,297 hits, had 224,862: 1.3 s sorted,
    # ~5 ms walked).
    monkeypatch.setattr(message_search, "COLLECTED_HITS", 8)
    expected = _matching(messages, "the refund", plant)
    result = search_page(Message.objects.all(), "the refund", None, 5)
    assert [m.pk for m in result.page.rows] == expected[:5]
    assert result.total.exact and result.total.value == 10  # counted: fewer than EXACT_COUNT_BELOW
    page_plans = [(sql, nodes) for sql, nodes in plans if not sql.startswith("SELECT COUNT(*)")]
    gin_reads = [sql for sql, nodes in page_plans if _uses_gin(nodes)]
    assert len(gin_reads) == 1 and gin_reads[0].startswith("WITH found AS MATERIALIZED"), gin_reads  # the collect
    # None in the newest 2,000, six in the 18,000 after them.
    assert _steps(plans) == [WALKED_ROWS[0], WALKED_ROWS[1] - WALKED_ROWS[0]]


def test_each_step_of_a_walk_goes_on_from_where_the_last_stopped_forward_and_back(messages, plant, plans, monkeypatch):
    # "the refund" is in every 3,000th message. Steps of 4,000 then 20,000 messages: the first meets one hit, the
    # second walks the 16,000 after it (not the first 4,000 again) and the page is both steps' hits, in order.
    monkeypatch.setattr(search_walks, "WALKED_ROWS", (4_000, 20_000))
    expected = _matching(messages, "the refund", plant)
    first = search_page(Message.objects.all(), "the refund", None, 5)
    assert [m.pk for m in first.page.rows] == expected[:5]
    assert _steps(plans) == [4_000, 16_000]
    plans.clear()
    second = search_page(Message.objects.all(), "the refund", first.page.next, 5)
    assert [m.pk for m in second.page.rows] == expected[5:]  # the walk reached the oldest message: all there are
    back = search_page(Message.objects.all(), "the refund", second.page.previous, 5)
    assert [m.pk for m in back.page.rows] == expected[:5]
    assert (back.page.first, back.page.last) == (1, 5)


@pytest.mark.parametrize("owned_read", [30_000, 29_999])
def test_common_words_in_a_few_users_conversations_read_their_messages_not_the_gin_index(
    messages, plant, plans, monkeypatch, owned_read
):
    # Kept to one user's conversations, a search of common words read the GIN index's list of every hit again for
    # each of them (one user's 44 conversations at 10M messages: 2.8 s). Now it reads the conversations' messages,
    # when they hold OWNED_READ messages or fewer (here the user's 30,000, one more than the cap: the GIN index).
    plant.sql(
        f"CREATE INDEX messages_conv_created_id ON {messages}.conversation_messages (conversation_id, created_at, id)"
    )
    plant.sql(f"ANALYZE {messages}.conversation_messages")
    Conversation.objects.update(message_count=ROWS)
    monkeypatch.setattr(message_search, "OWNED_READ", owned_read)
    filters = MessageSearchFilter(QueryDict("user=acct-search"), queryset=Message.objects.all())
    assert filters.is_valid(), filters.errors
    scope = filters.walk_scope()
    plans.clear()
    result = search_page(filters.qs, "word other", None, 25, walk_scope=scope)
    expected = _matching(messages, "word other", plant)
    assert [m.pk for m in result.page.rows] == expected[:25]
    through_conversations = [
        n for _, nodes in plans for n in nodes if n.get("Index Name") == "messages_conv_created_id"
    ]
    if owned_read >= ROWS:
        assert result.total.exact and result.total.value == len(expected)  # all collected: counted
        assert through_conversations and not any(_uses_gin(nodes) for _, nodes in plans), [s[:120] for s, _ in plans]
    else:  # as before: the newest messages walked first, the total estimated
        assert not through_conversations and _steps(plans) == [WALKED_ROWS[0]]


def test_many_hits_the_walk_does_not_meet_are_read_and_sorted_from_the_gin_index(messages, plant, plans, monkeypatch):
    # Among the oldest 3,000 messages, "the refund" has one hit, COLLECTED_HITS here: neither the probe nor the walk's
    # next step meets it among the newest messages, and the page is read by sorting every hit.
    monkeypatch.setattr(message_search, "COLLECTED_HITS", 1)
    oldest = Message.objects.filter(pk__lte=3_000)
    result = search_page(oldest, "the refund", None, 25)
    assert [m.pk for m in result.page.rows] == [7]
    assert result.total.exact and result.total.value == 1  # counted: fewer than EXACT_COUNT_BELOW
    # Walked (2,000, then the 18,000 after them), met nothing, then the page sorted from the GIN index.
    assert _steps(plans) == [WALKED_ROWS[0], WALKED_ROWS[1] - WALKED_ROWS[0]]
    assert any(_uses_gin(nodes) for sql, nodes in plans if "ts_headline" in sql), [sql[:120] for sql, _ in plans]


def test_a_walk_counts_every_message_it_passes_not_only_those_the_filters_keep(messages, plant, plans):
    # Only the oldest 1,000 messages pass the filter: a walk counting the messages it kept would pass all 30,000 to
    # keep 2,000. It stops after WALKED_ROWS of any kind, finds no hit among them, and the page is read by bitmap.
    oldest = Message.objects.filter(pk__lte=1000)
    result = search_page(oldest, "parcel -word", None, 25)
    expected = [pk for pk in _matching(messages, "parcel -word", plant) if pk <= 1000]
    assert [m.pk for m in result.page.rows] == expected[:25]
    assert result.total.exact and result.total.value == len(expected)
    walks = [walk for _, nodes in plans for walk in _walks(nodes)]
    assert walks, "no walk was tried"
    assert all(_walked(walk) <= WALKED_ROWS[-1] for walk in walks), walks


@pytest.mark.parametrize("per_time", [30_000, 5_000])
def test_a_walk_stops_at_its_last_message_even_among_messages_of_one_time(messages, plant, plans, per_time):
    # A bulk insert stamps many messages with one time. A walk bounded by its last message's time alone would walk
    # all of them (the whole table when they are one batch); bounded by its key (time, id) it walks WALKED_ROWS.
    plant.sql(
        f"UPDATE {messages}.conversation_messages "  # noqa: S608 -- a test schema
        f"SET created_at = timestamptz '2026-01-01' + (id / {per_time}) * interval '1 minute'"
    )
    plant.sql(f"ANALYZE {messages}.conversation_messages")
    plans.clear()
    assert search_page(Message.objects.all(), "the -the", None, 25).page.rows == []  # no hit: both walks, then GIN
    first = search_page(Message.objects.all(), "parcel -word", None, 25)
    second = search_page(Message.objects.all(), "parcel -word", first.page.next, 25)
    expected = _matching(messages, "parcel -word", plant)
    assert [m.pk for m in first.page.rows] == expected[:25]
    assert [m.pk for m in second.page.rows] == expected[25:50]
    walks = [(_walked(walk), sql[:80]) for sql, nodes in plans for walk in _walks(nodes)]
    assert walks and all(walked <= WALKED_ROWS[-1] for walked, _ in walks), walks


def test_a_walked_phrase_counts_its_hits_when_the_planner_guesses_few(messages, plant):
    # "other" always follows "word": the planner multiplies their odds (1 in 200) where the phrase is in 1 in 20.
    # The walk finds the page; the total is counted, as any listing's whose estimate is small, not that guess.
    text = '"word other"'
    expected = _matching(messages, text, plant)
    result = search_page(Message.objects.all(), text, None, 25)
    assert [m.pk for m in result.page.rows] == expected[:25]
    limit = app_settings()["EXACT_COUNT_BELOW"]
    if len(expected) < limit:
        assert result.total.exact and result.total.value == len(expected)
    else:
        assert not result.total.exact and result.total.value >= limit


@pytest.fixture
def slow_gin_read() -> Iterator[None]:
    """Make the GIN index's read of every hit take 50 ms on the server, past a 1 ms SEARCH_FALLBACK_TIMEOUT_MS
    whatever the machine's speed: here it took 0.3–1 ms, and a fast read ran to its end (a flaky test)."""

    def pause(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.startswith("WITH found AS MATERIALIZED"):  # paging.keyset_collect: its first WHERE is the hits'
            sql = sql.replace(" WHERE ", " WHERE (SELECT pg_sleep(0.05)) IS NOT NULL AND ", 1)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(pause):
        yield


@pytest.mark.usefixtures("slow_gin_read")
@pytest.mark.parametrize("text", ['"the the the"', "the -the"])
def test_a_gin_read_that_takes_too_long_shows_what_the_walk_found_and_says_so(messages, plant, settings, text):
    # Common words whose walk finds no page ('"the the the"': 2 hits among the newest 20,000 messages, "the -the":
    # none) go to the GIN index, which offers every message with "the". Stopped by SEARCH_FALLBACK_TIMEOUT_MS, the
    # page is the hits among the messages the walk read (the newest: the highest ids here), and says so.
    settings.SCHEMAADMIN = {"SEARCH_FALLBACK_TIMEOUT_MS": 1}
    walked = set(range(ROWS, ROWS - WALKED_ROWS[-1], -1))
    expected = [pk for pk in _matching(messages, text, plant) if pk in walked]
    result = search_page(Message.objects.all(), text, None, 25)
    assert result.searched_only == WALKED_ROWS[-1]
    assert [m.pk for m in result.page.rows] == expected
    assert all(m.snippet for m in result.page.rows)
    assert not result.total.exact and result.page.previous is None
    # Its next page goes on from the last message walked: the other 10,000 here, which that walk reaches the end of.
    onwards = search_page(Message.objects.all(), text, result.page.next, 25)
    rest = [pk for pk in _matching(messages, text, plant) if pk not in walked]
    assert onwards.searched_only == 0 and [m.pk for m in onwards.page.rows] == rest
    if rest:
        assert onwards.page.first == len(expected) + 1  # numbered on from the cut-short page
    # The cancelled statement left the transaction usable: the same search, given the time, finds every hit.
    settings.SCHEMAADMIN = {}
    complete = search_page(Message.objects.all(), text, None, 25)
    assert complete.searched_only == 0 and complete.total.exact
    assert [m.pk for m in complete.page.rows] == _matching(messages, text, plant)


@pytest.mark.usefixtures("slow_gin_read")
@pytest.mark.parametrize(("text", "found"), [('"the the the"', [20_003, 10_003]), ("the -the", [])])
def test_the_page_of_a_search_cut_short_says_what_was_searched(messages, client_as, settings, text, found):
    settings.SCHEMAADMIN = {"SEARCH_FALLBACK_TIMEOUT_MS": 1}
    response = client_as("support").get("/conversations/", {"q": text})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="search-cut-short"' in html and 'data-testid="total"' not in html
    assert f"Only {WALKED_ROWS[-1]:,} messages were searched" in html
    assert [m.pk for m in response.context["page"].rows] == found
    if found:
        assert f"{len(found)} of them match (below)" in html and "1–2 matching messages" in html  # no total
    else:
        assert "None of them match" in html and "Nothing matches these filters" not in html
    assert "Search on from there" in html


@pytest.mark.usefixtures("slow_gin_read")
def test_a_search_is_cut_short_only_forward_and_only_when_a_limit_is_set(messages, plant, settings):
    # Back from a cursor (here: the messages newer than the 5th) the page was reached from newer pages: read in full.
    settings.SCHEMAADMIN = {"SEARCH_FALLBACK_TIMEOUT_MS": 1}
    fifth = Message.objects.get(pk=5)
    back = Cursor(SEARCH_ORDER.name, (fifth.created_at, fifth.pk), "before")
    result = search_page(Message.objects.all(), '"the the the"', back, 25)
    assert result.searched_only == 0 and [m.pk for m in result.page.rows] == [20_003, 10_003]
    # SEARCH_FALLBACK_TIMEOUT_MS 0 (or less): no limit of its own (the web's timeout still applies in a request).
    for none in (0, -5):
        settings.SCHEMAADMIN = {"SEARCH_FALLBACK_TIMEOUT_MS": none}
        result = search_page(Message.objects.all(), '"the the the"', None, 25)
        assert result.searched_only == 0 and result.total.exact and result.total.value == 3


@pytest.fixture
def tool_messages(messages, plant, monkeypatch) -> str:
    """One message in 10 of the planted table from tool, none of them with "the" (common among all messages), each
    with "invoice"; the rare roles' indexes of the model; COLLECTED_HITS and WALKED_ROWS scaled to its 30,000 rows."""
    table = f"{messages}.conversation_messages"
    plant.sql(
        f"UPDATE {table} SET role = 'tool', content = 'lookup invoice ok number ' || id "  # noqa: S608 -- a test schema
        "WHERE id % 10 = 0"
    )
    plant.sql(
        f"CREATE INDEX messages_rare_role_created ON {table} (role, created_at DESC, id DESC) "
        "WHERE role IN ('system', 'tool')"
    )
    plant.sql(f"CREATE INDEX messages_tool_fts ON {table} USING gin (search_vector) WHERE role = 'tool'")
    plant.sql(f"ANALYZE {table}")
    monkeypatch.setattr(message_search, "COLLECTED_HITS", 100)
    monkeypatch.setattr(search_walks, "WALKED_ROWS", (200, 1_000))
    return messages


def test_a_common_word_in_none_of_a_roles_messages_is_not_walked_through_all_of_them(tool_messages, plans):
    # The planner takes the word and the role to be independent: "the" from tool looks like 2,000 hits, a page
    # met after a few dozen tool messages. There are none: unbounded, the walk read all 3,000 (at 10M messages,
    # "before" from tool read 368,000, 1.2 s). Bounded, it read 200 of them, then 1,000, then the role's own GIN
    # index; now, having met no hit among the first 200, it reads that index at once ("before" from system at 10M
    # messages: the second step took 63 ms, the index 1 ms).
    tool = Message.objects.filter(role="tool")
    result = search_page(tool, "the", None, 25, walk_scope=WalkScope(role="tool"))
    assert result.page.rows == [] and result.total.exact and result.total.value == 0
    walks = [(_walked(walk), sql[:120]) for sql, nodes in plans for walk in _walks(nodes)]
    assert walks and all(walked <= 200 for walked, _ in walks), walks
    assert any(
        (n["Node Type"], n.get("Index Name")) == ("Bitmap Index Scan", "messages_tool_fts")
        for _, nodes in plans
        for n in nodes
    ), [sql[:120] for sql, _ in plans]


def test_a_word_common_in_a_roles_messages_finds_its_page_among_that_roles_newest(tool_messages, plant, plans):
    # "invoice" is in every tool message: a walk of the newest 200 of them finds each page.
    expected = _matching(tool_messages, "invoice", plant)
    tool = Message.objects.filter(role="tool")
    scope = WalkScope(role="tool")
    first = search_page(tool, "invoice", None, 25, walk_scope=scope)
    second = search_page(tool, "invoice", first.page.next, 25, walk_scope=scope)
    assert [m.pk for m in first.page.rows] == expected[:25]
    assert [m.pk for m in second.page.rows] == expected[25:50]
    walks = [(_walked(walk), sql[:120]) for sql, nodes in plans for walk in _walks(nodes)]
    assert walks and all(walked <= 200 for walked, _ in walks), walks


@pytest.mark.usefixtures("slow_gin_read")
def test_a_search_of_one_role_cut_short_says_it_searched_that_roles_messages(tool_messages, client_as, settings):
    settings.SCHEMAADMIN = {"SEARCH_FALLBACK_TIMEOUT_MS": 1}
    response = client_as("support").get("/conversations/", {"q": "the", "role": "tool"})
    assert response.status_code == 200
    html = response.content.decode()
    # The walk met no hit among the newest 200 tool messages and went to the role's own GIN index, cut short here.
    assert "Only 200 messages from tool were searched" in html and "None of them match" in html


def test_a_search_active_to_a_day_walks_from_that_day(messages, plant, plans, monkeypatch):
    # 30 conversations of 1,000 messages each, one after the other. "Active to" the day of the 5th conversation's
    # last message keeps messages 1-5,000: the walk starts at that day, where it meets a page of "the" at once; from
    # the newest message it met none in 20,000 and read every "the" from the GIN index (5-9 s at 10M messages, where
    # such a search has more than COLLECTED_HITS hits: here 3,333, so the cap is scaled down).
    monkeypatch.setattr(message_search, "COLLECTED_HITS", 100)
    _thirty_conversations(messages, plant)
    filters = _active_to_the_fifth("q=the")
    plans.clear()
    result = search_page(filters.qs, "the", None, 25, walk_scope=filters.walk_scope())
    assert [m.pk for m in result.page.rows] == [pk for pk in _matching(messages, "the", plant) if pk <= 5000][:25]
    assert not any(_uses_gin(nodes) for _, nodes in plans), [sql[:120] for sql, _ in plans]
    walks = [(_walked(walk), sql[:120]) for sql, nodes in plans for walk in _walks(nodes)]
    assert walks and all(walked <= WALKED_ROWS[0] for walked, _ in walks), walks


def _planted_conversations(schema: str, plant) -> None:
    """Plant an empty conversations table (same columns and indexes) that the test's queries read instead of public's
    (the search_path reads the planted schema first), to be analyzed: the plans of a search under conversation filters
    then rest on its own statistics, not on whatever public's hold after other tests. Analyzing public's instead
    would leak: ANALYZE writes a table's row count in place, which the test's rollback does not undo."""
    plant.sql(
        f"CREATE TABLE {schema}.conversations (LIKE public.conversations INCLUDING DEFAULTS INCLUDING IDENTITY "
        "INCLUDING GENERATED INCLUDING CONSTRAINTS INCLUDING INDEXES)"
    )


def _big_conversations_and_many_small(messages, plant) -> None:
    """Put the newest 27,000 planted messages in 300 conversations of 90, the first 3,000 in 3,000 of one each, with
    message_count as kept: 9% of the conversations hold 90% of the messages. As at 10M messages, the big conversations
    are more than the statistics name one by one (here none: a statistics target of 1).

    The conversations are planted (_planted_conversations)."""
    user = ChatUser.objects.get(external_id="acct-search")
    _planted_conversations(messages, plant)
    small = Conversation.objects.bulk_create(
        Conversation(user=user, created_at=T0, updated_at=T0, message_count=1) for _ in range(3_000)
    )
    big = Conversation.objects.bulk_create(
        Conversation(user=user, created_at=T0, updated_at=T0, message_count=90) for _ in range(300)
    )
    table = f"{messages}.conversation_messages"
    plant.sql(
        f"UPDATE {table} SET conversation_id = CASE WHEN id <= 3000 THEN (%s::bigint[])[id]"  # noqa: S608 -- a test schema
        " ELSE (%s::bigint[])[(id - 3001) / 90 + 1] END",
        [[c.pk for c in small], [c.pk for c in big]],
    )
    plant.sql(f"ALTER TABLE {table} ALTER COLUMN conversation_id SET STATISTICS 1")
    plant.sql(f"ANALYZE {table}")
    plant.sql(f"ANALYZE {messages}.conversations")


@pytest.mark.parametrize("spread", [300, 301])
def test_a_common_word_in_many_big_conversations_is_walked_though_the_planner_expects_few_hits(
    messages, plant, plans, monkeypatch, spread
):
    # The planner gives each message its conversation's odds of being kept: "the" in conversations of 50 messages or
    # more looks like a tenth of its hits, under COLLECTED_HITS, and was collected from the GIN index ("before" in those
    # of 100 or more at 10M messages: guessed 4,826 hits, some 87,000, 2-3 s). They hold 90% of the messages: a walk
    # meets a page at once. Not when fewer such conversations are kept than SPREAD_CONVERSATIONS (here 300 or 301):
    # their messages may lie in a few spans of time, far from the newest. A GIN index read costing no more than a walk
    # (HIT_READ_COST 0) keeps _walk_cheaper out of it: here, with its own cost, it walks too.
    monkeypatch.setattr(message_search, "COLLECTED_HITS", 5_000)
    monkeypatch.setattr(message_search, "HIT_READ_COST", 0)
    monkeypatch.setattr(message_search, "OWNED_READ", 0)  # few messages kept: not read through them either
    monkeypatch.setattr(conversations, "SPREAD_CONVERSATIONS", spread)
    _big_conversations_and_many_small(messages, plant)
    filters = MessageSearchFilter(QueryDict("min_messages=50"), queryset=Message.objects.all())
    assert filters.is_valid(), filters.errors
    plans.clear()
    result = search_page(filters.qs, "the", None, 25, walk_scope=filters.walk_scope())
    assert [m.pk for m in result.page.rows] == [pk for pk in _matching(messages, "the", plant) if pk > 3000][:25]
    # The page's statements (the total is then counted up to EXACT_COUNT_BELOW hits, as every listing's small one
    # is), and their walks in an order (the page's messages are then fetched by their ids).
    page_plans = [(sql, nodes) for sql, nodes in plans if not sql.startswith("SELECT COUNT(*)")]
    walks = [
        (_walked(walk), sql[:120])
        for sql, nodes in page_plans
        for walk in _walks(nodes)
        if walk.get("Index Name") != "conversation_messages_pkey"
    ]
    if spread == 300:
        assert not any(_uses_gin(nodes) for _, nodes in plans), [sql[:120] for sql, _ in plans]
        assert walks and all(walked <= WALKED_ROWS[0] for walked, _ in walks), walks
    else:
        # Not walked first: the GIN index is read first. It gives COLLECTED_HITS hits, which send the page to a
        # bounded walk rather than to a sort of every hit.
        assert _uses_gin(page_plans[0][1]), [sql[:120] for sql, _ in page_plans]
        assert walks and all(walked <= WALKED_ROWS[0] for walked, _ in walks), walks


def test_a_search_the_planner_expects_in_many_messages_is_walked_though_not_all_its_words_are_common(
    messages, plant, plans, monkeypatch
):
    # "12345" is in one message (not common), "word" in one in 10: "word or 12345" is in one in 10, and a walk of the
    # newest messages finds its page. Sorted from the GIN index's bitmap, such a search took 5.4 s at 10M messages
    # ("refund or chargeback", more than COLLECTED_HITS hits: here 3,000, so the cap is scaled down).
    monkeypatch.setattr(message_search, "COLLECTED_HITS", 100)
    text = "word or 12345"
    result = search_page(Message.objects.all(), text, None, 25)
    assert [m.pk for m in result.page.rows] == _matching(messages, text, plant)[:25]
    assert not any(_uses_gin(nodes) for _, nodes in plans), [sql[:120] for sql, _ in plans]
    walks = [(_walked(walk), sql[:120]) for sql, nodes in plans for walk in _walks(nodes)]
    assert walks and all(walked <= WALKED_ROWS[0] for walked, _ in walks), walks


def _append_where(messages: str, plant, text: str, condition: str) -> None:
    """Append text to the content of the planted messages that meet condition (SQL over their columns), and analyze
    them again."""
    where = condition.replace("%", "%%")  # the statement has a parameter: its own % are written twice
    plant.sql(f"UPDATE {messages}.conversation_messages SET content = content || %s WHERE {where}", [text])  # noqa: S608
    plant.sql(f"ANALYZE {messages}.conversation_messages")


def test_a_walk_that_met_a_few_hits_walks_on_as_far_as_they_say_a_page_lies(messages, plant, plans, monkeypatch):
    # '"parcel parcel"' is in one message in 200: the newest 1,000 hold 5 hits of the 26 a page needs. The walk goes
    # on to 2 x 1,000 x 26 / 5 = 10,400 messages and finds the page there, without the GIN index.
    _append_where(messages, plant, " parcel parcel", "id % 200 = 0")
    monkeypatch.setattr(search_walks, "WALKED_ROWS", (200, 1_000))
    plans.clear()
    text = '"parcel parcel"'
    result = search_page(Message.objects.all(), text, None, 25)
    assert [m.pk for m in result.page.rows] == _matching(messages, text, plant)[:25]
    assert not any(_uses_gin(nodes) for _, nodes in plans), [sql[:120] for sql, _ in plans]
    walked = [_walked(walk) for _, nodes in plans for walk in _walks(nodes)]
    assert max(walked) > 1_000 and all(rows <= 10_400 for rows in walked), walked


def _active_to_the_fifth(query: str = "") -> MessageSearchFilter:
    """Return the search filters, valid, of "Active to" the day of the 5th conversation's last message (messages
    1-5,000 of _thirty_conversations), with query's other filters."""
    day = (T0 + timedelta(minutes=5000)).date()
    filters = MessageSearchFilter(QueryDict(f"active_to={day}&{query}"), queryset=Message.objects.all())
    assert filters.is_valid(), filters.errors
    return filters


def _thirty_conversations(messages, plant) -> None:
    """Put the planted messages in 30 conversations of 1,000 each, one after the other, last_message_at and
    message_count as kept; the conversations are planted and analyzed (_planted_conversations)."""
    user = ChatUser.objects.get(external_id="acct-search")
    _planted_conversations(messages, plant)
    ids = [
        Conversation.objects.create(
            user=user, created_at=T0, updated_at=T0, last_message_at=T0 + timedelta(minutes=1000 * (k + 1))
        ).pk
        for k in range(30)
    ]
    Conversation.objects.update(message_count=1_000)
    plant.sql(
        f"UPDATE {messages}.conversation_messages "  # noqa: S608 -- a test schema
        "SET conversation_id = (%s::bigint[])[(id - 1) / 1000 + 1]",
        [ids],
    )
    plant.sql(f"ANALYZE {messages}.conversation_messages")
    plant.sql(f"ANALYZE {messages}.conversations")


@pytest.mark.parametrize("text", ["the", '"the parcel"', "parcel -word", "word or 12345"])
def test_a_search_active_to_a_day_pages_forward_and_back_through_exactly_its_hits(messages, plant, monkeypatch, text):
    monkeypatch.setattr(message_search, "COLLECTED_HITS", 100)
    _thirty_conversations(messages, plant)
    filters = _active_to_the_fifth()
    expected = [pk for pk in _matching(messages, text, plant) if pk <= 5000]

    def page(cursor: Cursor | None) -> Any:
        return search_page(filters.qs, text, cursor, 25, walk_scope=filters.walk_scope()).page

    first = page(None)
    second = page(first.next)
    back = page(second.previous)
    assert [m.pk for m in first.rows] == expected[:25]
    assert [m.pk for m in second.rows] == expected[25:50]
    assert [m.pk for m in back.rows] == expected[:25]


def test_a_rare_roles_search_up_to_a_day_walks_only_that_roles_messages(tool_messages, plant, plans, monkeypatch):
    # The walk counts the role's messages up to the day by the role's own index (messages_rare_role_created): by the
    # time index it would pass every message of the span, ten for each of the role's here. A rare role up to a day
    # walks only when the planner expects COLLECTED_HITS hits or more, else it reads the role's own GIN index: the cap
    # is 1 here, which every estimate reaches (the planner never expects fewer than one row), so the walk is what is
    # tested, whatever the statistics say (it walked only while public's conversations' statistics were stale).
    monkeypatch.setattr(message_search, "COLLECTED_HITS", 1)
    monkeypatch.setattr(message_search, "OWNED_READ", 0)  # its few conversations are not read through either
    _thirty_conversations(tool_messages, plant)
    plans.clear()
    filters = _active_to_the_fifth("role=tool")
    result = search_page(filters.qs, "the", None, 25, walk_scope=filters.walk_scope())
    assert result.page.rows == [] and result.total.exact
    walks = [(_walked(walk), walk.get("Index Name"), sql[:100]) for sql, nodes in plans for walk in _walks(nodes)]
    assert walks and all(rows <= 1_000 for rows, _, _ in walks), walks


def _hundred_conversations(messages, plant) -> None:
    """Put the planted messages in 100 conversations in turn (message i in the (i - 1) % 100-th), one in ten of them
    SMS, one API, the rest web: each channel's messages are spread over all of time. The conversations (message_count
    as kept) are planted and analyzed (_planted_conversations)."""
    user = ChatUser.objects.get(external_id="acct-search")
    _planted_conversations(messages, plant)
    channels = ["api" if k == 1 else "sms" if k % 10 == 0 else "web" for k in range(100)]
    ids = [
        Conversation.objects.create(user=user, created_at=T0, updated_at=T0, channel=c, message_count=300).pk
        for c in channels
    ]
    plant.sql(
        f"UPDATE {messages}.conversation_messages "  # noqa: S608 -- a test schema
        "SET conversation_id = (%s::bigint[])[(id - 1) %% 100 + 1]",
        [ids],
    )
    plant.sql(f"ANALYZE {messages}.conversation_messages")
    plant.sql(f"ANALYZE {messages}.conversations")


@pytest.mark.parametrize(("text", "channel", "walked_first"), [("the", "sms", True), ("other", "api", False)])
def test_a_common_word_under_filters_is_walked_when_that_costs_less_than_reading_all_its_hits(
    messages, plant, plans, monkeypatch, text, channel, walked_first
):
    # "the" is in 20,000 messages, 2,000 of them SMS: guessed under COLLECTED_HITS (here 5,000), it was collected from
    # the GIN index, which read all 20,000 for the filter to keep a tenth ("thanks" of the users named Garcia at 10M
    # messages: 192,782 read, 1.6-2.2 s). A page is expected within 26 x 30,000 / 2,000 = 390 messages: walked.
    # "other", in 1,500 messages, 15 of them API: a page expected 52,000 messages away costs more walked than its
    # 1,500 hits read from the GIN index (HIT_READ_COST each).
    monkeypatch.setattr(message_search, "COLLECTED_HITS", 5_000)
    monkeypatch.setattr(message_search, "OWNED_READ", 0)  # the GIN index, not the few conversations read through
    _hundred_conversations(messages, plant)
    filters = MessageSearchFilter(QueryDict(f"channel={channel}"), queryset=Message.objects.all())
    assert filters.is_valid(), filters.errors
    kept = set(
        Message.objects.filter(conversation__channel=channel).values_list("pk", flat=True)  # the planted messages
    )
    plans.clear()
    result = search_page(filters.qs, text, None, 25, walk_scope=filters.walk_scope())
    assert [m.pk for m in result.page.rows] == [pk for pk in _matching(messages, text, plant) if pk in kept][:25]
    page_plans = [(sql, nodes) for sql, nodes in plans if not sql.startswith("SELECT COUNT(*)")]
    walks = [
        _walked(walk)
        for _, nodes in page_plans
        for walk in _walks(nodes)
        if walk.get("Index Name") != "conversation_messages_pkey"
    ]
    if walked_first:
        assert not any(_uses_gin(nodes) for _, nodes in plans), [sql[:120] for sql, _ in plans]
        assert walks and all(walked <= WALKED_ROWS[0] for walked in walks), walks
    else:
        assert _uses_gin(page_plans[0][1]), [sql[:120] for sql, _ in page_plans]
        assert not walks, walks


def test_a_walk_whose_page_lies_past_half_its_furthest_walks_that_far_when_the_gin_index_would_read_more(
    messages, plant, plans, monkeypatch
):
    # '"zebra zebra"' is in every one of the oldest 15,000 messages and in one in 200 of the newer: the newest 1,000
    # hold 5 hits, a page lies ~5,200 messages away, twice that is past WALKED_FURTHEST (here 8,000). Reading the
    # phrase's 15,000 hits from the GIN index costs more than walking 8,000 messages: the walk goes that far, and the
    # page is there.
    _append_where(messages, plant, " zebra zebra", "id <= 15000 OR id % 200 = 0")
    monkeypatch.setattr(search_walks, "WALKED_ROWS", (200, 1_000))
    monkeypatch.setattr(search_walks, "WALKED_FURTHEST", 8_000)
    plans.clear()
    text = '"zebra zebra"'
    result = search_page(Message.objects.all(), text, None, 25)
    assert [m.pk for m in result.page.rows] == _matching(messages, text, plant)[:25]
    assert not any(_uses_gin(nodes) for _, nodes in plans), [sql[:120] for sql, _ in plans]
    walked = [_walked(walk) for _, nodes in plans for walk in _walks(nodes)]
    assert max(walked) > 1_000 and all(rows <= 8_000 for rows in walked), walked


@pytest.mark.parametrize("owned_read", [2_000, 1_999])
def test_common_words_in_a_few_conversations_the_walk_missed_read_their_messages_not_the_gin_index(
    messages, plant, plans, monkeypatch, owned_read
):
    # Only the two oldest conversations (messages 1-2,000) are SMS: "the" from SMS is walked first (a page guessed
    # within 600 messages), and the walk meets none. The GIN index then read every "the" (20,000) for the filter to
    # keep a tenth ("card declined" in the 17 conversations of 500 messages or more at 10M messages, 60,133 messages:
    # 1.0 s). When the conversations kept hold OWNED_READ messages or fewer (here 2,000, or one fewer), their messages
    # are read instead (at 10M messages through each conversation's index; here all 30,000 are read as cheaply).
    _thirty_conversations(messages, plant)
    oldest = list(Conversation.objects.order_by("last_message_at").values_list("pk", flat=True)[:2])
    Conversation.objects.filter(pk__in=oldest).update(channel="sms")
    plant.sql(
        f"CREATE INDEX messages_conv_created_id ON {messages}.conversation_messages (conversation_id, created_at, id)"
    )
    plant.sql(f"ANALYZE {messages}.conversation_messages")
    plant.sql(f"ANALYZE {messages}.conversations")
    monkeypatch.setattr(message_search, "OWNED_READ", owned_read)
    filters = MessageSearchFilter(QueryDict("channel=sms"), queryset=Message.objects.all())
    assert filters.is_valid(), filters.errors
    plans.clear()
    result = search_page(filters.qs, "the", None, 25, walk_scope=filters.walk_scope())
    expected = [pk for pk in _matching(messages, "the", plant) if pk <= 2000]
    assert [m.pk for m in result.page.rows] == expected[:25]
    assert _steps(plans) == [WALKED_ROWS[0], WALKED_ROWS[1] - WALKED_ROWS[0]]  # walked first, met none
    assert result.total.exact and result.total.value == len(expected)
    assert any(_uses_gin(nodes) for _, nodes in plans) == (owned_read < 2_000), [s[:120] for s, _ in plans]


def test_a_walk_goes_no_further_than_reading_the_few_conversations_kept_would_cost(messages, plant, plans, monkeypatch):
    # '"zebra zebra"' is in the oldest 15,000 messages and in one in 200 of the newer; only the newest and the oldest
    # conversations are SMS (2,000 messages). The newest 1,000 hold 5 SMS hits: a page ~5,200 messages away, which
    # the GIN index's read of every hit would let the walk go to (WALKED_FURTHEST, here 8,000). Reading the two
    # conversations' messages costs less (KEPT_READ_COST x 2,000): the walk stops, and their messages are read.
    _thirty_conversations(messages, plant)
    by_age = list(Conversation.objects.order_by("last_message_at").values_list("pk", flat=True))
    Conversation.objects.filter(pk__in=[by_age[0], by_age[-1]]).update(channel="sms")
    _append_where(messages, plant, " zebra zebra", "id <= 15000 OR id % 200 = 0")
    plant.sql(f"ANALYZE {messages}.conversations")
    monkeypatch.setattr(search_walks, "WALKED_ROWS", (200, 1_000))
    monkeypatch.setattr(search_walks, "WALKED_FURTHEST", 8_000)
    filters = MessageSearchFilter(QueryDict("channel=sms"), queryset=Message.objects.all())
    assert filters.is_valid(), filters.errors
    plans.clear()
    text = '"zebra zebra"'
    result = search_page(filters.qs, text, None, 25, walk_scope=filters.walk_scope())
    expected = [pk for pk in _matching(messages, text, plant) if pk <= 1000 or pk > 29_000]
    assert [m.pk for m in result.page.rows] == expected[:25]
    assert _steps(plans) == [200, 800], _steps(plans)  # the two steps, not on to 8,000
    assert not any(_uses_gin(nodes) for _, nodes in plans), [sql[:120] for sql, _ in plans]
