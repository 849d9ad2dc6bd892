"""Queries compiled once and run with each call's own values (services/compiled.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemaadmin.models import ChatUser, Conversation
from schemaadmin.services.compiled import compiled

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _titles_after(minimum: int, owner: str):
    return Conversation.objects.filter(message_count__gte=minimum, user__external_id=owner).order_by("title")


@pytest.mark.django_db
def test_a_compiled_query_runs_with_each_calls_values_and_compiles_once(django_assert_num_queries):
    ada = ChatUser.objects.create(external_id="ada")
    bob = ChatUser.objects.create(external_id="bob")
    for user, title, count in ((ada, "a1", 1), (ada, "a2", 5), (bob, "b1", 9)):
        Conversation.objects.create(user=user, title=title, created_at=T0, updated_at=T0, message_count=count)
    query = compiled("test_titles", "default", _titles_after, minimum=-271828, owner="stand-in-owner")
    assert compiled("test_titles", "default", lambda **_: pytest.fail("compiled twice")) is query
    with django_assert_num_queries(1):
        rows = query.rows("default", minimum=2, owner="ada")
    assert [(type(r), r.title, r.message_count) for r in rows] == [(Conversation, "a2", 5)]
    assert [r.title for r in query.rows("default", minimum=0, owner="ada")] == ["a1", "a2"]
    assert [r.title for r in query.rows("default", minimum=0, owner="bob")] == ["b1"]


@pytest.mark.django_db
def test_a_stand_in_must_be_a_value_no_other_parameter_has():
    def same_twice(low: int):
        return Conversation.objects.filter(message_count__gte=low, total_tokens__gte=low)

    with pytest.raises(ValueError, match="is 2 parameters, not 1"):
        compiled("test_same_twice", "default", same_twice, low=-5)
