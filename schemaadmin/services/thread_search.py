"""A search inside one thread: which of its messages match, in thread order, and their text with the terms marked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline

from schemaadmin.models import Conversation, Message
from schemaadmin.models.chat import SEARCH_CONFIG
from schemaadmin.services.message_search import search_query
from schemaadmin.services.snippets import MARK_END, MARK_START, headline_source, unprotected

__all__ = ["MAX_THREAD_HITS", "ThreadHits", "mark_hits", "thread_hits"]

# A thread's hits are listed up to this many (a thread holds hundreds of messages, rarely thousands).
MAX_THREAD_HITS = 1000


@dataclass(frozen=True, slots=True)
class ThreadHits:
    text: str  # the search as typed
    ids: list[int]  # the matching messages, in thread order
    current: int | None  # the message the page was opened at
    capped: bool  # more than MAX_THREAD_HITS match; only the first are listed

    @property
    def position(self) -> int | None:
        """Return the current message's 1-based place among the hits, None when it is not one."""
        return self.ids.index(self.current) + 1 if self.current in self.ids else None

    @property
    def previous(self) -> int | None:
        place = self.position
        return self.ids[place - 2] if place and place > 1 else None

    @property
    def next(self) -> int | None:
        place = self.position
        if place is None:
            return self.ids[0] if self.ids else None
        return self.ids[place] if place < len(self.ids) else None


def thread_hits(conversation: Conversation, text: str, *, current: int | None = None) -> ThreadHits:
    """Return the thread's messages matching text (websearch syntax, as the conversation search), in order."""
    ids = list(
        Message.objects.filter(conversation=conversation, search_vector=search_query(text))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[: MAX_THREAD_HITS + 1]
    )
    return ThreadHits(text, ids[:MAX_THREAD_HITS], current, capped=len(ids) > MAX_THREAD_HITS)


def mark_hits(messages: Iterable[Message], text: str) -> None:
    """Set .marked on each shown message that matches: its whole text with the matched terms between marks."""
    shown = {m.pk: m for m in messages}
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
