"""The conversation browser: lists, filters, keyset pages, search, threads, exports, and bad input."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from schemaadmin import filters
from schemaadmin.models import AuditEvent, ChatUser, Conversation, ConversationPreference, Message
from schemaadmin.paging import Cursor
from schemaadmin.services.conversations import DEFAULT_ORDER
from tests.chat_data import copy_messages
from tests.views.pager_links import pager_token

T0 = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
LONG = "First line of a long answer.\n" + ("Detail line with more words.\n" * 60)


@pytest.fixture
def chat(db):
    """Two users; Ada has 30 small conversations and one 120-message thread; Bob has one."""
    cache.clear()  # estimated totals are kept a minute per query: an earlier test's data must not show here
    ada = ChatUser.objects.create(external_id="+44 7700 900111", display_name="Ada Lovelace", email="ada@example.org")
    bob = ChatUser.objects.create(external_id="acct-bob", display_name="Bob Stone", email="bob@example.org")
    ConversationPreference.objects.create(user=ada, language="en", tone="formal", settings={"beta": True})
    rows = []
    conversations = []
    for i in range(30):
        c = Conversation.objects.create(
            user=ada,
            title=f"Question {i}",
            channel="web" if i % 3 else "whatsapp",
            created_at=T0 + timedelta(hours=i),
            updated_at=T0 + timedelta(hours=i),
        )
        conversations.append(c)
        for j in range(1 + i % 4):
            rows.append(
                (
                    c.pk,
                    ada.pk,
                    "user" if j % 2 == 0 else "assistant",
                    f"message {j} about invoices",
                    5 + i,
                    T0 + timedelta(hours=i, minutes=j),
                )
            )
    thread = Conversation.objects.create(user=ada, title="Long thread", created_at=T0, updated_at=T0)
    for k in range(120):
        role = ["system", "user", "assistant", "tool"][0 if k == 0 else 1 + k % 3]
        content = f"turn {k}"
        if k == 10:
            content = "Please refund order 991 <script>alert('x')</script>"
        if k == 11:
            content = "Here is code:\n```python\nprint('hi')\n```\nDone."
        if k == 12:
            content = LONG
        rows.append((thread.pk, ada.pk, role, content, 3, T0 + timedelta(days=1, minutes=k)))
    solo = Conversation.objects.create(user=bob, title="Bob's", channel="sms", created_at=T0, updated_at=T0)
    rows.append((solo.pk, bob.pk, "user", "zanzibar chargeback question", 9, T0 + timedelta(days=40)))
    copy_messages(rows)
    return {"ada": ada, "bob": bob, "thread": thread, "solo": solo, "conversations": conversations}


@pytest.fixture
def support(client_as):
    return client_as("support")


def _ids(response) -> list[int]:
    return [row.pk for row in response.context["page"].rows]


def test_list_shows_conversations_with_an_estimated_or_exact_total(support, chat):
    response = support.get("/conversations/")
    assert response.status_code == 200
    assert len(_ids(response)) == 25
    total = response.context["total"]
    assert total.exact and total.value == 32
    assert "<html" in response.content.decode()


def test_htmx_request_gets_only_the_results_partial(support, chat):
    response = support.get("/conversations/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and 'id="results"' in body


@pytest.mark.parametrize(
    "sort", ["-activity", "activity", "-created", "created", "-messages", "messages", "-tokens", "tokens"]
)
def test_every_order_pages_through_all_rows_once_and_back(support, chat, sort):
    seen, cursor = [], None
    pages = []
    while True:
        response = support.get("/conversations/", {"sort": sort, "size": 25, **({"after": cursor} if cursor else {})})
        assert response.status_code == 200
        page = response.context["page"]
        pages.append(page)
        seen.extend(r.pk for r in page.rows)
        last = response
        cursor = pager_token(response, "next")
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 32
    key = {"activity": "k_activity", "created": "k_created", "messages": "k_messages", "tokens": "k_tokens"}[
        sort.lstrip("-")
    ]
    rows = [r for p in pages for r in p.rows]
    values = [(getattr(r, key), r.pk) for r in rows]
    assert values == sorted(values, reverse=sort.startswith("-"))
    back = support.get("/conversations/", {"sort": sort, "size": 25, "before": pager_token(last, "prev")})
    assert _ids(back) == [r.pk for r in pages[0].rows]
    assert pager_token(back, "prev") is None


def test_filters_by_user_channel_role_dates_and_size(support, chat):
    by_email = support.get("/conversations/", {"user": "BOB@example.org"})
    assert _ids(by_email) == [chat["solo"].pk]
    by_external = support.get("/conversations/", {"user": "acct-bob"})
    assert _ids(by_external) == [chat["solo"].pk]
    by_name = support.get("/conversations/", {"user": "bob s"})
    assert _ids(by_name) == [chat["solo"].pk]
    sms = support.get("/conversations/", {"channel": "sms"})
    assert _ids(sms) == [chat["solo"].pk]
    tool = support.get("/conversations/", {"role": "tool"})
    assert _ids(tool) == [chat["thread"].pk]
    big = support.get("/conversations/", {"min_messages": 4})
    assert set(_ids(big)) == {chat["thread"].pk} | {c.pk for i, c in enumerate(chat["conversations"]) if i % 4 == 3}
    recent = support.get("/conversations/", {"active_from": "2026-03-01"})
    assert _ids(recent) == [chat["solo"].pk]
    window = support.get("/conversations/", {"active_from": "2026-02-01", "active_to": "2026-02-01"})
    assert chat["solo"].pk not in _ids(window) and len(_ids(window)) == 16


@pytest.mark.parametrize(
    "params,message",
    [
        ({"active_from": "2026-13-45"}, "Active from: Enter a real date as YYYY-MM-DD"),  # its label, not its name
        ({"active_from": "2026-02-30"}, "Enter a real date as YYYY-MM-DD (2026-02-30 and year 0 are none)."),
        ({"active_from": "2026-03-02", "active_to": "2026-03-01"}, "is before"),
        ({"min_messages": "many"}, "Enter a whole number."),
        ({"size": "5000"}, "Per page: Select a valid choice."),
        ({"min_messages": "0"}, "greater than or equal to 1"),
        ({"sort": "content"}, "Select a valid choice."),
        ({"size": "5000"}, "Select a valid choice."),
        ({"channel": "pigeon"}, "Select a valid choice."),
        ({"role": "robot"}, "Select a valid choice."),
        ({"after": "not-a-cursor"}, "damaged or was not made by SchemaAdmin"),
        ({"q": "!!! ???"}, "Nothing in this search can be matched"),
        # Without a word a match must contain, the GIN index cannot find the matches: every message would be read.
        ({"q": "-refund"}, "no word the messages must contain"),
        ({"q": "refund or -invoices"}, "no word the messages must contain"),
        ({"q": "x" * 201}, "at most 200 characters"),
        ({"user": "u" * 201}, "at most 200 characters"),
        # The day after the last day a date filter reaches must still be a date.
        ({"active_to": "9999-12-31"}, "Enter a date from 1900-01-01 to 2999-12-31."),
        ({"q": "invoices", "active_to": "9999-12-31"}, "Enter a date from 1900-01-01 to 2999-12-31."),
        ({"active_from": "0001-01-01"}, "Enter a date from 1900-01-01 to 2999-12-31."),
        # PostgreSQL refuses NUL in text: the forms refuse it first.
        ({"q": "refund\x00"}, "Null characters are not allowed."),
        ({"user": "\x00"}, "Null characters are not allowed."),
        ({"after": "\x00"}, "Null characters are not allowed."),
    ],
)
def test_bad_input_is_a_400_that_says_what_is_wrong(support, chat, params, message):
    for headers in ({}, {"HX-Request": "true"}):
        response = support.get("/conversations/", params, headers=headers)
        assert response.status_code == 400
        assert message in response.content.decode()


def test_a_cursor_is_tamper_checked_and_tied_to_its_order(support, chat):
    first = support.get("/conversations/", {"sort": "-created"})
    cursor = pager_token(first, "next")
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    assert support.get("/conversations/", {"sort": "-created", "after": tampered}).status_code == 400
    other = support.get("/conversations/", {"sort": "-tokens", "after": cursor})
    assert other.status_code == 400 and "different list or sort order" in other.content.decode()
    both = support.get("/conversations/", {"sort": "-created", "after": cursor, "before": cursor})
    assert both.status_code == 400


def test_search_shows_highlighted_escaped_snippets_linking_to_the_message(support, chat):
    response = support.get("/conversations/", {"q": "refund"})
    assert response.status_code == 200
    hits = response.context["page"].rows
    assert len(hits) == 1
    body = response.content.decode()
    assert "<mark>refund</mark>" in body.lower()
    # ts_headline drops the tag; what remains of the untrusted text is escaped.
    assert "<script>alert" not in body and "alert(&#x27;x&#x27;)" in body
    assert f"/conversations/{chat['thread'].pk}/?around={hits[0].pk}&amp;q=refund#m{hits[0].pk}" in body
    assert response.context["total"].exact and response.context["total"].value == 1


def test_a_search_page_reads_its_hits_with_their_snippets_in_one_query(support, chat, django_assert_num_queries):
    support.get("/conversations/", {"q": "invoices"})  # what the server makes of the search is kept a minute
    # auth (2), then in one transaction (a savepoint here): the planner settings, the hits' ids from the GIN index,
    # and the page with each hit's conversation, user and snippet; inside the test's transaction, the planner
    # settings are then put back (outside one, the transaction's end does it); then the audit event
    with django_assert_num_queries(9) as captured:
        response = support.get("/conversations/", {"q": "invoices", "size": 25})
    page_query = captured.captured_queries[-4]["sql"]
    assert "ts_headline" in page_query and "LIMIT 26" in page_query
    assert response.status_code == 200 and len(response.context["page"].rows) == 25
    assert all("<mark>invoices</mark>" in hit.snippet for hit in response.context["page"].rows)


def test_the_cached_filter_form_always_shows_the_requested_filters(support, chat, settings):
    # The form's markup is cached per set of filter parameters (not per page): each set shows its own values.
    for channel in ("sms", "web", "sms"):
        body = support.get("/conversations/", {"channel": channel, "min_messages": 2}).content.decode()
        assert f'<option value="{channel}" selected>' in body
        assert all(f'<option value="{other}" selected>' not in body for other in ("sms", "web") if other != channel)
        assert 'name="min_messages" value="2"' in body
    first = support.get("/conversations/", {"sort": "-created"})
    second = support.get("/conversations/", {"sort": "-created", "after": pager_token(first, "next")})
    assert first.context["form_key"] == second.context["form_key"]
    assert first.context["form_key"] != support.get("/conversations/", {"sort": "created"}).context["form_key"]
    settings.SCHEMAADMIN = {"PAGE_SIZES": [10, 20]}  # other page sizes, other markup
    assert '<option value="10"' in support.get("/conversations/", {"sort": "-created"}).content.decode()
    bad = support.get("/conversations/", {"channel": "web", "active_from": "2026-02-10", "active_to": "2026-02-01"})
    # The refused field is marked in the form's markup (its message is said once, where the results would be).
    form, results = bad.content.decode().split('id="results"')
    assert bad.status_code == 400 and 'aria-invalid="true"' in form and "is before" in results


def test_search_form_labels_every_filter(support, chat):
    body = support.get("/conversations/", {"q": "invoices"}).content.decode()
    assert "[invalid name]" not in body
    for label in ("Search messages", "User", "Channel", "Message from", "Active from", "Sort by"):
        assert f">{label}</label>" in body


def test_search_is_combined_with_filters_and_web_search_syntax(support, chat):
    assert len(support.get("/conversations/", {"q": "invoices"}).context["page"].rows) == 25
    assert support.get("/conversations/", {"q": "invoices", "user": "acct-bob"}).context["page"].rows == []
    phrase = support.get("/conversations/", {"q": '"chargeback question" -invoices'})
    assert [m.conversation_id for m in phrase.context["page"].rows] == [chat["solo"].pk]


def test_list_and_search_pages_use_a_constant_number_of_queries(support, chat, django_assert_max_num_queries):
    # session, user, the role's permissions (user's and group's, once per request), then: the total's estimate,
    # its bounded count (the fixture's total is small), the page's rows with their users, and the audit event. The
    # first request of a process also asks the server's version for the navigation bar (once a minute): not counted.
    support.get("/conversations/")
    with django_assert_max_num_queries(8):
        support.get("/conversations/", {"size": 100})
    with django_assert_max_num_queries(8):
        support.get("/conversations/", {"size": 25}, headers={"HX-Request": "true"})
    with django_assert_max_num_queries(15):
        support.get("/conversations/", {"q": "invoices", "size": 100})


def test_thread_shows_the_latest_window_styled_escaped_and_audited(support, chat):
    thread = chat["thread"]
    response = support.get(f"/conversations/{thread.pk}/")
    assert response.status_code == 200
    window = response.context["window"]
    assert len(window.messages) == 50
    assert [m.created_at for m in window.messages] == sorted(m.created_at for m in window.messages)
    assert window.newer_than is None and window.older_than == window.messages[0].pk
    assert "Long thread" in response.content.decode()
    assert "formal" in response.content.decode()  # Ada's preferences beside the thread
    event = AuditEvent.objects.get(action="conversation.view")
    assert event.target == f"conversation:{thread.pk}" and event.detail["user_id"] == str(chat["ada"].pk)
    # The titles of Ada's other conversations listed beside the thread were read too: the event names them.
    others = [conversation.pk for conversation in response.context["other_conversations"]]
    assert others and event.detail["conversations"] == others


def test_thread_around_a_message_renders_code_escapes_script_and_collapses_long(support, chat):
    thread = chat["thread"]
    script = Message.objects.get(conversation=thread, content__startswith="Please refund")
    response = support.get(f"/conversations/{thread.pk}/", {"around": script.pk})
    body = response.content.decode()
    assert response.context["window"].focus == script.pk
    assert f'id="m{script.pk}" class="message role-' in body and " focus" in body
    assert "<script>alert" not in body and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body
    assert '<pre class="code" data-language="python"><code>print(&#x27;hi&#x27;)</code></pre>' in body
    assert '<details class="long-message">' in body and "Show all" in body


def test_loading_older_and_newer_messages_returns_only_the_new_chunk(support, chat):
    thread = chat["thread"]
    latest = support.get(f"/conversations/{thread.pk}/").context["window"]
    older = support.get(f"/conversations/{thread.pk}/", {"before": latest.older_than}, headers={"HX-Request": "true"})
    body = older.content.decode()
    assert older.status_code == 200 and "<html" not in body
    assert body.count('class="message role-') == 50 and "Load older messages" in body
    oldest = support.get(f"/conversations/{thread.pk}/", {"before": older.context["window"].older_than})
    assert oldest.context["window"].older_than is None  # the first message is reached
    newer = support.get(
        f"/conversations/{thread.pk}/",
        {"after": oldest.context["window"].messages[-1].pk},
        headers={"HX-Request": "true"},
    )
    assert "Load newer messages" in newer.content.decode()


@pytest.mark.parametrize("params", [{"around": "abc"}, {"before": "-3"}, {"around": "1", "after": "2"}])
def test_thread_bad_anchor_is_400_that_still_audits_whose_thread_it_shows(support, chat, params):
    """The refusal still names the thread and its user, with the user's preferences: a read, so an audit event."""
    thread = chat["thread"]
    response = support.get(f"/conversations/{thread.pk}/", params)
    assert response.status_code == 400
    assert chat["ada"].display_name in response.content.decode()
    assert response.context["preferences"].settings == {"beta": True}
    event = AuditEvent.objects.filter(action="conversation.view", target=f"conversation:{thread.pk}").get()
    assert event.detail["refused"] is True


def test_a_user_page_refused_for_its_cursor_still_audits_the_user_it_shows(support, chat):
    ada = chat["ada"]
    response = support.get(f"/users/{ada.pk}/", {"after": "junk"})
    assert response.status_code == 400 and ada.email in response.content.decode()
    assert AuditEvent.objects.filter(action="user.view", target=f"user:{ada.pk}", detail__refused=True).exists()


def test_a_thread_lists_its_owners_ten_latest_other_conversations(support, chat):
    thread = chat["thread"]
    expected = list(
        Conversation.objects.filter(user=chat["ada"])
        .exclude(pk=thread.pk)
        .order_by("-last_message_at", "-id")
        .values_list("pk", "title", "message_count", "last_message_at")[:10]
    )
    response = support.get(f"/conversations/{thread.pk}/")
    shown = [(c.pk, c.title, c.message_count, c.last_message_at) for c in response.context["other_conversations"]]
    assert shown == expected and len(shown) == 10
    html = response.content.decode()
    first = expected[0]
    noun = "message" if first[2] == 1 else "messages"
    assert f'href="/conversations/{first[0]}/"><bdi>{first[1]}</bdi></a> · {first[2]} {noun}' in html
    assert f'{noun} · <time datetime="{first[3]:%Y-%m-%dT%H:%M:%SZ}" title="{first[3]:%Y-%m-%d %H:%M:%S} UTC"' in html
    assert support.get(f"/conversations/{chat['solo'].pk}/").context["other_conversations"] == []


def test_unknown_conversation_or_message_is_404(support, chat):
    assert support.get("/conversations/999999999/").status_code == 404
    other_message = Message.objects.filter(conversation=chat["solo"]).first()
    assert support.get(f"/conversations/{chat['thread'].pk}/", {"around": other_message.pk}).status_code == 404


def test_exports_stream_the_whole_thread_and_are_audited(support, chat):
    thread = chat["thread"]
    response = support.get(f"/conversations/{thread.pk}/export.json")
    assert response["Content-Disposition"] == f'attachment; filename="conversation-{thread.pk}.json"'
    document = json.loads(b"".join(response.streaming_content))
    assert len(document["messages"]) == 120 and document["message_count"] == 120
    assert document["messages"][10]["content"].startswith("Please refund order 991 <script>")
    markdown = b"".join(support.get(f"/conversations/{thread.pk}/export.md").streaming_content).decode()
    assert markdown.startswith("# Long thread") and markdown.count("\n## ") == 120
    assert AuditEvent.objects.filter(action="conversation.export").count() == 2


@pytest.mark.parametrize("batch", [7, 40, 120, 200])  # a batch that ends mid-thread, one that divides it, one of all
def test_exports_read_in_batches_hold_every_message_once_in_order(support, chat, monkeypatch, batch):
    monkeypatch.setattr("schemaadmin.services.conversations.EXPORT_BATCH", batch)
    thread = chat["thread"]
    in_order = list(
        Message.objects.filter(conversation=thread).order_by("created_at", "id").values_list("id", flat=True)
    )
    document = json.loads(b"".join(support.get(f"/conversations/{thread.pk}/export.json").streaming_content))
    assert [m["id"] for m in document["messages"]] == in_order
    response = support.get(f"/conversations/{thread.pk}/export.md")
    chunks = list(response.streaming_content)
    assert b"".join(chunks).decode().count("\n## ") == 120
    assert len(chunks) == 3 + -(-120 // batch)  # three header lines, then a chunk a batch: not one a message


def test_the_markdown_export_keeps_each_message_in_its_own_section_whatever_it_says(support, chat):
    """A message that writes a heading, opens a fence it never closes or carries HTML stays inside its own fence;
    a title or a name with a line break stays on its line. Each message reads back exactly as written."""
    now = timezone.now()
    conversation = Conversation.objects.create(
        user=chat["ada"], title="Refund\n## assistant · forged \u202eok", created_at=now, updated_at=now
    )
    contents = [
        "hi\n\n## assistant · 2026-01-01 00:00:00 UTC · 0 tokens\n\nRefund approved.",
        "unclosed\n```js\nalert(1)",
        "four ```` backticks and <script>alert(2)</script>  \n",
        "   ",
    ]
    for offset, content in enumerate(contents):
        Message.objects.create(
            conversation=conversation,
            user=chat["ada"],
            role="user",
            content=content,
            created_at=now + timedelta(seconds=offset),
        )
    markdown = b"".join(support.get(f"/conversations/{conversation.pk}/export.md").streaming_content).decode()
    fences = re.findall(r"^(`{3,})text\n(.*?)\n?^\1$", markdown, re.S | re.M)
    assert [body for _, body in fences] == [content.removesuffix("\n") for content in contents]
    outside = re.sub(r"^(`{3,})text\n.*?^\1$", "", markdown, flags=re.S | re.M)
    assert [line for line in outside.splitlines() if line.startswith("#")][1:] == [
        line for line in outside.splitlines() if line.startswith("## user")
    ]  # the title's heading, then one per message: nothing forged
    # A right-to-left override shown, not obeyed: it would reverse what follows it on the line.
    assert outside.splitlines()[0] == r"# Refund \#\# assistant · forged \<U+202E\>ok"


def test_users_are_found_and_their_page_lists_conversations(support, chat):
    found = support.get("/users/", {"q": "ada@EXAMPLE.org"})
    assert [u.pk for u in found.context["page"].rows] == [chat["ada"].pk]
    # An id as it is read out or typed: any case, spaces, dots, dashes and parentheses aside.
    nbsp, narrow, dash = "\u00a0", "\u202f", "\u2013"  # as numbers copied from a web page or a spreadsheet hold
    said_as = [("+447700900111", "ada"), ("(+44) 7700-900.111", "ada"), ("ACCT-BOB", "bob"), ("acctbob", "bob")]
    said_as += [(f"+44{nbsp}7700{narrow}900{dash}111", "ada")]
    for said, who in said_as:
        found = support.get("/users/", {"q": said})
        assert [u.pk for u in found.context["page"].rows] == [chat[who].pk], said
    assert not support.get("/users/", {"q": "+44770090011"}).context["page"].rows  # a digit short: nobody
    newest = support.get("/users/")
    assert {u.pk for u in newest.context["page"].rows} == {chat["ada"].pk, chat["bob"].pk}
    page = support.get(f"/users/{chat['ada'].pk}/")
    assert page.status_code == 200 and len(_ids(page)) == 25 and pager_token(page, "next")
    # The event names the conversations the page listed, and which way it paged, as a list's event does.
    event = AuditEvent.objects.filter(action="user.view", target=f"user:{chat['ada'].pk}").latest("pk")
    assert event.detail["conversations"] == _ids(page) and "page" not in event.detail
    following = support.get(f"/users/{chat['ada'].pk}/", {"after": pager_token(page, "next")})
    event = AuditEvent.objects.filter(action="user.view", target=f"user:{chat['ada'].pk}").latest("pk")
    assert event.detail["conversations"] == _ids(following) and event.detail["page"] == "next"
    assert support.get("/users/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert support.get("/users/", {"after": "junk"}).status_code == 400


def _found(client, q: str) -> list[str]:
    return [user.display_name for user in client.get("/users/", {"q": q}).context["page"].rows]


def test_a_user_is_found_by_the_start_of_any_word_of_the_name(support, chat):
    """Support is told a surname as often as a first name: "stone" found nobody while a name matched from its start."""
    ChatUser.objects.create(external_id="acct-mj", display_name="Mary-Jane O'Brien Núñez", email="mj@example.org")
    assert _found(support, "stone") == ["Bob Stone"]
    assert _found(support, "LOVE") == ["Ada Lovelace"]  # a word's start, any case
    assert _found(support, "ada lov") == _found(support, "lov ada") == ["Ada Lovelace"]  # every word, any order
    assert _found(support, "ada stone") == []  # each word must start one of the same user's words
    for said in ("brien", "o'brien", "jane", "mary-ja", "núñ", "NÚÑEZ"):
        assert _found(support, said) == ["Mary-Jane O'Brien Núñez"], said
    assert _found(support, "ovelace") == []  # the middle of a word is no start
    ChatUser.objects.create(external_id="acct-smiley", display_name="🙂 Smiley", email="smiley@example.org")
    # Names PostgreSQL reads with words kept whole ("j.r", "v2.0", "jo/ann", "-800"): found as shown, and by a word.
    for name in ("J.R. Tolkien", "Bot v2.0", "Jo/Ann Lee", "T-800", "jane.doe"):
        ChatUser.objects.create(external_id=f"acct-{name}", display_name=name, email="")
        assert _found(support, name) == [name], name
    assert _found(support, "tolk") == ["J.R. Tolkien"] and _found(support, "lee") == ["Jo/Ann Lee"]
    assert _found(support, "🙂") == _found(support, "smil") == ["🙂 Smiley"]  # a search of signs alone: from the start
    # tsquery's own syntax is text to find, never an operator: no 500, no match of everyone.
    for hostile in ("a | b", "!ada", "ada:*", "'", "\\", "(", "&", "<->", "a' | 'b"):
        found = support.get("/users/", {"q": hostile})
        assert found.status_code == 200, hostile
    assert _found(support, "!ada") == ["Ada Lovelace"] and _found(support, "st & ne") == []


def test_a_phone_number_is_found_with_or_without_its_plus(support, chat):
    ChatUser.objects.create(external_id="15551234567", display_name="No Plus", email="np@example.org")
    assert _found(support, "447700900111") == _found(support, "44 7700 900111") == ["Ada Lovelace"]
    assert _found(support, "+1 555 123 4567") == _found(support, "(1) 555-1234567") == ["No Plus"]
    assert _found(support, "4770090011") == []  # a digit short is nobody, with or without the plus


def test_the_user_finder_pages_through_every_match_by_name(support, chat):
    """It showed the first 50 by name and said more matched: 7 of 57 Garcias could not be reached."""
    ChatUser.objects.bulk_create(
        ChatUser(external_id=f"acct-smith-{i}", display_name=f"Sam Smith {i:02d}", email=f"s{i}@example.org")
        for i in range(57)
    )
    seen: list[str] = []
    params = {"q": "smith"}
    while True:
        found = support.get("/users/", params)
        assert found.status_code == 200
        seen += [user.display_name for user in found.context["page"].rows]
        assert _pager_range(found).endswith("of 57 users")
        if not pager_token(found, "next"):
            break
        params = {"q": "smith", "after": pager_token(found, "next")}
    assert seen == [f"Sam Smith {i:02d}" for i in range(57)]
    # A cursor of the newest-first list is not one of a search's pages: refused with a sentence, not misread.
    newest = pager_token(support.get("/users/"), "next") or ""
    assert support.get("/users/", {"q": "smith", "after": newest}).status_code == (400 if newest else 200)


@pytest.mark.parametrize("ids_listed", [100, 10], ids=["ids read first", "users as a subquery"])
def test_the_conversation_lists_user_filter_keeps_every_matching_user_not_the_finders_first_fifty(
    support, chat, monkeypatch, ids_listed
):
    """The filter took the finder's first 50 users by name: "smith" listed the conversations of "Sam Smith 00" to
    "49" alone, without saying so, and a conversation of "Sam Smith 59" was in neither the list nor a search. The
    60 Smiths' ids are read first under a limit of 100, and left to a subquery under a limit of 10."""
    monkeypatch.setattr(filters, "USER_IDS_LISTED", ids_listed)
    smiths = ChatUser.objects.bulk_create(
        ChatUser(external_id=f"acct-smith-{i}", display_name=f"Sam Smith {i:02d}", email=f"s{i}@example.org")
        for i in range(60)
    )
    last = Conversation.objects.create(user=smiths[-1], title="Last Smith's", created_at=T0, updated_at=T0)
    Message.objects.create(conversation=last, user=smiths[-1], role="user", content="where is my parcel", created_at=T0)
    listed = support.get("/conversations/", {"user": "smith"}).context["page"].rows
    assert [c.pk for c in listed] == [last.pk]
    found = support.get("/conversations/", {"user": "smith", "q": "parcel"}).context["page"].rows
    assert [m.conversation_id for m in found] == [last.pk]


@pytest.mark.parametrize("search", ["", "parcel"], ids=["list", "search"])
def test_a_user_filter_that_finds_nobody_lists_nothing_and_says_so(support, chat, search):
    """No user's id read first made an empty list of ids, which is no SQL: the page's estimate, composed from the
    query's SQL, failed with a 500."""
    response = support.get("/conversations/", {"user": "nobody-by-this-name", "q": search})
    assert response.status_code == 200
    assert response.context["page"].rows == [] and response.context["total"].value == 0
    # ... and offers to look again without the user filter
    widened = {widening.name: widening.value for widening in response.context["widenings"]}
    assert widened["user"] == "nobody-by-this-name"


def _pager_range(response) -> str:
    text = response.content.decode()
    start = text.index('data-testid="pager-range">') + len('data-testid="pager-range">')
    return text[start : text.index("</span>", start)]


def test_lists_and_searches_of_users_and_conversations_are_audited_with_what_was_asked(support, chat):
    def last_event() -> AuditEvent:
        return AuditEvent.objects.order_by("-id").first()

    # Each also names what its page showed: the conversations listed or searched, the users found.
    first = support.get("/conversations/", {"channel": "sms", "active_from": "2026-01-01"})
    event = last_event()
    assert (event.action, event.target, event.actor_username) == ("conversation.list", "conversations", "support-user")
    listed = [row.pk for row in first.context["page"].rows]
    assert listed and event.detail == {
        "channel": "sms",
        "active_from": "2026-01-01",
        "sort": DEFAULT_ORDER,
        "size": 25,
        "conversations": listed,
    }
    searched = support.get("/conversations/", {"q": '"chargeback question"', "role": "user", "size": 50})
    event = last_event()
    assert (event.action, event.target) == ("conversation.search", "messages")
    hits = list(dict.fromkeys(row.conversation_id for row in searched.context["page"].rows))
    assert hits and event.detail == {"q": '"chargeback question"', "role": "user", "size": 50, "conversations": hits}
    support.get("/users/", {"q": "ada@example.org"})
    assert (last_event().action, last_event().target, last_event().detail) == (
        "user.search",
        "users",
        {"q": "ada@example.org", "users": [str(chat["ada"].pk)]},
    )
    support.get("/users/")
    assert last_event().action == "user.list"
    assert set(last_event().detail["users"]) == {str(chat["ada"].pk), str(chat["bob"].pk)}
    # A later page says which way it went, not the cursor; a list refused (400) showed nothing and is not audited.
    assert pager_token(first, "next") is None
    newest = support.get("/conversations/")
    support.get("/conversations/", {"after": pager_token(newest, "next")})
    assert last_event().detail["page"] == "next" and "after" not in last_event().detail
    before = AuditEvent.objects.count()
    assert support.get("/conversations/", {"active_from": "2026-02-30"}).status_code == 400
    assert support.get("/users/", {"after": "junk"}).status_code == 400
    assert AuditEvent.objects.count() == before


def test_users_list_pages_through_more_than_a_page_of_users_and_back(support, chat):
    ChatUser.objects.bulk_create(ChatUser(external_id=f"acct-{i:03}", display_name=f"User {i}") for i in range(40))
    first = support.get("/users/")
    second = support.get("/users/", {"after": pager_token(first, "next")})
    assert second.status_code == 200 and len(first.context["page"].rows) == 25
    seen = [u.pk for u in first.context["page"].rows + second.context["page"].rows]
    assert len(set(seen)) == 42 and pager_token(second, "next") is None
    back = support.get("/users/", {"before": pager_token(second, "prev")})
    assert [u.pk for u in back.context["page"].rows] == [u.pk for u in first.context["page"].rows]
    assert support.get("/users/", {"after": "x" + pager_token(first, "next")}).status_code == 400


def test_audit_log_lists_and_filters_events_for_dbas(client_as, chat):
    dba = client_as("dba")
    dba.get(f"/conversations/{chat['thread'].pk}/")
    response = dba.get("/audit/", {"action": "conversation.view"})
    assert response.status_code == 200
    assert [e.action for e in response.context["page"].rows] == ["conversation.view"]
    assert dba.get("/audit/", {"since": "yesterday"}).status_code == 400
    # The action is matched exactly; the field offers every action the log holds, each once, in order.
    page = dba.get("/audit/").content.decode()
    offered = re.findall(r'<option value="([^"]+)"></option>', page.split('<datalist id="audit-actions">')[1])
    assert offered == sorted(set(AuditEvent.objects.values_list("action", flat=True)))
    assert "conversation.view" in offered and 'list="audit-actions"' in page


def test_audit_log_who_is_an_account_in_any_case_or_the_name_as_written(client_as, chat):
    dba = client_as("dba")  # dba-user
    dba.get(f"/conversations/{chat['thread'].pk}/")
    AuditEvent.objects.create(actor_username="os:root", action="explain.run", target="explain:1")
    for typed in ("dba-user", "DBA-User"):
        rows = dba.get("/audit/", {"actor": typed, "action": "conversation.view"}).context["page"].rows
        assert [e.actor_username for e in rows] == ["dba-user"], typed
    assert [e.actor_username for e in dba.get("/audit/", {"actor": "os:root"}).context["page"].rows] == ["os:root"]
    assert dba.get("/audit/", {"actor": "OS:ROOT"}).context["page"].rows == []  # no account: as written


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"until": "9999-12-31"}, "To: Enter a date from 1900-01-01 to 2999-12-31."),  # the label people see
        ({"since": "0001-01-01"}, "From: Enter a date from 1900-01-01 to 2999-12-31."),
        ({"actor": "\x00"}, "Null characters are not allowed."),
        ({"after": "\x00"}, "Page link: Null characters are not allowed."),
        ({"after": "a", "before": "b"}, "use one"),
        ({"since": "2026-01-02", "until": "2026-01-01"}, "“To” is before “From”."),
    ],
)
def test_audit_log_bad_filters_and_page_links_are_a_400_that_says_what_is_wrong(client_as, params, message):
    dba = client_as("dba")
    for headers in ({}, {"HX-Request": "true"}):
        response = dba.get("/audit/", params, headers=headers)
        assert response.status_code == 400
        assert message in response.content.decode()


def test_cursor_round_trips_values():
    from schemaadmin.services.conversations import CONVERSATION_ORDERS

    order = CONVERSATION_ORDERS["-activity"]
    cursor = Cursor(order.name, (T0, 42), "after")
    assert Cursor.decode(cursor.encode(), order) == cursor


def test_thread_and_user_pages_use_a_constant_number_of_queries(support, chat, django_assert_num_queries):
    # Auth is two queries: the session, then the signed-in user with their permissions (OneQueryModelBackend).
    support.get("/users/")  # the first request of a process also asks the server's version (once a minute)
    # auth (2), conversation (and whether the preferences' table is locked), window, audit insert, the owner's other
    # conversations, their preferences (read apart: a lock on them must not stop the thread)
    with django_assert_num_queries(7):
        support.get(f"/conversations/{chat['thread'].pk}/")
    anchor = Message.objects.filter(conversation=chat["thread"]).order_by("-created_at")[5]
    with django_assert_num_queries(6):  # auth (2), conversation, anchor, window, audit insert
        response = support.get(
            f"/conversations/{chat['thread'].pk}/", {"before": anchor.pk}, headers={"HX-Request": "true"}
        )
    assert response.status_code == 200 and len(response.context["window"].messages) == 50
    # A user's page reads the user with the page's rows, and counts their conversations (at most EXACT_COUNT_BELOW)
    # without asking the planner first: most users have fewer.
    with django_assert_num_queries(6):  # auth (2), conversations with the user, their preferences, count, audit
        page = support.get(f"/users/{chat['ada'].pk}/")
    assert page.context["chat_user"] == chat["ada"] and page.context["preferences"].tone == "formal"
    assert page.context["total"].exact and page.context["total"].value == 31
    # auth (2), one page of users, their count (the planner's estimate, under EXACT_COUNT_BELOW, was asked by the
    # first request above and is kept a minute), the audit event
    with django_assert_num_queries(5):
        support.get("/users/")


def test_a_user_page_shows_the_user_without_conversations_or_past_the_last_page(support, chat):
    loner = ChatUser.objects.create(external_id="acct-loner", display_name="Lone Wolf")
    page = support.get(f"/users/{loner.pk}/")
    assert page.status_code == 200 and page.context["chat_user"] == loner and page.context["preferences"] is None
    assert "Lone Wolf" in page.content.decode() and page.context["total"].value == 0
    assert "This user has no conversations yet." in page.content.decode()  # no filters here to blame
    assert "Nothing matches these filters" not in page.content.decode()
    from schemaadmin.services.conversations import CONVERSATION_ORDERS

    past_the_end = Cursor(DEFAULT_ORDER, (T0 - timedelta(days=365), 0), "after").encode()
    assert CONVERSATION_ORDERS[DEFAULT_ORDER].descending
    beyond = support.get(f"/users/{chat['ada'].pk}/", {"after": past_the_end})
    assert beyond.status_code == 200 and beyond.context["chat_user"] == chat["ada"]
    assert beyond.context["page"].rows == [] and beyond.context["preferences"].language == "en"
    assert "No conversations past this page." in beyond.content.decode()
    broken = support.get(f"/users/{loner.pk}/", {"after": "junk"})
    assert broken.status_code == 400 and "Lone Wolf" in broken.content.decode()
    for link, why in (
        ({"after": "\x00"}, "Null characters are not allowed."),
        ({"after": "a" * 2_000}, "at most"),
        ({"after": past_the_end, "before": past_the_end}, "use one"),
    ):
        refused = support.get(f"/users/{chat['ada'].pk}/", link)
        assert refused.status_code == 400 and why in refused.content.decode(), link


@pytest.mark.parametrize("collected", [10, 100_000])
def test_few_and_many_hits_find_the_same_pages(support, chat, monkeypatch, collected):
    # Below the threshold every hit's id is collected from the GIN index, then sorted; at it, each page is sorted
    # from the index's bitmap of all hits. A user sees the same pages either way.
    from schemaadmin.services import message_search

    expected = list(
        Message.objects.filter(content__contains="invoices").order_by("-created_at", "-id").values_list("pk", flat=True)
    )
    monkeypatch.setattr(message_search, "COLLECTED_HITS", collected)
    first = support.get("/conversations/", {"q": "invoices", "size": 50})
    second = support.get("/conversations/", {"q": "invoices", "size": 50, "after": pager_token(first, "next")})
    assert _ids(first) + _ids(second) == expected
    assert first.context["total"].value == len(expected)
    back = support.get("/conversations/", {"q": "invoices", "size": 50, "before": pager_token(second, "prev")})
    assert _ids(back) == expected[:50]


def test_the_one_pager_says_which_rows_of_how_many_forward_and_back(support, chat):
    first = support.get("/conversations/", {"sort": "created", "size": 25})
    assert _pager_range(first) == "1–25 of 32 conversations"
    second = support.get("/conversations/", {"sort": "created", "size": 25, "after": pager_token(first, "next")})
    assert _pager_range(second) == "26–32 of 32 conversations"
    assert 'rel="prev"' in second.content.decode() and 'rel="next"' not in second.content.decode()
    back = support.get("/conversations/", {"sort": "created", "size": 25, "before": pager_token(second, "prev")})
    assert _pager_range(back) == "1–25 of 32 conversations"


def test_a_nameless_user_and_an_untitled_conversation_have_one_name_everywhere(support, chat):
    nameless = ChatUser.objects.create(external_id="+49 152 5603225", display_name="")
    untitled = Conversation.objects.create(
        user=nameless, title="", channel="sms", created_at=T0, updated_at=T0, last_message_at=T0
    )
    Conversation.objects.create(
        user=nameless, title="Other", channel="sms", created_at=T0, updated_at=T0, last_message_at=T0
    )
    listed = support.get("/conversations/", {"user": "+49 152 5603225"}).content.decode()
    user_cells = re.findall(r'<td class="user-text" data-label="User">(.*?)</td>', listed)
    assert len(user_cells) == 2  # each row names the user once (not as a name, then the same id again)
    assert all(cell.count("+49 152 5603225") == 1 for cell in user_cells), user_cells
    assert f"Conversation {untitled.pk}" in listed
    users = support.get("/users/", {"q": "+49 152 5603225"}).content.decode()
    assert "><bdi>+49 152 5603225</bdi></a>" in users  # the link reads as the user's id, not a bare dash
    thread = support.get(f"/conversations/{untitled.pk}/").content.decode()
    assert f'<h1 class="h4">Conversation {untitled.pk}</h1>' in thread and "Untitled" not in thread


def test_a_typed_date_is_the_viewer_s_day_as_every_page_shows_times_in_their_zone(support, chat):
    """Sydney's 1 February (UTC+11) ends at 13:00 UTC: conversations active at 08:00-12:59 UTC are in it, later not."""
    asked = {"active_from": "2026-02-01", "active_to": "2026-02-01"}
    support.cookies["schemaadmin_tz"] = "Australia/Sydney"
    sydney = _ids(support.get("/conversations/", asked))
    assert sorted(sydney) == sorted(c.pk for c in chat["conversations"][:5])
    for hostile in ("../../etc/localtime", "Not/A_Zone", "\x00", "x" * 500):
        support.cookies["schemaadmin_tz"] = hostile  # read as no zone: UTC, never an error
        assert len(_ids(support.get("/conversations/", asked))) == 16
    del support.cookies["schemaadmin_tz"]
    assert len(_ids(support.get("/conversations/", asked))) == 16


def test_text_users_wrote_is_isolated_so_a_direction_override_cannot_reorder_what_follows(support, chat):
    """A right-to-left override (U+202E) in a name or a title reversed the external id, dates and counts shown beside
    it; each piece of text users wrote is its own <bdi>, where the override ends."""
    now = timezone.now()
    spoof = ChatUser.objects.create(external_id="acct-12345", display_name="Bob \u202e", email="")
    conversation = Conversation.objects.create(user=spoof, title="Refund \u202e", created_at=now, updated_at=now)
    Message.objects.create(conversation=conversation, user=spoof, role="user", content="wombat here", created_at=now)
    other = Conversation.objects.create(user=spoof, title="Other \u202e", created_at=now, updated_at=now)
    pages = {
        "search": support.get("/conversations/", {"q": "wombat"}).content.decode(),
        "list": support.get("/conversations/", {"user": "acct-12345"}).content.decode(),
        "users": support.get("/users/", {"q": "acct-12345"}).content.decode(),
        "thread": support.get(f"/conversations/{other.pk}/").content.decode(),
        "user": support.get(f"/users/{spoof.pk}/").content.decode(),
    }
    for name, page in pages.items():
        for written in re.findall(r"[^<>]*\u202e[^<>]*", page):
            if written.strip() and "<title>" not in page[page.index(written) - 8 : page.index(written)]:
                before = page[: page.index(written)]
                assert before.endswith(("<bdi>", '<bdi class="preview">', '<h1 class="h4">')), (
                    name,
                    written,
                    before[-60:],
                )


@pytest.mark.parametrize("mark", ["\u202a", "\u200e", "\u2066", "\ufeff"])
def test_a_phone_number_pasted_with_invisible_direction_marks_finds_its_user(support, chat, mark):
    """WhatsApp Web and Outlook copy a number wrapped in direction marks: found as the number itself."""
    closing = {"\u202a": "\u202c", "\u2066": "\u2069"}.get(mark, "")
    pasted = f"{mark}+44 7700 900111{closing}"
    assert [u.pk for u in support.get("/users/", {"q": pasted}).context["page"].rows] == [chat["ada"].pk]
    listed = support.get("/conversations/", {"user": pasted}).context["page"].rows
    assert listed and {row.user_id for row in listed} == {chat["ada"].pk}


@pytest.mark.parametrize("pasted", ["\u202a\u202c", "\u200e \u200f", "\ufeff"])
def test_a_user_filter_of_invisible_characters_alone_asks_for_nothing(support, chat, pasted):
    """Without its marks the text was empty, and every user's name starts with "": all users were sorted to show 50
    (306 ms at 100,000 users). Now such text is no filter, as an empty box is."""
    found = support.get("/users/", {"q": pasted})
    assert found.status_code == 200 and found.context["form"].cleaned_data["q"] == ""
    newest = support.get("/users/").context["page"].rows
    assert [u.pk for u in found.context["page"].rows] == [u.pk for u in newest]
    listed = support.get("/conversations/", {"user": pasted})
    assert listed.status_code == 200 and listed.context["filters"].form.cleaned_data["user"] == ""
    every = support.get("/conversations/").context["page"].rows
    assert [c.pk for c in listed.context["page"].rows] == [c.pk for c in every]


def test_a_search_shows_tag_like_text_as_written_in_the_snippet_and_in_the_thread(support, chat):
    """ts_headline drops what its parser reads as HTML tags: `<b>CSS</b>` came back as ` CSS `."""
    now = timezone.now()
    conversation = Conversation.objects.create(user=chat["bob"], title="html", created_at=now, updated_at=now)
    message = Message.objects.create(
        conversation=conversation,
        user=chat["bob"],
        role="user",
        content="quokka: how do I center a <div class='x'> in <b>CSS</b>? \x03 stays out",
        created_at=now,
    )
    listed = support.get("/conversations/", {"q": "quokka"}).content.decode()
    snippet = re.search(r'<a class="hit"[^>]*>(.*?)</a>', listed, re.S).group(1)
    assert "&lt;div class=&#x27;x&#x27;&gt; in &lt;b&gt;CSS&lt;/b&gt;?" in snippet, snippet
    thread = support.get(f"/conversations/{conversation.pk}/", {"around": message.pk, "q": "quokka"}).content.decode()
    assert "&lt;b&gt;CSS&lt;/b&gt;?" in thread and "<mark>quokka</mark>" in thread
    summary = re.search(r'data-testid="thread-summary">(.*?)</p>', thread, re.S).group(1)
    assert " 1 message · 0 tokens " in " ".join(summary.split())  # one message, not "1 messages"
    assert ">0 tokens</span>" in thread
    Message.objects.filter(pk=message.pk).update(token_count=1)
    assert ">1 token</span>" in support.get(f"/conversations/{conversation.pk}/").content.decode()  # not "1 tokens"


def test_a_search_pasted_with_invisible_marks_or_a_decomposed_accent_finds_what_it_says(support, chat):
    """A word copied from a right-to-left page comes wrapped in direction marks, and a text typed on some keyboards
    writes "é" as "e" and a combining accent: the server's parser kept either as part of another word. The search
    looks for the text as typed and as plainly spelled, so a message that itself holds the mark or the decomposed
    accent is still found by its own text pasted, and the join controls of Persian and Indic words are kept."""
    now = timezone.now()
    conversation = Conversation.objects.create(user=chat["bob"], title="marks", created_at=now, updated_at=now)
    texts = [
        "the wombat café is open",
        "می\u200cخواهم a refund",  # Persian, with a zero-width non-joiner
        "ශ්\u200dරී ලංකා visit",  # Sinhala, a zero-width joiner after a virama
        "a wombat\u200f we hold as it came",  # a message that holds the mark itself
        "cafe\u0301 decomposed in the message",
    ]
    found = {
        text: Message.objects.create(
            conversation=conversation, user=chat["bob"], role="user", content=text, created_at=now
        ).pk
        for text in texts
    }
    # Whether the server's parser keeps a word and the mark after it as one token depends on the database's
    # LC_CTYPE (kept in C, split in C.UTF-8): split, the message holding the mark is found by the plain word too.
    with connection.cursor() as cur:
        cur.execute("SELECT to_tsvector('simple', %s) @@ to_tsquery('simple', 'wombat')", ["wombat\u200f"])
        (split,) = cur.fetchone()
    for typed, expected in [
        ("\u200ewombat\u200f", [texts[0], texts[3]]),  # the plain word and the word as the message holds it
        ("\ufeffwombat", [texts[0], *([texts[3]] if split else [])]),
        ("\u2066wombat\u2069 open", [texts[0]]),
        ("cafe\u0301", [texts[0], texts[4]]),  # composed as the first writes it, and as the last holds it
        ("café", [texts[0]]),
        ("می\u200cخواهم", [texts[1]]),
        ("ශ්\u200dරී", [texts[2]]),
    ]:
        response = support.get("/conversations/", {"q": typed})
        assert response.status_code == 200, typed
        assert sorted(hit.pk for hit in response.context["page"].rows) == sorted(found[t] for t in expected), typed
    thread = support.get(f"/conversations/{conversation.pk}/", {"around": found[texts[0]], "q": "\u200ewombat\u200f"})
    assert "<mark>wombat</mark>" in thread.content.decode()
    # Marks alone are no search: said as for any text with no word in it.
    nothing = support.get("/conversations/", {"q": "\u200e\u200f"})
    assert nothing.status_code == 400 and "Nothing in this search can be matched" in nothing.content.decode()


@pytest.mark.parametrize(
    "typed, named",
    [
        ("invoices & !about", ["“&”", "“!”"]),
        ("invoices | refund", ["“|”"]),
        ("message <-> invoices", ["“<->”"]),
        ("!about invoices", ["“!”"]),
        ("invoice:* about", ["“:*”", "no search by the start of a word"]),
    ],
)
def test_a_search_says_which_operators_it_read_as_spaces(support, chat, typed, named):
    """Web-search syntax has no "!", "&", "|" or "<->": "invoices & !about" found the messages with both words, the
    opposite of what to_tsquery's reader meant, and said nothing."""
    response = support.get("/conversations/", {"q": typed})
    assert response.status_code == 200
    note = re.search(r'data-testid="operator-note">([^<]*)<', response.content.decode())
    assert note, typed
    sentence = html.unescape(note.group(1))
    assert all(name in sentence for name in named) and "a minus sign before it (-word)" in sentence
    # The hits are what the words alone find: the note says what was searched.
    words = " ".join(word for word in re.split(r"<->|:\*|[!&|\s]+", typed) if word)
    alone = support.get("/conversations/", {"q": words})
    assert [hit.pk for hit in response.context["page"].rows] == [hit.pk for hit in alone.context["page"].rows]
    # And it offers the search the person most likely meant, in web-search syntax.
    link = re.search(r'data-testid="operator-rewrite"', response.content.decode())
    assert link, typed


def test_the_operator_note_offers_the_search_in_web_search_syntax(support, chat):
    page = support.get("/conversations/", {"q": "invoices & !about", "channel": "web"}).content.decode()
    link = html.unescape(re.search(r'<a href="([^"]*)" data-testid="operator-rewrite">', page).group(1))
    assert "q=invoices+-about" in link and "channel=web" in link
    meant = support.get("/conversations/" + link)
    assert meant.status_code == 200 and meant.context["page"].rows == []  # every invoice message is "about" one
    assert 'data-testid="operator-note"' not in meant.content.decode()


@pytest.mark.parametrize(
    "typed",
    [
        "invoices",
        '"invoices & about"',
        "invoices!",
        "invoices -about",
        "refund or invoices",
        "AT&T invoices",  # text, not operators: nothing beside them is a space
        "invoices https://example.org/?a=1&b=2",
        "Yahoo!Mail invoices",
        "rock|roll invoices",
    ],
)
def test_a_search_without_operator_characters_has_no_note(support, chat, typed):
    response = support.get("/conversations/", {"q": typed})
    assert response.status_code == 200
    assert 'data-testid="operator-note"' not in response.content.decode()


def _widening_links(body: str) -> dict[str, str]:
    """The empty list's "look again without" links: their text (the filter and its value) -> their URL."""
    return {
        re.sub(r"<[^>]+>", "", text): html.unescape(url)
        for url, text in re.findall(r'<a href="([^"]+)" data-testid="widen">(.*?)</a>', body)
    }


def test_an_empty_list_says_what_found_nothing_and_links_to_it_without_each_filter(support, chat):
    response = support.get("/conversations/", {"q": "zanzibar", "channel": "web", "user": "bob", "sort": "-messages"})
    body = response.content.decode()
    assert response.status_code == 200 and _ids(response) == []
    assert "No message matches" in body and "with these filters" in body
    links = _widening_links(body)
    # One link a filter, each the same list without it (the order kept, not a link of its own); the search's own link
    # lists conversations.
    assert set(links) == {"Search messages: zanzibar", "User: bob", "Channel: Web"}
    without_channel = support.get("/conversations/" + links["Channel: Web"])
    assert [hit.conversation_id for hit in without_channel.context["page"].rows] == [chat["solo"].pk]
    assert "sort=-messages" in links["User: bob"] and "user=" not in links["User: bob"]
    assert _ids(support.get("/conversations/" + links["Search messages: zanzibar"])) == []  # bob has no web one
    # A list of conversations: its filters, by their labels and their choices' names.
    empty = support.get("/conversations/", {"channel": "sms", "min_messages": 5}).content.decode()
    assert "No conversation matches these filters" in empty
    assert set(_widening_links(empty)) == {"Channel: SMS", "At least N messages: 5"}


def test_a_search_alone_that_finds_nothing_says_how_search_reads_words(support, chat):
    body = support.get("/conversations/", {"q": "invoic"}).content.decode()
    assert "No message matches" in body and "a part of a word finds nothing" in body
    assert _widening_links(body) == {}  # listing every conversation instead is no way to find it
    # A search that found something shows its hits, not this.
    found = support.get("/conversations/", {"q": "invoices"}).content.decode()
    assert 'data-testid="no-results"' not in found
