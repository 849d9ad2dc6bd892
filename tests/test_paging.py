"""Keyset paging: a page picked from collected rows, and a walk bounded by its last row, read the walk's rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemaadmin.models import ChatUser, Conversation, Message
from schemaadmin.paging import (
    Collected,
    Cursor,
    CursorError,
    keyset_collect,
    keyset_edge,
    keyset_page,
    keyset_slice,
    keyset_slice_within,
    list_scope,
)
from schemaadmin.services.conversations import CONVERSATION_ORDERS, SEARCH_ORDER, THREAD_ORDER
from schemaadmin.views.users import USER_ORDER

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def messages(db) -> list[Message]:
    """Twelve messages in one conversation, in groups of three sharing a creation time (the id breaks the tie)."""
    user = ChatUser.objects.create(external_id="acct-paging")
    conversation = Conversation.objects.create(user=user, created_at=T0, updated_at=T0)
    return Message.objects.bulk_create(
        Message(
            conversation=conversation,
            user=user,
            role="user",
            content=f"message {i}",
            created_at=T0 + timedelta(minutes=(i * 7 % 12) // 3),
        )
        for i in range(12)
    )


@pytest.mark.parametrize("order", [SEARCH_ORDER, THREAD_ORDER], ids=lambda o: o.name)
@pytest.mark.parametrize("size", [1, 2, 5, 20])
def test_keys_collected_on_the_server_pick_the_rows_the_database_walks_to(messages, order, size):
    in_conversation = Message.objects.filter(conversation=messages[0].conversation_id)
    keys = [(m.created_at, m.pk) for m in messages]
    cursors = [None] + [Cursor(order.name, key, direction) for key in keys for direction in ("after", "before")]
    for cursor in cursors:
        walked = [(m.created_at, m.pk) for m in keyset_slice(in_conversation, order, cursor=cursor, size=size)]
        collected = keyset_collect(in_conversation, order, cursor=cursor, size=size, cap=13)
        # The count is the rows', wherever the cursor is, even past the last row (no keys then).
        assert (collected.count, collected.keys) == (12, walked), cursor


def test_collecting_from_a_query_that_can_match_nothing_finds_nothing(messages):
    nothing = Message.objects.filter(pk__in=[])
    assert keyset_collect(nothing, SEARCH_ORDER, cursor=None, size=5, cap=10) == Collected(count=0, keys=[])


def test_collecting_stops_at_its_cap(messages):
    in_conversation = Message.objects.filter(conversation=messages[0].conversation_id)
    collected = keyset_collect(in_conversation, SEARCH_ORDER, cursor=None, size=20, cap=5)
    # Five rows, in whatever order the server found them: the keys are the newest of those five, all of them.
    assert collected.count == 5 and len(collected.keys) == 5
    assert collected.keys == sorted(collected.keys, reverse=True)
    assert set(collected.keys) <= {(m.created_at, m.pk) for m in messages}


@pytest.mark.parametrize("order", [SEARCH_ORDER, THREAD_ORDER], ids=lambda o: o.name)
@pytest.mark.parametrize("rows", [1, 4, 12, 13])
def test_a_walk_keys_exactly_its_first_rows_and_reads_its_slice_among_them(messages, order, rows):
    # keyset_edge keys the rows-th row from the cursor; keyset_slice_within reads a slice of a filter's rows among
    # those first rows alone (the filter's joins join them), ties of time broken by id as the order breaks them.
    conversation = messages[0].conversation_id
    in_conversation = Message.objects.filter(conversation=conversation)
    kept_ids = {m.pk for m in messages[1::2]}
    kept = in_conversation.filter(pk__in=kept_ids, conversation__user__external_id="acct-paging")
    keys = [(m.created_at, m.pk) for m in messages]
    for cursor in [None] + [Cursor(order.name, key, direction) for key in keys for direction in ("after", "before")]:
        first = [(m.created_at, m.pk) for m in keyset_slice(in_conversation, order, cursor=cursor, size=rows - 1)]
        edge = keyset_edge(in_conversation, order, cursor=cursor, rows=rows)
        assert edge == (first[-1] if len(first) == rows else None), cursor
        for size in (1, 2, 20):
            expected = [pk for _, pk in first if pk in kept_ids][: size + 1]
            within = keyset_slice_within(kept, in_conversation, order, cursor=cursor, size=size, rows=rows)
            assert within == expected, (cursor, size)


def test_a_slice_within_a_window_that_can_match_nothing_finds_nothing(messages):
    everything = Message.objects.all()
    nothing = Message.objects.filter(pk__in=[])
    assert keyset_slice_within(nothing, everything, SEARCH_ORDER, cursor=None, size=5, rows=10) == []
    assert keyset_slice_within(everything, nothing, SEARCH_ORDER, cursor=None, size=5, rows=10) == []


def test_a_page_of_rows_read_up_to_a_key_goes_on_after_that_key(messages):
    # A bounded walk read the rows up to `edge` and kept two: a page that is not full still has a next page, which
    # starts after the edge (the rows between its last row and the edge were read and did not match).
    in_conversation = Message.objects.filter(conversation=messages[0].conversation_id)
    keys = sorted(((m.created_at, m.pk) for m in messages), reverse=True)  # SEARCH_ORDER: newest first
    edge = keys[5]
    kept = in_conversation.filter(pk__in=[keys[1][1], keys[3][1]])
    page = keyset_page(kept, SEARCH_ORDER, cursor=None, size=4, read_to=edge)
    assert [(m.created_at, m.pk) for m in page.rows] == [keys[1], keys[3]] and page.previous is None
    onwards = page.next
    assert (onwards.values, onwards.direction, onwards.position) == (edge, "after", 2)
    # Nothing kept: no rows, and still the way on, numbered from the cursor's place.
    after_third = Cursor(SEARCH_ORDER.name, keys[2], "after", position=3)
    empty = keyset_page(kept.none(), SEARCH_ORDER, cursor=after_third, size=4, read_to=edge)
    assert empty.rows == [] and empty.next.position == 3
    # A full page goes on after its own last row, and a page back from a cursor ignores the key.
    full = keyset_page(in_conversation, SEARCH_ORDER, cursor=None, size=4, read_to=edge)
    assert full.next.values == keys[3]
    back = keyset_page(kept, SEARCH_ORDER, cursor=Cursor(SEARCH_ORDER.name, keys[4], "before", 5), size=4, read_to=edge)
    assert back.next.values == keys[3]


def test_a_cursor_is_refused_by_another_listing_and_with_values_of_other_kinds():
    from uuid import UUID

    when = datetime(2026, 1, 1, tzinfo=UTC)
    users_page = Cursor(USER_ORDER.name, (when, UUID(int=7)), "after").encode()
    # The users list and the conversations' "created" order both walk (created_at, id): one's link is not the other's.
    with pytest.raises(CursorError, match="different list or sort order"):
        Cursor.decode(users_page, CONVERSATION_ORDERS["-created"])
    assert Cursor.decode(users_page, USER_ORDER).values == (when, UUID(int=7))
    for values in [("x", 1), (when, "1"), (when, True), (when, UUID(int=7)), (when,), (when, 1, 2)]:
        token = Cursor(SEARCH_ORDER.name, values, "after").encode()
        with pytest.raises(CursorError):
            Cursor.decode(token, SEARCH_ORDER)


def test_a_cursor_keeps_its_place_only_in_the_list_it_was_made_for(rf):
    when = datetime(2026, 1, 1, tzinfo=UTC)
    order = CONVERSATION_ORDERS["-activity"]
    listed = rf.get("/conversations/", {"channel": "web", "size": "25", "after": "a"})
    made_for = list_scope(listed)
    token = Cursor(order.name, (when, 42), "after", position=50).encode(made_for)
    assert Cursor.decode(token, order, made_for).position == 50
    # The cursor and the page size do not change which list it is; the filters and the path do.
    assert list_scope(rf.get("/conversations/", {"channel": "web", "size": "50"})) == made_for
    for other in (rf.get("/conversations/", {"channel": "sms"}), rf.get("/users/1/", {"channel": "web"})):
        moved = Cursor.decode(token, order, list_scope(other))
        assert moved.values == (when, 42) and moved.position == 0
