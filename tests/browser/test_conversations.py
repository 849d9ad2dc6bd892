"""A support agent searches, opens the thread at the hit, loads older messages, and goes back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from schemaadmin.models import ChatUser, Conversation, ConversationPreference
from tests.chat_data import copy_messages

pytestmark = pytest.mark.browser
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def chat(transactional_db):
    cache.clear()  # estimated totals are kept a minute per query: an earlier test's data must not show here
    ada = ChatUser.objects.create(external_id="+44 7700 900222", display_name="Ada Byron", email="ada@example.org")
    ConversationPreference.objects.create(user=ada, language="en", tone="concise", settings={"units": "metric"})
    thread = Conversation.objects.create(
        user=ada, title="Trip planning", channel="whatsapp", created_at=T0, updated_at=T0
    )
    others = [
        Conversation.objects.create(user=ada, title=f"Billing question {i}", created_at=T0, updated_at=T0)
        for i in range(3)
    ]
    rows = []
    for k in range(120):
        role = "system" if k == 0 else ("user", "assistant", "tool")[k % 3]
        text = f"Step {k}: we compare trains and flights for the itinerary."
        if k == 60:
            text = "Your ferry to Zanzibar leaves at 09:30.\nBring the booking code:\n```\nZNZ-4411\n```"
        rows.append((thread.pk, ada.pk, role, text, 12, T0 + timedelta(minutes=k)))
    for i, other in enumerate(others):
        # One with a link too long for any screen: it must not set the width of the hits' column.
        link = " see https://example.org/billing/" + "a1b2c3d4" * 40 if i == 0 else ""
        rows.append((other.pk, ada.pk, "user", f"My invoice {i} looks wrong{link}", 8, T0 + timedelta(days=i + 1)))
    copy_messages(rows)
    return thread


PHONE = {"width": 360, "height": 800}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def support_at(page, role_user, sign_in):
    """Return a function opening a URL signed in as a support agent in a window of a given size (a phone's)."""

    def open_as_support(url: str, size: dict[str, int] = PHONE) -> None:
        page.set_viewport_size(size)
        role_user("support", "sam")
        page.goto(url)
        sign_in("sam")

    return open_as_support


def _right_edges(page, cells: str) -> list[float]:
    """Return where each cell the selector names ends on the right, in CSS pixels."""
    return page.locator(cells).evaluate_all("cells => cells.map((td) => td.getBoundingClientRect().right)")


def test_search_hits_wrap_on_a_phone(page, support_at, chat, console_errors, screenshot):
    support_at("/conversations/?q=invoice")
    expect(page.locator("a.hit")).to_have_count(3)
    # Each hit a card: its snippet, conversation, user and time all inside the screen, none cut off at its edge.
    for cell in ("td.snippet", "td[data-label]"):
        rights = _right_edges(page, cell)
        assert rights and max(rights) <= 360, (cell, rights)
    # The filters besides the search are folded away, so the hits come right after the search and its buttons.
    user_filter = page.get_by_label("User", exact=True)
    expect(user_filter).to_be_hidden()
    more = page.get_by_role("button", name="More filters")
    expect(more).to_have_attribute("aria-expanded", "false")
    screenshot("conversations-search-phone")
    more.click()
    expect(user_filter).to_be_visible()
    screenshot("conversations-search-phone-filters")
    expect(page.get_by_role("button", name="Fewer filters")).to_have_attribute("aria-expanded", "true")
    # Focus goes where the eye does: from the search to the button that unfolds the filters, then into them.
    page.get_by_label("Search messages").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Fewer filters")).to_be_focused()
    page.keyboard.press("Tab")
    expect(user_filter).to_be_focused()
    # A filter that is set is never folded away: the page opens with it in view.
    page.goto("/conversations/?q=invoice&role=user")
    expect(page.get_by_label("Message from")).to_be_visible()
    expect(page.get_by_role("button", name="Fewer filters")).to_be_visible()
    assert console_errors == []


def test_a_search_with_operator_characters_says_how_it_read_them_on_a_phone(
    page, support_at, chat, console_errors, screenshot
):
    support_at("/conversations/")
    page.get_by_label("Search messages").fill("invoice & !wrong")
    page.get_by_label("Search messages").press("Enter")
    note = page.get_by_test_id("operator-note")
    expect(note).to_contain_text("“&” and “!” are not operators in this search")
    expect(page.locator("a.hit")).to_have_count(3)  # what "invoice wrong" finds
    box = note.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
    screenshot("conversations-search-operator-note-phone")
    page.get_by_test_id("operator-rewrite").click()
    expect(page.get_by_label("Search messages")).to_have_value("invoice -wrong")
    expect(page.get_by_test_id("operator-note")).to_have_count(0)
    expect(page.locator("a.hit")).to_have_count(0)  # every invoice message says "wrong"
    assert console_errors == []


def test_a_refused_search_sent_with_enter_on_a_phone_shows_why_on_the_screen(
    page, support_at, chat, console_errors, screenshot
):
    # The filters unfold for a refusal, and on a phone its sentence landed a screen below the search box.
    support_at("/conversations/")
    box = page.get_by_label("Search messages")
    box.fill("-def")
    box.press("Enter")
    said = page.locator("#results [role=alert]")
    expect(said).to_contain_text("no word the messages must contain")
    expect(said).to_be_in_viewport()
    expect(box).to_be_focused()  # the person goes on typing where they were
    screenshot("conversations-search-refused-phone")
    # The role filter is named for what it does: the hits' own role while the box has a search, not "Has a message".
    expect(page.get_by_label("Message from", exact=True)).to_be_visible()
    box.fill("")
    expect(page.get_by_label("Has a message from", exact=True)).to_be_visible()
    assert [error for error in console_errors if "400" not in error] == []


def test_the_search_box_is_marked_refused_while_and_only_while_its_search_is(page, support_at, chat, console_errors):
    # htmx swaps only the results: the box kept the marks of the page it came with (red, the refusal under it) after
    # a search it sent was answered, and a refusal it sent left it unmarked, read out without why.
    support_at("/conversations/?q=-def")
    box = page.get_by_label("Search messages")
    expect(box).to_have_attribute("aria-invalid", "true")
    # Said once, where the results would be, and read with the box; not again under it.
    expect(page.locator("#results [role=alert]")).to_contain_text("no word the messages must contain")
    expect(box).to_have_accessible_description(re.compile("no word the messages must contain"))
    expect(page.locator("form .invalid-feedback")).to_have_count(0)

    box.fill("invoice")
    box.press("Enter")
    expect(page.locator("a.hit")).to_have_count(3)
    expect(box).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("form .invalid-feedback")).to_have_count(0)
    expect(box).not_to_have_accessible_description(re.compile("no word"))

    box.fill("-def")
    box.press("Enter")
    expect(page.locator("#results [role=alert]")).to_contain_text("no word the messages must contain")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_accessible_description(re.compile("no word the messages must contain"))
    assert page.locator("[id=id_q_error]").count() == 1  # the refusal's words, once, named by the box
    assert [error for error in console_errors if "400" not in error] == []


def test_a_search_from_the_phone_s_form_keeps_the_filters_folded(page, support_at, chat, console_errors):
    support_at("/conversations/")
    page.get_by_label("Search messages").fill("invoice")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("a.hit")).to_have_count(3)
    searched = page.url
    # The form sends its page size, not the conversations' order, which a search does not use (newest first).
    assert "size=" in searched and "sort=" not in searched
    # Back to the list (htmx restores the page from its history): the button still unfolds the filters, and the
    # order, with the search box empty again, can be chosen.
    page.go_back()
    expect(page.get_by_test_id("total")).to_contain_text("4 conversations")
    page.get_by_role("button", name="More filters").click()
    expect(page.get_by_label("User", exact=True)).to_be_visible()
    expect(page.get_by_label("Search messages")).to_have_value("")
    expect(page.get_by_label("Sort by")).to_be_enabled()
    page.get_by_label("Sort by").select_option(label="Messages, most first")
    page.get_by_label("Search messages").fill("refund")
    # Disabled, the order names the one a search uses; emptied, the search gives back the order chosen.
    expect(page.get_by_label("Sort by")).to_be_disabled()
    expect(page.get_by_label("Sort by").locator("option:checked")).to_have_text("Newest matching message first")
    page.get_by_label("Search messages").fill(" ")
    expect(page.get_by_label("Sort by")).to_be_enabled()
    expect(page.get_by_label("Sort by").locator("option:checked")).to_have_text("Messages, most first")
    expect(page.get_by_label("Sort by").locator("option")).to_have_count(8)
    # The search's own link, opened afresh (shared, reloaded): its default order and size leave the filters folded.
    page.goto(searched)
    expect(page.get_by_role("button", name="More filters")).to_be_visible()
    expect(page.get_by_label("User", exact=True)).to_be_hidden()
    # A refused filter is shown, though folded away after it was typed: refused by the browser (below the
    # field's minimum), or by the server (dates in the wrong order: a 400 answer swapped in by htmx).
    page.get_by_role("button", name="More filters").click()
    page.get_by_label("At least N messages").fill("-4")
    page.get_by_role("button", name="Fewer filters").click()
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_label("At least N messages")).to_be_visible()
    page.get_by_label("At least N messages").fill("")
    page.get_by_label("Active from").fill("2026-04-09")
    page.get_by_label("Active to").fill("2026-04-01")
    page.get_by_role("button", name="Fewer filters").click()
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("alert")).to_contain_text("These filters cannot be applied")
    expect(page.get_by_label("Active from")).to_be_visible()
    assert [e for e in console_errors if "400" not in e] == []


def test_conversations_are_cards_on_a_phone(page, support_at, chat, console_errors, screenshot):
    support_at("/conversations/")
    expect(page.get_by_test_id("total")).to_contain_text("4 conversations")
    # Every cell of every row inside the screen: the activity and the counts are not past its edge.
    rights = _right_edges(page, "table.cards-on-phone td")
    assert len(rights) == 4 * 7 and max(rights) <= 360, rights
    expect(page.get_by_role("link", name="Billing question 2")).to_be_in_viewport()
    screenshot("conversations-list-phone")
    assert console_errors == []


def test_users_are_cards_on_a_phone(page, support_at, chat, console_errors, screenshot):
    support_at("/users/?q=Ada")
    expect(page.get_by_role("link", name="Ada Byron")).to_be_visible()
    rights = _right_edges(page, "table.cards-on-phone td")
    assert rights and max(rights) <= 360, rights
    expect(page.locator("td[data-label='Since']").first).to_be_in_viewport()
    screenshot("users-phone")
    assert console_errors == []


def test_paging_from_the_keyboard_keeps_the_focus_on_the_pager(page, support_at, chat, console_errors):
    """ "Next ›" is swapped out with the page it loads: the focus fell to <body>, and the next Tab started again at
    "Skip to content". It stays on the pager: on the last page, on its "‹ Previous"."""
    from schemaadmin.models import ChatUser

    ChatUser.objects.bulk_create(ChatUser(external_id=f"acct-page-{i}", display_name=f"Pager {i}") for i in range(30))
    support_at("/users/")
    page.get_by_role("link", name="Next ›").press("Enter")
    expect(page).to_have_url(re.compile(r"/users/\?after="))
    expect(page.get_by_role("link", name="‹ Previous")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Next ›")).to_be_focused()
    assert console_errors == []


def test_every_filter_is_in_view_on_a_desktop(page, support_at, chat, console_errors):
    support_at("/conversations/?q=invoice", DESKTOP)
    expect(page.get_by_label("User", exact=True)).to_be_visible()
    expect(page.get_by_label("Per page")).to_be_visible()
    expect(page.locator("[data-filters-toggle]")).to_be_hidden()
    # The form is one block of rows, the buttons after every filter, as before the phone's folding.
    buttons = page.get_by_role("button", name="Apply").bounding_box()
    size = page.get_by_label("Per page").bounding_box()
    assert buttons["x"] > size["x"] and abs(buttons["y"] + buttons["height"] - (size["y"] + size["height"])) < 8
    assert console_errors == []


def test_search_open_the_hit_load_older_and_go_back(page, role_user, sign_in, chat, console_errors, screenshot):
    role_user("support", "sam")
    page.goto("/conversations/")
    sign_in("sam")
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    expect(page.get_by_test_id("total")).to_contain_text("4 conversations")
    screenshot("conversations-list")

    page.get_by_label("Search messages").fill("zanzibar ferry")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/conversations/\?q=zanzibar(\+|%20)ferry"))
    hit = page.locator("a.hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark").first).to_have_text(re.compile("Zanzibar|ferry"))
    screenshot("conversations-search")

    hit.click()
    expect(page).to_have_url(
        re.compile(rf"/conversations/{chat.pk}/\?around=\d+&q=zanzibar\+ferry(&back=[^#]+)?#m\d+$")
    )
    focus = page.locator("article.message.focus")
    expect(focus).to_contain_text("Your ferry to Zanzibar leaves at 09:30.")
    expect(focus.locator("pre.code")).to_have_text("ZNZ-4411")
    expect(page.get_by_text("concise")).to_be_visible()  # the user's preferences beside the thread
    shown = page.locator("article.message").count()
    assert shown == 50
    screenshot("conversation-thread-at-hit")

    url_before = page.url
    # From the keyboard: a mouse click can land while the page still scrolls to the hit (see the next test).
    page.get_by_role("link", name="Load older messages").press("Enter")
    expect(page.locator("article.message")).to_have_count(50 + 35)
    assert page.url == url_before  # loaded in place, no navigation
    expect(page.locator("article.message").first).to_contain_text("Step 0:")
    expect(page.get_by_role("link", name="Load older messages")).to_have_count(0)  # the start is reached
    # The link pressed went with the swap: the focus is on the oldest message, not back at <body>.
    expect(page.locator("article.message").first).to_be_focused()
    screenshot("conversation-thread-older-loaded")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/conversations/\?q=zanzibar(\+|%20)ferry"))
    expect(page.locator("a.hit")).to_have_count(1)
    assert console_errors == []


def test_filter_change_updates_the_url_and_back_restores_it(page, role_user, sign_in, chat, console_errors):
    role_user("support", "sam")
    page.goto("/conversations/")
    sign_in("sam")
    page.get_by_label("Channel").select_option("whatsapp")
    expect(page).to_have_url(re.compile(r"channel=whatsapp"))
    expect(page.get_by_test_id("total")).to_contain_text("1 conversation")
    expect(page.get_by_role("link", name="Trip planning")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(re.compile(r"/conversations/$"))
    expect(page.get_by_test_id("total")).to_contain_text("4 conversations")
    assert console_errors == []


FILLER = "We went through the statement line by line and checked each payment against the ledger. " * 12


@pytest.fixture
def long_hits(transactional_db):
    """A thread of 30 messages; three long ones (collapsed by default) say "chargeback" in their middle."""
    cache.clear()
    bea = ChatUser.objects.create(external_id="+44 7700 900333", display_name="Bea")
    thread = Conversation.objects.create(user=bea, title="Card dispute", created_at=T0, updated_at=T0)
    rows = []
    for k in range(30):
        text = f"Message {k} about the card."
        if k in (5, 15, 25):
            text = f"{FILLER}\nThe bank opened a chargeback for order {k}.\n{FILLER}"
        rows.append((thread.pk, bea.pk, "user" if k % 2 else "assistant", text, 40, T0 + timedelta(minutes=k)))
    copy_messages(rows)
    return thread


def test_a_hit_opens_expanded_with_its_terms_marked_and_steps_to_the_next_hit(
    page, role_user, sign_in, long_hits, console_errors, screenshot
):
    role_user("support", "sam")
    page.goto("/conversations/?q=chargeback")
    sign_in("sam")
    expect(page.locator("a.hit")).to_have_count(3)
    page.locator("a.hit").last.click()  # newest first: the last listed is the oldest, message 5

    expect(page).to_have_url(re.compile(r"\?around=\d+&q=chargeback#m\d+$"))
    focus = page.locator("article.message.focus")
    expect(focus).to_contain_text("order 5")
    expect(focus.locator("details.long-message")).to_have_attribute("open", "")
    mark = focus.locator("mark")
    expect(mark).to_have_text("chargeback")
    expect(mark).to_be_in_viewport()
    hits = page.get_by_test_id("thread-hits")
    expect(hits).to_contain_text("hit 1 of 3 in this thread")
    expect(hits.get_by_role("link", name="Previous hit")).to_have_count(0)
    screenshot("thread-at-search-hit")
    page.set_viewport_size({"width": 360, "height": 800})
    page.reload()  # opened on a phone
    expect(page.locator("article.message.focus mark")).to_be_in_viewport()
    page.screenshot(path=screenshot("thread-at-search-hit-phone").with_name("thread-at-search-hit-phone-view.png"))
    page.set_viewport_size({"width": 1280, "height": 800})

    # Each step follows the link from the keyboard, as a user tabbing to it would: a mouse click that lands while
    # the page still scrolls to the hit (thread.js, then the browser's own #fragment) can hit the text under the link.
    def step(name: str) -> None:
        link = page.get_by_test_id("thread-hits").get_by_role("link", name=name)
        href = link.get_attribute("href")
        link.focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(re.escape(href.split("#")[0]) + r"(#m\d+)?$"))

    step("Next hit")
    expect(page.locator("article.message.focus")).to_contain_text("order 15")
    expect(page.get_by_test_id("hit-position")).to_have_text("2")
    expect(page.locator("article.message.focus mark")).to_be_in_viewport()
    step("Next hit")
    expect(page.get_by_test_id("hit-position")).to_have_text("3")
    expect(page.get_by_test_id("thread-hits").get_by_role("link", name="Next hit")).to_have_count(0)
    step("Previous hit")
    expect(page.get_by_test_id("hit-position")).to_have_text("2")
    # Every hit shown is expanded and marked; a message without the word stays as it was.
    expect(page.locator("article[data-hit] details[open] mark")).to_have_count(3)
    expect(page.locator("article:not([data-hit]) mark")).to_have_count(0)
    assert console_errors == []


def test_after_sign_out_back_shows_the_sign_in_page_not_the_last_persons_search(page, support_at, chat, console_errors):
    """The next person at the screen presses Back after support signed out: the browser kept no copy of the search
    (htmx's history cache is off, pages are no-store), so the server is asked and answers with the sign-in page."""
    support_at("/conversations/")
    page.get_by_label("Search messages").fill("invoice")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=invoice"))
    expect(page.locator("a.hit")).to_have_count(3)
    page.locator("form[action$='/accounts/logout/']").evaluate("form => form.submit()")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert page.evaluate("Object.keys(sessionStorage)") == []
    page.go_back()
    expect(page.get_by_label("Username")).to_be_visible()
    expect(page.locator("a.hit")).to_have_count(0)
    assert "invoice" not in page.locator("body").inner_text().lower()
    assert [error for error in console_errors if "HTTP" not in error] == []


@pytest.fixture
def unbroken(transactional_db):
    """A user whose name is 200 characters without a space, a 250-character title, and a message holding a 50,000
    character word under 300 combining marks: text as users and models write it, with nowhere to break."""
    cache.clear()
    user = ChatUser.objects.create(external_id="acct-" + "9" * 120, display_name="N" * 200)
    thread = Conversation.objects.create(user=user, title="T" * 250, created_at=T0, updated_at=T0)
    copy_messages([(thread.pk, user.pk, "user", "wombat " + "W" * 50_000 + "e" + "\u0301" * 300, 9, T0)])
    return thread


def test_text_with_nowhere_to_break_widens_no_page(page, support_at, unbroken, screenshot):
    """Every page about it fits the window, at 360 px and at 1280 px: the thread, the lists and the user's page; on a
    desktop the conversations list keeps its last column in view."""
    pages = (
        f"/conversations/{unbroken.pk}/",
        "/conversations/",
        "/conversations/?q=wombat",
        "/users/",
        f"/users/{unbroken.user_id}/",
    )
    support_at(pages[0], PHONE)
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        for url in pages:
            page.goto(url)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= size["width"], (url, size, width)
        if size is DESKTOP:
            page.goto("/conversations/")
            header = page.locator("th", has_text="Last activity").bounding_box()
            assert header is not None and header["x"] + header["width"] <= DESKTOP["width"]
            screenshot("unbroken-text-desktop")
