"""A bounded walk of the newest messages (from a cursor) that looks for a search's page among them before the GIN
index does (services/message_search.py decides when): which messages it counts (WalkScope), how far each step walks,
and what it found (Walk)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import QuerySet

from schemaadmin.models import Conversation, Message
from schemaadmin.models.chat import RARE_ROLE_NAMES
from schemaadmin.paging import Cursor, backwards, keyset_edge, keyset_slice_within
from schemaadmin.pg.planner import index_walks_only
from schemaadmin.services.conversations import SEARCH_ORDER

__all__ = ["WALKED_FURTHEST", "WALKED_ROWS", "Walk", "WalkScope", "walked_page"]

# A search that walks first (message_search._walk_first) looks for its page among the newest messages (from the cursor)
# first, walking at most this many, then this many, before the GIN index: there, a phrase of common words read the
# index's lists of both words and then rechecked every hit to sort them: '"factory reset"' took 1.4 s a page at 10M
# messages (279,195 hits), '"before the"' 4.4 s. A walk that finds no page ("the -the") costs its rows, ~1-2 µs each.
WALKED_ROWS = (2_000, 20_000)
# A walk that met some hits among the last of WALKED_ROWS walks on as far as they say a page lies, up to this many
# messages (~0.5-2 µs each): its hits are too sparse to find among the newest messages, too many to read from the
# index. (200,000 sent "hello" in web conversations at 10M messages, a page about 200,000 messages away, to the GIN
# index's 22,000 hits of "hello": 341 ms; walked, 83 ms.)
WALKED_FURTHEST = 500_000


@dataclass(frozen=True, slots=True)
class WalkScope:
    """The messages a bounded walk counts: those of role (any role when ""), created before until (any time when
    None). Both bounds are read by an index of messages in the walk's order. sized: the search keeps the
    conversations of at least N messages, and many of them (conversations.sizes_spread), whose hits the planner
    underrates (message_search._walk_first). owners: the users the user filter found, when few
    (filters.USER_IDS_LISTED). conversations: reads the conversations the filters keep (None: no filter keeps some),
    whose messages a search of common words reads when they are few (message_search.OWNED_READ): first for a few
    users' (their conversations lie all over time), else instead of the GIN index's read of every hit."""

    role: str = ""
    until: datetime | None = None
    sized: bool = False
    owners: tuple[UUID, ...] = ()  # the few users whose conversations the search keeps (none: any user's)
    conversations: Callable[[], QuerySet[Conversation]] | None = None

    @property
    def own_index(self) -> bool:
        """Whether these messages have a GIN index of their own (a rare role's): it reads their hits alone."""
        return self.role in RARE_ROLE_NAMES

    def messages(self, *, using: str) -> QuerySet[Message]:
        scope = Message.objects.db_manager(using).all()
        if self.role:
            scope = scope.filter(role=self.role)
        if self.until is not None:
            scope = scope.filter(created_at__lt=self.until)
        return scope


@dataclass(frozen=True, slots=True)
class Walk:
    """What a bounded walk of the newest messages (from the cursor) found."""

    picked: list[int]  # the ids of the rows keyset_slice(hits) reads for the page, among the messages walked
    rows: int  # the messages the walk could walk, at most WALKED_FURTHEST
    # The key of the last message the walk could walk, read when it found no page; None when it found one or
    # reached the last message.
    edge: tuple[Any, ...] | None
    size: int  # the page's size
    reached_end: bool  # the walk could walk down to the last message: no hit lies beyond it

    @property
    def found_page(self) -> bool:
        """Whether the page is exact: a page and the next one's first row turned up, or every message was walked."""
        return self.reached_end or len(self.picked) > self.size


def walked_page(
    hits: QuerySet[Message],
    cursor: Cursor | None,
    size: int,
    *,
    scope: QuerySet[Message],
    walk_on: bool,
    probe: bool = False,
    walked: Walk | None = None,
    worth_walking: Callable[[], int] | None = None,
) -> Walk:
    """Return the ids of the rows keyset_slice(hits) reads for the page, found among the messages of scope that a
    newest-first walk from the cursor meets first (WALKED_ROWS, then at most WALKED_FURTHEST): a page of them, or as
    many as those messages hold. walked: a walk it goes on from, by the steps of WALKED_ROWS that walk further (a
    probe that met no hit).

    Each step walks the first messages from where the last stopped, in one statement that stops at a page (_walk_step);
    a step that found none then reads the key of the last message it could walk (by the index alone), where the next
    starts: every message before it in the order was walked, so the hits found are the first there are, and the page is
    exact. The walk counts every message of scope (all of them, a role's, those up to a day), not only those the filters
    keep: a filter that keeps few (conversations of 200 messages or more, a user) would otherwise stretch it over most
    of the table. A role's messages are counted by an index of them in order (messages_rare_role_created for the rare
    ones). A step stops at its last message's key, not at its time: messages stamped with one time (a bulk insert) would
    otherwise all be walked. A walk that met some hits but not a page walks on (walk_on: of common words, or of a search
    known to have COLLECTED_HITS hits or more) once more, as far as their density says a page lies ('before -the' from
    SMS: 23 hits of 26 among the newest 20,000 messages, then 3.6 s through the GIN index), never past WALKED_FURTHEST
    messages. Not otherwise: the GIN index reads the hits of a word that is not common fast (the planner's guess that
    made it walk was wrong). Nor when the first step is a probe (probe: scope's messages have a GIN index of their own,
    a rare role's; or the words go together, message_search._together) and met no hit: the planner took the word and the
    role (or the words) to be independent, and the GIN index reads the few hits there are ("before" from system at 10M
    messages: guessed 10,026 hits, none; the second step's 20,000 messages took 63 ms, the role's index 1 ms).
    worth_walking: how many messages are worth walking rather than what comes next (_onward): a page that lies within
    WALKED_FURTHEST but not within half of it is then looked for as far as WALKED_FURTHEST ("before -the" of the 2,224
    users named Garcia at 10M messages: 4 hits among the newest 20,000 messages, a page ~255,000 away, and every
    message holding "before" to read from the GIN index: 1.1 → 0.8 s).
    """
    # How many messages the walk may have walked after each step.
    steps = WALKED_ROWS if walked is None else [rows for rows in WALKED_ROWS if rows > walked.rows]
    if walked is not None and not steps:
        return walked  # it went as far as the steps go
    with index_walks_only(using=hits.db):
        if walked is None:
            walk = _walk_step(hits, scope, cursor, size, steps[0])
        else:
            walk = _walk_on(hits, scope, cursor, walked, steps[0])
        for rows in steps[1:]:
            if walk.found_page or (probe and not walk.picked):
                return walk
            walk = _walk_on(hits, scope, cursor, walk, rows)
        onward = _onward(walk, worth_walking) if walk_on else 0
        if onward:
            walk = _walk_on(hits, scope, cursor, walk, onward)
    return walk


def _walk_on(hits: QuerySet[Message], scope: QuerySet[Message], cursor: Cursor | None, walk: Walk, rows: int) -> Walk:
    """Return the walk of the first rows messages of scope from the cursor, walked on from where walk (which found no
    page) stopped: the messages it walked are not walked again ("hello" at 10M messages walked 2,000, then 20,000, then
    185,000 from the top)."""
    assert walk.edge is not None, "a walk that found no page knows where it stopped"
    stopped = Cursor(SEARCH_ORDER.name, walk.edge, "before" if backwards(cursor) else "after")
    further = _walk_step(hits, scope, stopped, walk.size - len(walk.picked), rows - walk.rows)
    return Walk(
        picked=walk.picked + further.picked,
        rows=rows,
        edge=further.edge,
        size=walk.size,
        reached_end=further.reached_end,
    )


def _walk_step(hits: QuerySet[Message], scope: QuerySet[Message], cursor: Cursor | None, size: int, rows: int) -> Walk:
    """Return what a walk of the first rows of scope's messages from the cursor finds of hits' page (every column of
    them: hits' conditions read theirs).

    One statement walks them (paging.keyset_slice_within: hits read from those rows alone) and stops at a page; only a
    walk that found none reads the key of the last message it could walk (the next walk or page starts there)."""
    picked = keyset_slice_within(hits, scope, SEARCH_ORDER, cursor=cursor, size=size, rows=rows)
    if len(picked) > size:
        return Walk(picked=picked, rows=rows, edge=None, size=size, reached_end=False)
    edge = keyset_edge(scope, SEARCH_ORDER, cursor=cursor, rows=rows)
    return Walk(picked=picked, rows=rows, edge=edge, size=size, reached_end=edge is None)


def _onward(walk: Walk, worth_walking: Callable[[], int] | None) -> int:
    """Return how far a walk that found hits but no page walks on: twice as far as the hits it met say a page lies,
    when that is within WALKED_FURTHEST; else WALKED_FURTHEST when the page lies within it and within worth_walking()
    messages (what the GIN index's read of every hit costs, in messages walked); 0: no further (a page found, no hit
    met, or a page too far)."""
    if walk.found_page or not walk.picked:
        return 0
    needed = 2 * walk.rows * (walk.size + 1) // len(walk.picked)
    if needed <= WALKED_FURTHEST:
        return needed
    if worth_walking is not None and needed // 2 <= min(WALKED_FURTHEST, worth_walking()):
        return WALKED_FURTHEST
    return 0
