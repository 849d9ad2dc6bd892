"""Message search: what the server makes of a search, and a page of its hits, newest first, with marked snippets.

A search reads its hits one of five ways (docs/architecture.md says why): plain common words without filters walk
messages newest-first; a phrase or an exclusion of common words, plain common words under filters (or bounded by an
"Active to" day), and a search the planner expects in many messages walk a bounded number of the newest messages of
their WalkScope first (once more, further, when a walk of common words met a few hits); common words whose filters
keep conversations holding few messages (OWNED_READ) read those conversations' messages (first for a few users', else
when not walked or the walk found no page); anything else, and one whose walk found no page, collects its hits from
the GIN index and picks the page from them; past COLLECTED_HITS, the page is the newest of all hits, sorted from the
index's bitmap. After a walk of common words that found no page, the GIN index's reads stop after
SEARCH_FALLBACK_TIMEOUT_MS, and the page is then the walk's hits (searched_only).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery
from django.core.cache import cache
from django.db import OperationalError
from django.db.models import QuerySet
from psycopg.errors import QueryCanceled

from schemaadmin.conf import app_settings
from schemaadmin.models import Message
from schemaadmin.models.chat import SEARCH_CONFIG
from schemaadmin.paging import (
    Cursor,
    Page,
    backwards,
    keyset_collect,
    keyset_page,
    keyset_slice,
)
from schemaadmin.pg.estimates import RowTotal
from schemaadmin.pg.planner import bitmap_scans_only, index_walks_only, statement_time_limit
from schemaadmin.pg.search import HitWindow, SearchTerms, search_terms, spellings
from schemaadmin.services import search_walks
from schemaadmin.services.conversations import (
    ESTIMATE_SECONDS,
    SEARCH_ORDER,
    ListResult,
    held_messages,
    kept_planner_rows,
    listing_total,
)
from schemaadmin.services.search_walks import Walk, WalkScope, walked_page
from schemaadmin.services.snippets import MARK_END, MARK_START, headline_source, highlighted

__all__ = ["COLLECTED_HITS", "HIT_FIELDS", "OWNED_READ", "search_facts", "search_page", "search_query"]

# A search collects up to this many hits from the GIN index, on the server (paging.keyset_collect). Fewer: they are
# all there is, counted and sorted exactly, in one statement. As many: those were read for nothing (~0.7 µs a hit)
# and each page is the newest of all hits, sorted from the index's bitmap, the total estimated. Words that ANALYZE
# does not list as common (the others are walked) have up to a few tens of thousands of hits at 10M messages.
COLLECTED_HITS = 10_000


def search_query(text: str) -> SearchQuery:
    """Return the query of text in web-search syntax: each of its spellings (pg.search.spellings), or'd."""
    first, *others = (
        SearchQuery(spelling, config=SEARCH_CONFIG, search_type="websearch") for spelling in spellings(text)
    )
    for other in others:
        first = first | other
    return first


def search_facts(text: str, *, using: str = "default") -> SearchTerms:
    """Return pg.search.search_terms(text), asked of the server once per ESTIMATE_SECONDS (the form asks, then the
    search, then each page): the tsquery never changes, whether its words are common only when ANALYZE runs."""
    key = "schemaadmin:search_terms:" + hashlib.sha256(repr((using, text)).encode()).hexdigest()
    terms = cache.get(key)
    if terms is None:
        terms = search_terms(text, using=using)
        cache.set(key, terms, ESTIMATE_SECONDS)
    return terms


def search_page(
    queryset: QuerySet[Message],
    text: str,
    cursor: Cursor | None,
    size: int,
    *,
    walk_scope: WalkScope | None = None,
) -> ListResult:
    """Return one page of messages matching text, newest first, each with a highlighted snippet, and the total.

    walk_scope: the messages a bounded walk counts (every message when None): those of queryset's filters that an
    index holds in order, MessageSearchFilter.walk_scope (a role's messages, those up to an "Active to" day)."""
    walk_scope = walk_scope or WalkScope()
    query = search_query(text)
    hits = queryset.filter(search_vector=query)
    facts = search_facts(text, using=queryset.db)
    words = list(facts.words)
    scope = walk_scope.messages(using=queryset.db)
    kept_messages = functools.cache(partial(_kept_messages, walk_scope))
    if facts.common and walk_scope.owners and kept_messages() is not None:
        # Common words in a few users' conversations: each conversation's messages are read through its index and
        # the hits kept. The planner, guessing few hits, read the GIN index's list of every hit again for each
        # conversation: "flight cancelled refund" in the 44 conversations (50,500 messages) of one user at 10M
        # messages took 2.8 s, "password reset" 1.4 s.
        return _collected_page(queryset, hits, query, words, cursor, size, through_conversations=True)
    estimate = kept_planner_rows(hits) if facts.walkable or not facts.common else 0
    if (
        facts.walkable
        and estimate >= COLLECTED_HITS
        and not queryset.query.has_filters()
        and estimate >= DENSE_SHARE * kept_planner_rows(scope)
    ):
        # Plain common words in many messages: walking messages newest-first meets a page of hits after a few
        # thousand rows, and the planner walks. In fewer, it collects every hit from the GIN index and sorts them
        # ("password reset", guessed 10,039 hits at 10M messages, had 87,634: 0.5-5 s): a bounded walk goes first.
        page = keyset_page(_with_snippets(hits, query, words), SEARCH_ORDER, cursor=cursor, size=size)
        return ListResult(_highlight(page), _search_total(hits, at_least=page.last))
    walk = None
    probe = False

    def worth() -> int:
        # How far a walk may go past what its hits promise (search_walks._onward): no further than reading the
        # messages of the few conversations the filters keep, read next, would cost ('refund -flight' of Garcias in
        # SMS conversations of 50 messages or more at 1M messages: a walk of 500,000 messages, then theirs, 1.4 s).
        kept = kept_messages()
        gin = _worth_walking(scope, query)
        return gin if kept is None else min(gin, KEPT_READ_COST * kept)

    if _walk_first(facts, estimate, walk_scope, scope) or (
        queryset.query.has_filters() and _walk_cheaper(facts, estimate, scope, query, size)
    ):
        # A phrase or an exclusion of common words: its hits are usually everywhere ('"factory reset"'), but may be
        # nowhere ("the -the"), so the walk is bounded. So is the walk of common words under filters: the planner
        # takes a word and a filter to be independent, and a word common among all messages may be in none of those
        # the filters keep ("before" from tool: 0 of 368,000 at 10M messages, an unbounded walk of all of them, 1.2 s).
        # And so is that of a search the planner expects in many messages though not all its words are common ("refund
        # or chargeback": 694,000 hits at 10M messages, sorted from the GIN index's bitmap in 5.4 s, walked in 7 ms).
        # Its first step a probe when a step with no hit says the GIN index reads the hits fast: a rare role's
        # messages have their own; words that go together may also never do, unless a filter is why none was met
        # (the GIN index then reads every hit of the words, and the filter keeps few: "card declined" of the 2,224
        # users named Garcia at 10M messages, 229,045 hits read, 1.7 s). And plain common words under filters that
        # keep few of their hits when the walk is expected to cost less than the GIN index's read of them all
        # (_walk_cheaper).
        probe = walk_scope.own_index or (_together(facts) and not queryset.query.has_filters())
        walk = walked_page(hits, cursor, size, scope=scope, walk_on=facts.common, probe=probe, worth_walking=worth)
        if walk.found_page:
            page = _hit_page(queryset, walk.picked, query, words, cursor, size)
            if cursor is None and len(walk.picked) <= size:  # the walk met every message: these are all the hits
                return ListResult(page, RowTotal(len(walk.picked), exact=True))
            return ListResult(page, _search_total(hits, at_least=page.last))
    # Many hits, which the planner did not expect (words that go together, as "flight cancelled refund": guessed
    # 1,297 hits at 10M messages, 224,862 there): once the GIN index has given COLLECTED_HITS of them, the page is
    # looked for by a bounded walk of the newest messages before all the hits are read and sorted (1.3 s); after a
    # probe that met no hit, by the steps it did not take.
    walk_many = None
    if walk is None or (probe and not walk.picked):
        first_probes = walk is None and walk_scope.own_index
        walk_many = partial(
            walked_page,
            hits,
            cursor,
            size,
            scope=scope,
            walk_on=True,
            probe=first_probes,
            walked=walk,
            worth_walking=worth,
        )
    if facts.common and kept_messages() is not None:
        # Not walked, or the walk found no page, and the GIN index would read every hit of the words for the filters
        # to keep those of a few conversations: their messages are read instead ("card declined" in the 17
        # conversations of 500 messages or more at 10M messages, 60,133 messages: 1.0 → 0.16 s).
        return _collected_page(queryset, hits, query, words, cursor, size, through_conversations=True)
    # Everything else is read through the GIN index, whatever the planner guesses: a walk of all messages
    # newest-first, filtering each, reads the whole table when the hits are few or old ("the the the", "the -the").
    limit = _fallback_timeout_ms()
    # Only forward: a page back from a cursor was reached from newer pages, and cut short it could not say where the
    # walk went or keep its way back.
    # And only after a walk of common words: the GIN index reads a search with a word that is not common fast enough
    # to the end (it was walked first for its many hits, which a filter may have left few of among the newest).
    if walk is None or not facts.common or limit is None or backwards(cursor):
        return _collected_page(queryset, hits, query, words, cursor, size, walk_many=walk_many)
    try:
        return _collected_page(queryset, hits, query, words, cursor, size, timeout_ms=limit, walk_many=walk_many)
    except OperationalError as error:
        if not isinstance(error.__cause__, QueryCanceled):
            raise
    # The GIN index offered too many messages to read again (every one holding "the" for "the -the"): the page is
    # the hits the walk found, which are all there are among the messages it walked, and says so. Its next page
    # goes on from the last message walked, where the next walk starts.
    page = _hit_page(queryset, walk.picked, query, words, cursor, size, read_to=walk.edge)
    return ListResult(page, RowTotal(len(page.rows), exact=False), searched_only=walk.rows)


def _collected_page(
    queryset: QuerySet[Message],
    hits: QuerySet[Message],
    query: SearchQuery,
    words: list[str],
    cursor: Cursor | None,
    size: int,
    *,
    timeout_ms: int | None = None,
    walk_many: Callable[[], Walk] | None = None,
    through_conversations: bool = False,
) -> ListResult:
    """Return the page of hits collected from the GIN index (or through_conversations): picked before the snippets'
    query joins conversations and users (the index gives hits in no order, and joined first, every hit was joined
    before the sort kept a page: 3,419 hits of a word, 35 ms of database time a page at 10M messages; picked first,
    5 ms).

    timeout_ms limits the two statements that read every hit (the collect, and past COLLECTED_HITS the sorted page),
    not the others: a cancel (QueryCanceled) is one of those reads taking too long. walk_many: the walk that looks
    for the page when the collect met COLLECTED_HITS hits, before every hit is read and sorted. through_conversations:
    the hits are read through each conversation's messages, in order (index_walks_only), not the GIN index.
    """
    reads = index_walks_only if through_conversations else bitmap_scans_only
    with reads(using=queryset.db):
        with statement_time_limit(timeout_ms, using=queryset.db):
            found = keyset_collect(hits, SEARCH_ORDER, cursor=cursor, size=size, cap=COLLECTED_HITS)
        if found.count < COLLECTED_HITS:
            page = _hit_page(queryset, [key[-1] for key in found.keys], query, words, cursor, size)
            return ListResult(page, RowTotal(found.count, exact=True))
    walk = walk_many() if walk_many is not None else None  # outside the block: it walks an index in order
    if walk is not None and walk.found_page:
        page = _hit_page(queryset, walk.picked, query, words, cursor, size)
    else:
        sorted_hits = keyset_slice(hits, SEARCH_ORDER, cursor=cursor, size=size).values("pk")
        with reads(using=queryset.db), statement_time_limit(timeout_ms, using=queryset.db):
            page = _hit_page(queryset, sorted_hits, query, words, cursor, size)
    # At least the hits already collected, and those before this page's last.
    return ListResult(page, _search_total(hits, at_least=max(COLLECTED_HITS, page.last)))


def _fallback_timeout_ms() -> int | None:
    """Return SEARCH_FALLBACK_TIMEOUT_MS, or the web's statement timeout when that is shorter; None when the setting
    is 0 or less (no limit of its own: the session's timeout, the web's in a request, applies)."""
    settings = app_settings()
    fallback, web = int(settings["SEARCH_FALLBACK_TIMEOUT_MS"]), int(settings["WEB_STATEMENT_TIMEOUT_MS"])
    if fallback <= 0:
        return None
    return min(fallback, web) if web > 0 else fallback


def _search_total(hits: QuerySet[Message], *, at_least: int) -> RowTotal:
    """Return the hits' total as every listing's (listing_total: the planner's estimate, counted up to
    EXACT_COUNT_BELOW when it guesses fewer, as it does for words that go together in a phrase, whose odds it
    multiplies), and, when estimated, never fewer than at_least hits the search has met: past EXACT_COUNT_BELOW of
    them, no count could be exact, and none is made."""
    if at_least >= app_settings()["EXACT_COUNT_BELOW"]:
        estimate = kept_planner_rows(hits)
        return RowTotal(max(estimate, at_least), exact=False, at_least=at_least >= estimate)
    total = listing_total(hits)
    if total.exact:
        return total
    return RowTotal(max(total.value, at_least), exact=False, at_least=total.at_least or at_least >= total.value)


def _hit_page(
    queryset: QuerySet[Message],
    picked: Iterable[int] | QuerySet[Any, Any],
    query: SearchQuery,
    words: list[str],
    cursor: Cursor | None,
    size: int,
    *,
    read_to: tuple[Any, ...] | None = None,
) -> Page:
    """Return the page of the picked messages (at most a page and one more), with snippets and highlighted; read_to
    as keyset_page's (the picked are all the hits up to that message)."""
    listed = _with_snippets(queryset.filter(pk__in=picked), query, words)  # type: ignore[misc]
    return _highlight(keyset_page(listed, SEARCH_ORDER, cursor=cursor, size=size, read_to=read_to))


# A search of common words kept to a few conversations reads their messages, when they hold this many or fewer
# (~2 µs each at 10M messages, 100 ms for one user's 50,500), instead of reading the GIN index; when the planner
# guesses the filters keep KEPT_CONVERSATIONS_READ conversations or fewer, and they are.
OWNED_READ = 100_000
KEPT_CONVERSATIONS_READ = 2_000
# A message read through its conversation's index costs about as much as this many messages a walk passes.
KEPT_READ_COST = 2


def _kept_messages(walk_scope: WalkScope) -> int | None:
    """Return how many messages the conversations the search's filters keep (walk_scope.conversations) hold, when
    that is OWNED_READ or fewer: guessed by the planner at KEPT_CONVERSATIONS_READ conversations or fewer, then read
    up to that many; None when they are not so few."""
    if walk_scope.conversations is None:
        return None
    conversations = walk_scope.conversations()
    if kept_planner_rows(conversations) > KEPT_CONVERSATIONS_READ:
        return None
    held = held_messages(conversations, most=KEPT_CONVERSATIONS_READ)
    return held if held is not None and held <= OWNED_READ else None


# A search the planner expects in this share of the messages a walk counts, or more, is walked first though not all
# its words are common: a walk of WALKED_ROWS[-1] messages expects 100 hits, four pages of 25.
DENSE_SHARE = 0.005


def _walk_first(facts: SearchTerms, estimate: int, walk_scope: WalkScope, scope: QuerySet[Message]) -> bool:
    """Whether a search looks for its page with a bounded walk of scope (walk_scope's messages) before the GIN index:
    its words are common (plain ones only when the planner expects COLLECTED_HITS hits or more, fewer are collected
    and counted exactly, or when the planner misjudges a filter: when the walk counts the messages up to a day, it
    multiplies the odds of the word and of that bound, and "the" active to a day in May, guessed under COLLECTED_HITS,
    took 0.6 s collected from the GIN index; when the search keeps many conversations of at least N messages, it gives
    each message its conversation's odds of being kept, and the big ones hold many more: "before" in those of 100 or
    more, 3,658 conversations at 10M messages, guessed at 4,826 hits, had some 87,000, 2-3 s collected and sorted from
    the GIN index, 30 ms walked; neither for a rare role, whose messages have a GIN index of their own; or when they
    go together, _together), or the planner expects COLLECTED_HITS hits or more, in at least DENSE_SHARE of the
    messages the walk counts."""
    if facts.common:
        misjudged = (walk_scope.until is not None or walk_scope.sized) and not walk_scope.own_index
        return not facts.walkable or estimate >= COLLECTED_HITS or misjudged or _together(facts)
    return estimate >= COLLECTED_HITS and estimate >= DENSE_SHARE * kept_planner_rows(scope)


# A hit the GIN index gives costs about as much as this many messages a walk passes: at 10M messages, the 192,782
# hits of "thanks" were read in 1.6-2.2 s (~9 µs each, in random places of the table), a walk of 275,000 messages
# took 312 ms (~1.1 µs each, in the index's order).
HIT_READ_COST = 8


def _walk_cheaper(facts: SearchTerms, estimate: int, scope: QuerySet[Message], query: SearchQuery, size: int) -> bool:
    """Whether plain common words are expected to cost less walked than read from the GIN index, under filters that
    keep few of their hits: the walk passes about (size + 1) / share messages for its page, where share is the part of
    scope's messages the planner expects among the hits the filters keep (estimate), at most WALKED_FURTHEST; the GIN
    index reads every hit of the words among scope's messages, each worth HIT_READ_COST messages walked. "thanks" of
    the 2,224 users named Garcia at 10M messages: guessed 8,002 hits (a page expected 64,000 messages away), but the
    GIN index read all 192,782 of the word's, 1.6-1.9 s; walked, 0.3 s. "hello" of the same users is read from the
    GIN index: 25,081 hits against a page expected 484,000 messages away."""
    if not facts.walkable or estimate <= 0:
        return False
    walked = (size + 1) * kept_planner_rows(scope) / estimate
    if walked > search_walks.WALKED_FURTHEST:
        return False
    return walked < _worth_walking(scope, query)


def _worth_walking(scope: QuerySet[Message], query: SearchQuery) -> int:
    """Return how many messages of scope a walk may pass for the cost of reading every hit of query among them from
    the GIN index (the planner's guess of them, HIT_READ_COST each)."""
    return HIT_READ_COST * kept_planner_rows(scope.filter(search_vector=query))


def _together(facts: SearchTerms) -> bool:
    """Whether a search is of several common words, all required: the planner multiplies their odds, and words that
    go together have many more hits than it guesses ("rebook free" at 10M messages: 100 ms collected from the GIN
    index, then walked; "password reset", guessed 10,039 hits, had 87,634). Such a search probes the newest
    messages first (search_walks.walked_page's probe), which costs a step of WALKED_ROWS[0] messages when they never
    meet."""
    return facts.common and facts.walkable and len(facts.words) > 1


# What a hit row shows (tables.browse.SearchHitTable): not the message's text, its tokens or the conversation's and
# user's other columns, each a value the driver would convert for every hit.
HIT_FIELDS = (
    "role",
    "created_at",
    "conversation__title",
    "conversation__user__display_name",
    "conversation__user__external_id",
)


def _with_snippets(messages: QuerySet[Message], query: SearchQuery, words: list[str]) -> QuerySet[Message]:
    """Return the messages with their conversation and user, and a snippet of the text around the matches.

    The snippet is computed in the page's own query: ts_headline re-parses each message, and the server evaluates
    it only for the rows the LIMIT keeps (after the sort, as an expensive expression), never for every hit. A long
    message is given to it from just before the first of the search's words (pg.search.HitWindow).
    """
    return (
        messages.select_related("conversation__user")
        .only(*HIT_FIELDS)
        .annotate(
            marked_snippet=SearchHeadline(
                headline_source(HitWindow("content", words)),
                query,
                config=SEARCH_CONFIG,
                start_sel=MARK_START,
                stop_sel=MARK_END,
                max_words=40,
                min_words=15,
            )
        )
    )


def _highlight(page: Page) -> Page:
    """Set each message's .snippet: its marked snippet escaped, the marks as <mark>."""
    for message in page.rows:
        message.snippet = highlighted(message.marked_snippet)
    return page
