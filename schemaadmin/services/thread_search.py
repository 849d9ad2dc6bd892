"""A search inside one thread: which of its messages match, in thread order, and their text with the terms marked."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline
from django.db.models import Q

from schemaadmin.models import Conversation, Message
from schemaadmin.models.chat import SEARCH_CONFIG
from schemaadmin.pg.planner import bitmap_scans_only
from schemaadmin.services.message_search import search_facts, search_query
from schemaadmin.services.snippets import MARK_END, MARK_START, headline_source, unprotected

__all__ = ["MAX_THREAD_HITS", "ThreadHits", "mark_hits", "thread_hits"]

# A thread's hits are counted up to this many (a thread holds hundreds of messages, rarely thousands).
MAX_THREAD_HITS = 1000


@dataclass(frozen=True, slots=True)
class ThreadHits:
    text: str  # the search as typed
    total: int  # the thread's hits, counted up to MAX_THREAD_HITS
    capped: bool  # more than MAX_THREAD_HITS match
    position: int | None  # the current message's 1-based place among the hits (None: not a hit, or past the count)
    previous: int | None  # the hit before the current message, in thread order
    next: int | None  # the hit after it (the first hit, without a current message)


def thread_hits(conversation: Conversation, text: str, *, role: str = "", current: Message | None = None) -> ThreadHits:
    """Return how many of the thread's messages match text (websearch syntax, as the conversation search), where
    the current message (one of this thread's, as the page read it) stands among them, and the hits either side of
    it, in thread order (created_at, id). role: only that role's messages are hits (the search's "Message from").

    The neighbours are read by the thread's order from the current message (keyset), not picked from a list of the
    first MAX_THREAD_HITS: in a thread with more hits, "Next hit" from one past them went back to the first."""
    facts = search_facts(text)
    # A search for words the statistics do not call common has few hits anywhere: read from the GIN index and the
    # thread's own index together (a bitmap of each), not by walking the thread's messages and testing each, which
    # read all 50,000 of the largest thread for a word it does not hold (108-229 ms; now a few ms).
    planner = bitmap_scans_only() if facts.indexable and not facts.common else nullcontext()
    with planner:
        return _hits(conversation, text, role, current)


def _hits(conversation: Conversation, text: str, role: str, current: Message | None) -> ThreadHits:
    hits = Message.objects.filter(conversation=conversation, search_vector=search_query(text))
    if role:
        hits = hits.filter(role=role)
    total = hits.values("pk")[: MAX_THREAD_HITS + 1].count()
    capped = total > MAX_THREAD_HITS
    if current is None:
        first = hits.order_by("created_at", "id").values_list("pk", flat=True).first()
        return ThreadHits(text, min(total, MAX_THREAD_HITS), capped, None, None, first)
    at, pk = current.created_at, current.pk
    before = Q(created_at__lt=at) | Q(created_at=at, id__lt=pk)
    after = Q(created_at__gt=at) | Q(created_at=at, id__gt=pk)
    previous = hits.filter(before).order_by("-created_at", "-id").values_list("pk", flat=True).first()
    following = hits.filter(after).order_by("created_at", "id").values_list("pk", flat=True).first()
    position = None
    if hits.filter(pk=pk).exists():
        place = hits.filter(before).values("pk")[:MAX_THREAD_HITS].count() + 1
        position = place if place <= MAX_THREAD_HITS else None
    return ThreadHits(text, min(total, MAX_THREAD_HITS), capped, position, previous, following)


def mark_hits(messages: Iterable[Message], text: str, *, role: str = "") -> None:
    """Set .marked on each shown message that matches (of role, when given): its whole text with the matched terms
    between marks."""
    shown = {m.pk: m for m in messages if not role or m.role == role}
    marked = (
        Message.objects.filter(pk__in=list(shown), search_vector=search_query(text))
        .annotate(
            marked=SearchHeadline(
                headline_source("content"),
                search_query(text),
                config=SEARCH_CONFIG,
                start_sel=MARK_START,
                stop_sel=MARK_END,
                highlight_all=True,  # the whole message, not a fragment
            )
        )
        .values_list("pk", "marked")
    )
    for pk, text_marked in marked:
        shown[pk].marked = unprotected(text_marked)  # type: ignore[attr-defined]
