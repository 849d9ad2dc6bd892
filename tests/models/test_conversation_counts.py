"""Conversations keep their message count, token total and last message time as messages come and go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from schemaadmin.models import ChatUser, Conversation, Message

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def conversation(db):
    user = ChatUser.objects.create(external_id="acct-counts")
    return Conversation.objects.create(user=user, created_at=T0, updated_at=T0)


def _add(conversation, minutes, tokens, role="user"):
    return Message.objects.create(
        conversation=conversation,
        user_id=conversation.user_id,
        role=role,
        content="m",
        token_count=tokens,
        created_at=T0 + timedelta(minutes=minutes),
    )


def test_a_new_conversation_has_no_messages(conversation):
    conversation.refresh_from_db()
    assert (conversation.message_count, conversation.total_tokens, conversation.last_message_at) == (0, 0, None)


def test_inserts_count_and_move_last_activity(conversation):
    _add(conversation, 1, 10)
    _add(conversation, 5, 32, role="assistant")
    conversation.refresh_from_db()
    assert conversation.message_count == 2
    assert conversation.total_tokens == 42
    assert conversation.last_message_at == conversation.updated_at == T0 + timedelta(minutes=5)


def test_a_bulk_copy_updates_each_conversation_once_with_the_totals(conversation):
    other = Conversation.objects.create(user_id=conversation.user_id, created_at=T0, updated_at=T0)
    with (
        connection.cursor() as cur,
        cur.copy(
            "COPY conversation_messages (conversation_id, user_id, role, content, token_count, created_at) FROM STDIN"
        ) as copy,
    ):
        for i in range(100):
            target = conversation if i % 4 else other
            copy.write_row((target.pk, conversation.user_id, "user", f"m{i}", 3, T0 + timedelta(seconds=i)))
    conversation.refresh_from_db()
    other.refresh_from_db()
    assert (conversation.message_count, conversation.total_tokens) == (75, 225)
    assert (other.message_count, other.total_tokens) == (25, 75)
    assert conversation.last_message_at == T0 + timedelta(seconds=99)
    assert other.last_message_at == T0 + timedelta(seconds=96)


def test_deletes_and_token_edits_keep_the_totals_true(conversation):
    first = _add(conversation, 1, 10)
    last = _add(conversation, 9, 5)
    Message.objects.filter(pk=last.pk).delete()
    Message.objects.filter(pk=first.pk).update(token_count=7)
    conversation.refresh_from_db()
    assert (conversation.message_count, conversation.total_tokens) == (1, 7)
    assert conversation.last_message_at == T0 + timedelta(minutes=1)


def test_moving_a_message_moves_its_count(conversation):
    other = Conversation.objects.create(user_id=conversation.user_id, created_at=T0, updated_at=T0)
    message = _add(conversation, 1, 4)
    Message.objects.filter(pk=message.pk).update(conversation=other)
    conversation.refresh_from_db()
    other.refresh_from_db()
    assert (conversation.message_count, conversation.last_message_at) == (0, None)
    assert (other.message_count, other.total_tokens) == (1, 4)
