"""A listing's total: the planner's estimate is reused for a minute per query, an exact count never is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from schemaadmin.models import ChatUser, Conversation
from schemaadmin.services.conversations import _keep_planner_rows, listing_total

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def conversations(db):
    cache.clear()
    user = ChatUser.objects.create(external_id="acct-1")
    Conversation.objects.bulk_create(
        Conversation(user=user, title=f"c{i}", channel="web" if i % 2 else "sms", created_at=T0, updated_at=T0)
        for i in range(40)
    )
    # No ANALYZE here: its statistics outlive the test's rollback and would skew later tests' estimates.
    yield user
    cache.clear()


def _queries(queryset) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as captured:
        total = listing_total(queryset)
    return total, len(captured)


def test_an_estimate_is_asked_once_per_query_and_shared_by_its_pages(conversations, settings, monkeypatch):
    settings.SCHEMAADMIN = {"EXACT_COUNT_BELOW": 1}  # any planner estimate is over it: estimated, never counted
    first, asked = _queries(Conversation.objects.all())
    again, asked_again = _queries(Conversation.objects.all())
    assert not first.exact and first.value >= 1 and asked == 1
    assert again == first and asked_again == 0
    # Read, not kept again: kept on every page, an estimate would never be asked anew while anyone pages.
    kept = []
    monkeypatch.setattr(cache, "set", lambda *args, **kwargs: kept.append(args))
    assert _queries(Conversation.objects.all())[0] == first and kept == []
    monkeypatch.undo()
    # Another filter is another total.
    web, asked_web = _queries(Conversation.objects.filter(channel="web"))
    assert asked_web == 1 and not web.exact


def test_an_exact_count_is_made_every_time(conversations, settings):
    settings.SCHEMAADMIN = {"EXACT_COUNT_BELOW": 1000}
    first, _ = _queries(Conversation.objects.all())
    assert first.exact and first.value == 40
    Conversation.objects.create(user=conversations, title="new", created_at=T0, updated_at=T0)
    second, asked = _queries(Conversation.objects.all())
    assert second.exact and second.value == 41 and asked == 1  # the bounded count; the estimate was kept


def test_a_count_that_reaches_the_limit_stands_in_for_a_low_estimate(conversations, settings):
    settings.SCHEMAADMIN = {"EXACT_COUNT_BELOW": 30}
    _keep_planner_rows(Conversation.objects.all(), 5)  # what stale statistics make the planner say of 40 rows
    first, asked = _queries(Conversation.objects.all())
    assert not first.exact and first.value == 30 and asked == 1  # the count stopped at the limit
    again, asked_again = _queries(Conversation.objects.all())
    assert again == first and asked_again == 0  # not counted again for a minute
    assert first.at_least  # a floor the count met, shown "at least 30", on the next pages too
