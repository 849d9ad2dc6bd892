"""Lists that sort by their headers: a header link per sortable column that says its direction (aria-sort), and a
sort key that names no column is a 400 saying which ones exist, never a 500 or a silent default."""

from __future__ import annotations

import re

import pytest

from tests.views.pager_links import pager_token
from tests.views.test_conversations import chat  # noqa: F401 -- the fixture

HTMX = {"HTTP_HX_REQUEST": "true"}
# page -> (a sortable column, its header)
SORTABLE = {"/indexes/": ("size_bytes", "Size"), "/tables/": ("total_bytes", "Size"), "/findings/": ("code", "Finding")}


def header(page: str, label: str) -> str:
    """Return the <th> whose link reads label."""
    match = re.search(r'<th [^>]*aria-sort="[^"]+"[^>]*>\s*<a [^>]*>' + re.escape(label) + r"<.*?</th>", page, re.S)
    assert match, f"no sortable header {label!r}"
    return match.group(0)


@pytest.mark.parametrize("url", SORTABLE)
def test_a_header_sorts_and_says_its_direction(client_as, url):
    operator = client_as("operator")
    key, label = SORTABLE[url]
    unsorted = operator.get(url).content.decode()
    assert 'aria-sort="none"' in header(unsorted, label)
    assert f"sort={key}" in header(unsorted, label)  # the first click sorts ascending

    ascending = operator.get(url, {"sort": key, "page": 3}).content.decode()
    assert 'aria-sort="ascending"' in header(ascending, label)
    assert f"sort=-{key}" in header(ascending, label) and "page=1" in header(ascending, label)

    descending = operator.get(url, {"sort": f"-{key}"}, **HTMX)
    assert descending.status_code == 200
    assert 'aria-sort="descending"' in header(descending.content.decode(), label)


@pytest.mark.parametrize("url", SORTABLE)
@pytest.mark.parametrize("bad", ["bogus", "-bogus", "size_bytes,bogus", "<script>"])
def test_an_unknown_sort_key_is_a_clear_400(client_as, url, bad):
    response = client_as("operator").get(url, {"sort": bad}, **HTMX)
    assert response.status_code == 400
    page = response.content.decode()
    assert "to sort by. Sort by one of:" in page
    assert "<script>" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["bogus", "-bogus", "size_bytes,<script>"])
def test_one_table_s_indexes_refuse_an_unknown_sort_key_with_a_400_in_their_own_order(client_as, bad):
    operator = client_as("operator")
    response = operator.get("/tables/public.users/", {"sort": bad})
    assert response.status_code == 400
    page = response.content.decode()
    assert "to sort by. Sort by one of:" in page and "<script>" not in page
    assert "users_pkey" in page  # the indexes are still listed, in their own order
    assert operator.get("/tables/public.users/", {"sort": "-size_bytes"}).status_code == 200


def test_the_queries_headers_order_the_list_largest_first(client_as, plant):
    """/queries/ orders a top-N list, largest first: each figure's header links to that order and says which one is."""
    from datetime import timedelta

    from django.utils import timezone

    from schemaadmin.services.workload.snapshots import take_snapshot

    table = plant.table("sorted_queries", "id int PRIMARY KEY", rows=5, fill="i")
    take_snapshot(now=timezone.now() - timedelta(minutes=20))
    for _ in range(3):
        plant.sql(f"SELECT count(*) FROM {table}")  # noqa: S608 -- a planted table
    take_snapshot(now=timezone.now() - timedelta(minutes=10))
    operator = client_as("operator")
    page = operator.get("/queries/", {"window": "1h", "order": "calls"}).content.decode()
    assert 'aria-sort="descending"' in header(page, "Calls")
    assert 'aria-sort="none"' in header(page, "Mean") and "order=mean" in header(page, "Mean")
    assert "window=1h" in header(page, "Mean")  # the other choices stay
    bad = operator.get("/queries/", {"window": "1h", "order": "bogus"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()


def test_the_audit_logs_when_header_orders_it_newest_or_oldest_first(client_as):
    from schemaadmin.models import AuditEvent

    dba = client_as("dba")
    AuditEvent.objects.bulk_create(AuditEvent(action="explain.run", target=f"explain:{n}") for n in range(3))
    newest = dba.get("/audit/", {"action": "explain.run"})
    assert 'aria-sort="descending"' in header(newest.content.decode(), "When")
    assert "order=oldest" in header(newest.content.decode(), "When")
    assert [e.target for e in newest.context["page"].rows] == ["explain:2", "explain:1", "explain:0"]
    oldest = dba.get("/audit/", {"action": "explain.run", "order": "oldest"}, **HTMX)
    assert 'aria-sort="ascending"' in header(oldest.content.decode(), "When")
    assert [e.target for e in oldest.context["page"].rows] == ["explain:0", "explain:1", "explain:2"]
    bad = dba.get("/audit/", {"order": "-at; DROP"})
    assert bad.status_code == 400 and "There is no order" in bad.content.decode()


def test_the_conversation_headers_order_the_list_both_ways_through_its_indexes(client_as, chat):  # noqa: F811
    """Each header of /conversations/ that has an index of its own sorts the keyset list: newest or most first,
    then the other way; the header in use says so, and another page's cursor is dropped."""
    support = client_as("support")
    page = support.get("/conversations/").content.decode()
    assert 'aria-sort="descending"' in header(page, "Last activity")  # the default order
    assert "sort=activity" in header(page, "Last activity")
    for label, key in (("Created", "created"), ("Messages", "messages"), ("Tokens", "tokens")):
        assert 'aria-sort="none"' in header(page, label) and f"sort=-{key}" in header(page, label)
    first = support.get("/conversations/", {"sort": "-created", "size": 25})
    cursor = pager_token(first, "next")
    paged = support.get("/conversations/", {"sort": "-created", "size": 25, "after": cursor}).content.decode()
    created = header(paged, "Created")
    assert 'aria-sort="descending"' in created and "sort=created" in created
    assert "after=" not in created and "size=25" in created
    ascending = support.get("/conversations/", {"sort": "created"}, **HTMX).content.decode()
    assert 'aria-sort="ascending"' in header(ascending, "Created")
    rows = support.get("/conversations/", {"sort": "created"}).context["page"].rows
    assert [c.created_at for c in rows] == sorted(c.created_at for c in rows)
    # The search's hits have one order (newest first): no sorting headers there.
    assert "sort-link" not in support.get("/conversations/", {"q": "refund"}).content.decode()


def test_an_unknown_conversation_order_is_a_400_naming_the_orders(client_as):
    response = client_as("support").get("/conversations/", {"sort": "<b>content</b>"}, **HTMX)
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is no order" in page and "-activity, activity, -created" in page and "<b>" not in page
