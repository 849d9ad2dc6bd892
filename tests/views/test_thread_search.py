"""A thread opened from a search: hits marked and expanded, the thread's other hits one click away."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict

from schemaadmin.models import AuditEvent, ChatUser, Conversation, Message
from schemaadmin.services.thread_search import thread_hits

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
LONG = "Checked every line of the statement against the ledger. " * 40


@pytest.fixture
def thread(db):
    user = ChatUser.objects.create(external_id="acct-thread-search")
    conversation = Conversation.objects.create(user=user, created_at=T0, updated_at=T0)
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            user=user,
            role="user",
            content=f"{LONG}\nA chargeback <b>for</b> order {k}.\n{LONG}" if k in (3, 6, 9) else f"Message {k}.",
            created_at=T0 + timedelta(minutes=k),
        )
        for k in range(12)
    )
    return conversation


def ids(conversation: Conversation, *positions: int) -> list[int]:
    rows = list(Message.objects.filter(conversation=conversation).order_by("created_at").values_list("pk", flat=True))
    return [rows[p] for p in positions]


def test_thread_hits_step_in_thread_order(thread):
    first, second, third = ids(thread, 3, 6, 9)
    hits = thread_hits(thread, "chargeback", current=Message.objects.get(pk=second))
    assert hits.total == 3 and hits.position == 2
    assert (hits.previous, hits.next) == (first, third)
    outside = thread_hits(thread, "chargeback", current=Message.objects.get(pk=ids(thread, 0)[0]))
    assert outside.position is None and outside.next == first and outside.previous is None


def test_the_hit_opens_expanded_with_the_terms_marked_and_the_text_escaped(thread, client_as):
    first, second, third = ids(thread, 3, 6, 9)
    page = client_as("support").get(f"/conversations/{thread.pk}/", {"around": second, "q": "chargeback"}).content
    page = page.decode()
    article = page[page.index(f'id="m{second}"') : page.index("</article>", page.index(f'id="m{second}"'))]
    assert 'data-hit="1"' in article and '<details class="long-message" open>' in article
    assert "A <mark>chargeback</mark> &lt;b&gt;for&lt;/b&gt; order 6." in article
    assert "hit <strong" in page and ">2</strong> of 3 in this thread" in page
    assert f'href="?around={first}&amp;q=chargeback#m{first}"' in page  # previous hit
    assert f'href="?around={third}&amp;q=chargeback#m{third}"' in page  # next hit
    plain = page[page.index(f'id="m{ids(thread, 4)[0]}"') :]
    assert "<mark>" not in plain[: plain.index("</article>")]


def test_search_hits_link_to_the_thread_with_the_search(thread, client_as):
    page = client_as("support").get("/conversations/", {"q": "chargeback"}).content.decode()
    links = re.findall(r'<a class="hit" href="([^"]+)"', page)
    assert len(links) == 3
    assert all(re.search(r"\?around=\d+&amp;q=chargeback#m\d+$", link) for link in links), links


def test_a_thread_without_a_search_is_unchanged_and_a_bad_one_is_400(thread, client_as):
    support = client_as("support")
    page = support.get(f"/conversations/{thread.pk}/").content.decode()
    assert "<mark>" not in page and "thread-hits" not in page and " open>" not in page
    assert support.get(f"/conversations/{thread.pk}/", {"q": "x" * 201}).status_code == 400


def test_a_search_nesting_more_exclusions_than_postgresql_can_is_a_400_with_a_sentence(thread, client_as):
    support = client_as("support")
    # The parser's stack holds 32 operators: the NOTs, and an AND or an OR before them take places too.
    for text in ("-" * 33 + "x", "- " * 33 + "x", "-(" * 40 + "x", "a " + "-" * 32 + "x", "a or b " + "-" * 31 + "x"):
        for url in ("/conversations/", f"/conversations/{thread.pk}/"):
            response = support.get(url, {"q": text})
            assert response.status_code == 400, (url, text)
            assert "in a row than PostgreSQL" in response.content.decode()
    # As many as it nests: still a search (of nothing), not a refusal.
    for text in ("-" * 32 + "x", "a " + "-" * 31 + "x", "a----------------------------------------b"):
        assert support.get(f"/conversations/{thread.pk}/", {"q": text}).status_code == 200, text


def test_in_a_thread_with_more_hits_than_counted_the_neighbours_are_those_of_the_hit_opened(thread, monkeypatch):
    """Past the count, "Next hit" went back to the thread's first hit, and no position or "Previous" was offered."""
    from schemaadmin.services import thread_search

    monkeypatch.setattr(thread_search, "MAX_THREAD_HITS", 2)
    first, second, third = ids(thread, 3, 6, 9)
    last = thread_hits(thread, "chargeback", current=Message.objects.get(pk=third))
    assert last.capped and last.total == 2 and last.position is None  # past the count: "2+ hits"
    assert (last.previous, last.next) == (second, None)
    middle = thread_hits(thread, "chargeback", current=Message.objects.get(pk=second))
    assert (middle.position, middle.previous, middle.next) == (2, first, third)


def test_a_hit_of_a_role_filtered_search_keeps_the_role_and_the_way_back_to_that_page(thread, client_as):
    # The 6th message from tool: "chargeback" from tool has one hit in this thread, not three. The hit link carried
    # q alone: the thread counted every role's hits, "Next hit" went to a user message, and "Back to the search" lost
    # the role, the other filters and the page.
    tool = Message.objects.get(pk=ids(thread, 6)[0])
    Message.objects.filter(pk=tool.pk).update(role="tool")
    support = client_as("support")
    listed = support.get("/conversations/", {"q": "chargeback", "role": "tool", "channel": "web", "size": 25})
    (link,) = re.findall(r'<a class="hit" href="([^"]+)"', listed.content.decode())
    opened = support.get(html.unescape(link))
    page = opened.content.decode()
    assert ">1</strong> of 1 in this thread" in page and 'rel="next"' not in page and 'rel="prev"' not in page
    marked = [m for m in opened.context["window"].messages if getattr(m, "marked", None)]
    assert [m.pk for m in marked] == [tool.pk]  # the user messages with the word are not this search's hits
    back = html.unescape(re.search(r'href="([^"]+)" data-back-to-search', page).group(1))
    assert back.startswith("/conversations/?")
    assert QueryDict(back.split("?", 1)[1]).dict() == {
        "q": "chargeback",
        "role": "tool",
        "channel": "web",
        "size": "25",
    }


@pytest.mark.parametrize(
    ("back", "kept"),
    [
        ("q=chargeback&next=https://evil.example/&size=25", {"q": "chargeback", "size": "25"}),
        ("//evil.example/?q=x", {}),
        # What the list would refuse (a 400 there, which "Back to the search" led to), or another search: the way
        # back is the search itself.
        ("q=chargeback&size=25&after=abc&sort=-x", {}),
        ("q=chargeback&size=7", {}),
        ("q=chargeback&active_from=2026-02-30", {}),
        ("q=refund&size=25", {}),
        ("q=chargeback&role=tool&size=25", {}),
    ],
)
def test_the_way_back_is_a_page_the_list_answers_of_this_very_search(thread, client_as, back, kept):
    page = client_as("support").get(
        f"/conversations/{thread.pk}/", {"around": ids(thread, 3)[0], "q": "chargeback", "back": back}
    )
    found = html.unescape(re.search(r'href="([^"]+)" data-back-to-search', page.content.decode()).group(1))
    path, _, query = found.partition("?")
    assert path == "/conversations/"
    assert QueryDict(query).dict() == (kept or {"q": "chargeback"})


@pytest.mark.parametrize("typed", ["-", "<->", '"', "!"])
def test_a_thread_search_that_can_match_nothing_is_refused_as_the_lists_is(thread, client_as, typed):
    support = client_as("support")
    listed = support.get("/conversations/", {"q": typed})
    opened = support.get(f"/conversations/{thread.pk}/", {"around": ids(thread, 3)[0], "q": typed})
    assert listed.status_code == opened.status_code == 400
    assert "Nothing in this search can be matched" in opened.content.decode()


def test_a_thread_search_says_which_operators_it_read_as_spaces(thread, client_as):
    page = client_as("support").get(
        f"/conversations/{thread.pk}/", {"around": ids(thread, 3)[0], "q": "chargeback & !x"}
    )
    assert page.status_code == 200
    note = re.search(r'data-testid="operator-note">([^<]*)<', page.content.decode())
    assert note and "“&amp;” and “!” are not operators" in note.group(1)


@pytest.mark.parametrize("back", ["q=" + "x" * 20_000, "a&" * 1_500, "q=chargeback\x00&size=50", "\x00"])
def test_a_way_back_too_long_of_too_many_fields_or_with_a_nul_leads_back_to_the_search_itself(thread, client_as, back):
    # It came from a link: the thread opens, and its way back is the search's words (was a 400, or a bare one).
    page = client_as("support").get(
        f"/conversations/{thread.pk}/", {"around": ids(thread, 3)[0], "q": "chargeback", "back": back}
    )
    assert page.status_code == 200
    found = html.unescape(re.search(r'href="([^"]+)" data-back-to-search', page.content.decode()).group(1))
    assert found == "/conversations/?q=chargeback"


def test_a_hit_link_carries_the_way_back_only_when_it_says_more_than_the_search_and_fits_a_request_line(
    thread, client_as, monkeypatch
):
    support = client_as("support")
    plain = support.get("/conversations/", {"q": "chargeback"}).content.decode()
    assert all("back=" not in link for link in re.findall(r'<a class="hit" href="([^"]+)"', plain))
    paged = support.get("/conversations/", {"q": "chargeback", "size": 25}).content.decode()
    assert all(
        "back=q%3Dchargeback%26size%3D25" in link for link in re.findall(r'<a class="hit" href="([^"]+)"', paged)
    )
    # Longer than a link may carry it (a search and a user of 200 emoji each: 4,800 characters quoted): left out.
    monkeypatch.setattr("schemaadmin.forms.browse.BACK_LINK_MAX_LENGTH", len("q=chargeback&size=25") - 1)
    links = re.findall(
        r'<a class="hit" href="([^"]+)"',
        support.get("/conversations/", {"q": "chargeback", "size": 25}).content.decode(),
    )
    assert len(links) == 3 and all("back=" not in link for link in links)


def test_a_thread_opened_from_a_search_is_audited_with_the_search(thread, client_as):
    # "Who searched for what and read which thread": the view was recorded with its anchor alone.
    tool = Message.objects.get(pk=ids(thread, 6)[0])
    Message.objects.filter(pk=tool.pk).update(role="tool")
    support = client_as("support")
    support.get(f"/conversations/{thread.pk}/", {"around": tool.pk, "q": "chargeback", "role": "tool"})
    event = AuditEvent.objects.filter(action="conversation.view").latest("id")
    assert event.detail["q"] == "chargeback" and event.detail["role"] == "tool" and event.detail["around"] == tool.pk
    support.get(f"/conversations/{thread.pk}/")
    assert "q" not in AuditEvent.objects.filter(action="conversation.view").latest("id").detail
