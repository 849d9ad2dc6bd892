"""Search questions asked of the server: what a search can match, and whether its words are common."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from schemaadmin.models import ChatUser, Conversation
from schemaadmin.pg.search import searchable_terms, term_is_common


def test_searchable_terms_is_empty_for_punctuation(db):
    assert searchable_terms("!!! ???") == ""
    assert searchable_terms('"refund policy" -voucher') == "'refund' <-> 'policy' & !'voucher'"


@pytest.fixture
def analyzed_messages(db):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    user = ChatUser.objects.create(external_id="acct-stats")
    conversation = Conversation.objects.create(user=user, created_at=now, updated_at=now)
    with (
        connection.cursor() as cur,
        cur.copy(
            "COPY conversation_messages (conversation_id, user_id, role, content, token_count, created_at) FROM STDIN"
        ) as copy,
    ):
        for i in range(20_000):
            text = "where is my parcel" + (" quixotic" if i == 7 else "")
            copy.write_row((conversation.pk, user.pk, "user", text, 4, now))
    with connection.cursor() as cur:
        cur.execute("ANALYZE conversation_messages")


def test_a_word_in_every_message_is_common_and_a_word_in_one_is_not(analyzed_messages):
    assert term_is_common("parcel")
    assert term_is_common("quixotic or parcel")
    assert not term_is_common("quixotic")
    assert not term_is_common("absent")


def test_without_statistics_nothing_is_common(db):
    assert not term_is_common("parcel")
