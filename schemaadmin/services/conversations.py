"""What the conversation browser shows: lists and their totals, thread windows, exports (search: message_search.py)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from django.core.cache import cache
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import Coalesce

from schemaadmin.conf import app_settings
from schemaadmin.models import Conversation, Message
from schemaadmin.models.chat import last_activity
from schemaadmin.paging import Cursor, KeysetOrder, Page, keyset_page, keyset_slice
from schemaadmin.pg.estimates import RowTotal, planner_rows, row_total
from schemaadmin.services.compiled import compiled

__all__ = [
    "CONVERSATION_ORDERS",
    "SEARCH_ORDER",
    "ListResult",
    "THREAD_ORDER",
    "ThreadWindow",
    "conversation_page",
    "other_conversations",
    "conversation_results",
    "listing_total",
    "user_conversation_total",
    "export_json",
    "export_markdown",
    "kept_planner_rows",
    "thread_window",
]

_ID = ("k_id", lambda: F("id"))


def _orders(name: str, key: tuple[str, Any], kind: type, label: str) -> list[tuple[KeysetOrder, str]]:
    kinds = (kind, int)
    # Said as what the values are: times are newest or oldest, counts most or fewest.
    first, last = ("newest", "oldest") if kind is datetime else ("most", "fewest")
    return [
        (KeysetOrder(f"-{name}", (key, _ID), descending=True, kinds=kinds), f"{label}, {first} first"),
        (KeysetOrder(name, (key, _ID), descending=False, kinds=kinds), f"{label}, {last} first"),
    ]


# URL name -> order, each walked by one index of migration 0003.
_ORDER_LIST = [
    *_orders("activity", ("k_activity", last_activity), datetime, "Last activity"),
    *_orders("created", ("k_created", lambda: F("created_at")), datetime, "Created"),
    *_orders("messages", ("k_messages", lambda: F("message_count")), int, "Messages"),
    *_orders("tokens", ("k_tokens", lambda: F("total_tokens")), int, "Tokens"),
]
CONVERSATION_ORDERS: dict[str, KeysetOrder] = {order.name: order for order, _ in _ORDER_LIST}
ORDER_CHOICES = [(order.name, label) for order, label in _ORDER_LIST]
DEFAULT_ORDER = "-activity"

# Search hits newest first, over the (created_at DESC, id DESC) message index.
SEARCH_ORDER = KeysetOrder(
    "newest", (("k_created", lambda: F("created_at")), _ID), descending=True, kinds=(datetime, int)
)
# A thread, oldest first, over the (conversation_id, created_at, id) index.
THREAD_ORDER = KeysetOrder(
    "thread", (("k_created", lambda: F("created_at")), _ID), descending=False, kinds=(datetime, int)
)


def conversation_page(queryset: QuerySet[Conversation], order: KeysetOrder, cursor: Cursor | None, size: int) -> Page:
    """Return one page of filtered conversations with their users, in order."""
    return keyset_page(queryset.select_related("user"), order, cursor=cursor, size=size)


@dataclass(frozen=True, slots=True)
class ListResult:
    """One page of a list and the size of the whole list (estimated or exact)."""

    page: Page
    total: RowTotal
    # A search cut short: the page holds the hits among this many messages read from the cursor, the rest unsearched.
    searched_only: int = 0


# How long a listing's estimated total is reused. The total does not depend on the page, and the planner's
# estimate only moves when ANALYZE runs: paging through a big listing asks the planner once a minute, not per page.
ESTIMATE_SECONDS = 60


# Conversations of at least N messages that a search keeps, from which on it walks first for common words
# (message_search._walk_first): fewer hold their messages in a few spans of time, not among the newest a walk meets.
SPREAD_CONVERSATIONS = 100


def sizes_spread(min_messages: int, *, using: str = "default") -> bool:
    """Return whether at least SPREAD_CONVERSATIONS conversations have min_messages messages or more (counted up to
    that many, by the conversations_msgs_id index alone)."""
    kept = Conversation.objects.using(using).filter(message_count__gte=min_messages)
    return kept[:SPREAD_CONVERSATIONS].count() >= SPREAD_CONVERSATIONS


def held_messages(conversations: QuerySet[Conversation], *, most: int) -> int | None:
    """Return how many messages the conversations hold, their message_count (migration 0003's triggers keep it)
    summed, when they are at most `most` (one statement reads `most` + 1 of them); None when they are more."""
    read = conversations.order_by()[: most + 1].aggregate(
        conversations=Count("pk"), messages=Coalesce(Sum("message_count"), 0)
    )
    return read["messages"] if read["conversations"] <= most else None


def conversation_results(
    queryset: QuerySet[Conversation], order: KeysetOrder, cursor: Cursor | None, size: int
) -> ListResult:
    """Return one page of filtered conversations and the total: the planner's estimate unless it is small."""
    return ListResult(conversation_page(queryset, order, cursor, size), listing_total(queryset))


def listing_total(queryset: QuerySet[Any]) -> RowTotal:
    """Return row_total(queryset) from the planner's estimate kept ESTIMATE_SECONDS per query: a big listing asks
    nothing more; a small one is counted each time (its rows come and go visibly), without an EXPLAIN first."""
    limit = app_settings()["EXACT_COUNT_BELOW"]
    estimate, counted = _kept_rows(queryset)
    if counted:  # a count that met the limit, kept for the next pages: a floor, not a guess
        return RowTotal(estimate, exact=False, at_least=True)
    total = row_total(queryset, exact_below=limit, estimate=estimate)
    if not total.exact and estimate < limit:
        # The count reached the limit where the planner guessed fewer: the next pages take the count's word. (Only
        # then: kept again on every page, an estimate would outlive ESTIMATE_SECONDS for as long as anyone pages.)
        _keep_planner_rows(queryset, total.value, counted=True)
    return total


def user_conversation_total(conversations: QuerySet[Conversation]) -> RowTotal:
    """Return the total of one user's conversations: counted (through their index, at most EXACT_COUNT_BELOW rows)
    before the planner is asked, because most users have fewer: one query instead of an EXPLAIN and a count."""
    counted = row_total(conversations, exact_below=app_settings()["EXACT_COUNT_BELOW"], estimate=0)
    return counted if counted.exact else listing_total(conversations)


def kept_planner_rows(queryset: QuerySet[Any]) -> int:
    """Return planner_rows(queryset), kept ESTIMATE_SECONDS per query: an estimate moves only when ANALYZE runs."""
    return _kept_rows(queryset)[0]


def _kept_rows(queryset: QuerySet[Any]) -> tuple[int, bool]:
    """Return the rows kept for queryset, and whether a count, not the planner, found them (listing_total)."""
    kept = cache.get(_estimate_key(queryset))
    if kept is None:
        estimate = planner_rows(queryset)
        _keep_planner_rows(queryset, estimate)
        return estimate, False
    return kept


def _keep_planner_rows(queryset: QuerySet[Any], rows: int, *, counted: bool = False) -> None:
    cache.set(_estimate_key(queryset), (rows, counted), ESTIMATE_SECONDS)


def _estimate_key(queryset: QuerySet[Any]) -> str:
    sql, params = queryset.order_by().query.sql_with_params()
    return "schemaadmin:rows:" + hashlib.sha256(repr((queryset.db, sql, params)).encode()).hexdigest()


# A thread's side panel lists this many of its owner's other conversations, latest activity first.
OTHER_CONVERSATIONS = 10


def other_conversations(conversation: Conversation) -> list[Conversation]:
    """Return the owner's latest other conversations, through the (user_id, last_message_at DESC) index."""
    using = conversation._state.db or "default"
    query = compiled("other_conversations", using, _others, user=_STAND_IN_USER, conversation=_STAND_IN_ID)
    return query.rows(using, user=conversation.user_id, conversation=conversation.pk)


def _others(user: UUID, conversation: int) -> QuerySet[Conversation]:
    others = Conversation.objects.filter(user_id=user).exclude(pk=conversation)
    return others.order_by("-last_message_at", "-id")[:OTHER_CONVERSATIONS]


# Values no row has, compiled into the statements above and below in place of each request's own.
_STAND_IN_ID = -918273645
_STAND_IN_USER = UUID("9e1d7a3c-5b2f-4c8e-a6d4-0f1e2d3c4b5a")


@dataclass(frozen=True, slots=True)
class ThreadWindow:
    messages: list[Message]
    older_than: int | None  # id of the first message shown, when older ones exist
    newer_than: int | None  # id of the last message shown, when newer ones exist
    focus: int | None = None


def _thread(conversation: Conversation | int) -> QuerySet[Message]:
    return Message.objects.filter(conversation=conversation).defer("search_vector")


def thread_window(
    conversation: Conversation,
    *,
    size: int,
    around: Message | None = None,
    before: Message | None = None,
    after: Message | None = None,
) -> ThreadWindow:
    """Return a window of the thread in order: the latest messages, or those around/before/after one message."""
    messages = _thread(conversation)
    if around is not None:
        half = size // 2
        earlier = _walk(messages, around, "before", half)
        later = _walk(messages, around, "after", size - half - 1)
        rows = [*earlier.rows, around, *later.rows]
        return ThreadWindow(
            rows,
            older_than=rows[0].pk if earlier.previous is not None else None,
            newer_than=rows[-1].pk if later.next is not None else None,
            focus=around.pk,
        )
    if before is not None:
        page = _walk(messages, before, "before", size)
        return ThreadWindow(
            page.rows, older_than=_first(page) if page.previous is not None else None, newer_than=before.pk
        )
    if after is not None:
        page = _walk(messages, after, "after", size)
        return ThreadWindow(page.rows, older_than=after.pk, newer_than=_last(page) if page.next is not None else None)
    # The latest messages: walk backwards from the end of the thread (one more tells whether older ones exist).
    using = conversation._state.db or "default"
    query = compiled(f"thread_latest:{size}", using, lambda thread: _latest(thread, size), thread=_STAND_IN_ID)
    latest = query.rows(using, thread=conversation.pk)
    rows = list(reversed(latest[:size]))
    return ThreadWindow(rows, older_than=rows[0].pk if len(latest) > size else None, newer_than=None)


def _latest(conversation: int, size: int) -> QuerySet[Message]:
    return _thread(conversation).order_by("-created_at", "-id")[: size + 1]


def _walk(messages: QuerySet[Message], anchor: Message, direction: str, size: int) -> Page:
    cursor = Cursor(THREAD_ORDER.name, (anchor.created_at, anchor.pk), direction)  # type: ignore[arg-type]
    if size <= 0:
        return Page(rows=[], next=None, previous=None)
    return keyset_page(messages, THREAD_ORDER, cursor=cursor, size=size)


def _first(page: Page) -> int | None:
    return page.rows[0].pk if page.rows else None


def _last(page: Page) -> int | None:
    return page.rows[-1].pk if page.rows else None


EXPORT_BATCH = 2000


@dataclass(frozen=True, slots=True)
class ExportedMessage:
    """A message as an export writes it: read as a row of values, not a model (50k of them: 0.7 s of instances)."""

    id: int
    role: str
    created_at: datetime
    token_count: int
    content: str


def _all_messages(conversation: Conversation) -> Iterator[list[ExportedMessage]]:
    """Yield the whole thread in order, a keyset batch of EXPORT_BATCH messages at a time (flat memory on
    50k-message threads)."""
    messages = _thread(conversation)
    cursor: Cursor | None = None
    while True:
        # keyset_slice reads size + 1 rows: a full batch, or the last one.
        rows = keyset_slice(messages, THREAD_ORDER, cursor=cursor, size=EXPORT_BATCH - 1)
        batch = [ExportedMessage(*row) for row in rows.values_list(*ExportedMessage.__slots__)]
        if batch:
            yield batch
        if len(batch) < EXPORT_BATCH:
            return
        last = batch[-1]
        cursor = Cursor(THREAD_ORDER.name, (last.created_at, last.id), "after")


def export_json(conversation: Conversation) -> Iterator[str | bytes]:
    """Yield the conversation as one JSON document, streamed a batch of messages at a time (one write each, not one
    a message: 50k writes of a big thread's export)."""
    header = {
        "id": conversation.pk,
        "title": conversation.title,
        "channel": conversation.channel,
        "user": {
            "id": str(conversation.user_id),
            "external_id": conversation.user.external_id,
            "display_name": conversation.user.display_name,
        },
        "created_at": conversation.created_at.isoformat(),
        "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
        "message_count": conversation.message_count,
        "total_tokens": conversation.total_tokens,
    }
    yield json.dumps(header, ensure_ascii=False)[:-1] + ', "messages": ['
    separator = ""
    for batch in _all_messages(conversation):
        # One orjson call a batch: 50k messages' json.dumps took ~0.5 s, and one orjson call a message held ~8 kB
        # of buffer each (16 MB a batch). The list's brackets are left out: the batches make one array.
        items = [
            {
                "id": message.id,
                "role": message.role,
                "created_at": message.created_at.isoformat(),
                "token_count": message.token_count,
                "content": message.content,
            }
            for message in batch
        ]
        yield separator.encode() + orjson.dumps(items, option=orjson.OPT_INDENT_2)[1:-2]
        separator = ","
    yield "\n]}\n"


_BACKTICK_RUN = re.compile(r"`+")


# Bidirectional formatting characters: an override in a name reverses the text after it on the line (the pages hold
# each name in <bdi>; Markdown has no such element).
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _markdown_line(text: str | None) -> str:
    """Return user-written text fit for one Markdown line: line breaks folded to spaces, markup characters escaped,
    so a title or a name cannot start a heading of its own or bring HTML to a renderer, and bidirectional controls
    written as <U+202E>, so a name cannot reverse what follows it on its line."""
    folded = " ".join((text or "").split())
    escaped = re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", folded)
    return _BIDI_CONTROL.sub(lambda match: f"\\<U+{ord(match.group()):04X}\\>", escaped)


def _fenced(content: str) -> str:
    """Return content as written inside a code fence longer than any run of backticks in it: a message cannot close
    its fence, forge the next message's heading or turn the rest of the export into code."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(content)), default=0)
    fence = "`" * max(3, longest + 1)
    ending = "" if content.endswith("\n") else "\n"
    return f"{fence}text\n{content}{ending}{fence}\n\n"


def export_markdown(conversation: Conversation) -> Iterator[str]:
    """Yield the conversation as Markdown: a heading per message, its content as written inside a code fence."""
    user = conversation.user
    yield f"# {_markdown_line(conversation.title) or f'Conversation {conversation.pk}'}\n\n"
    who = f"{_markdown_line(user.display_name) or '-'} ({_markdown_line(user.external_id)})"
    yield f"- User: {who}\n- Channel: {conversation.get_channel_display()}\n"
    yield f"- Messages: {conversation.message_count}, tokens: {conversation.total_tokens}\n\n"
    for batch in _all_messages(conversation):
        yield "".join(
            f"## {message.role} · {message.created_at:%Y-%m-%d %H:%M:%S %Z} · {message.token_count} tokens\n\n"
            + _fenced(message.content)
            for message in batch
        )
