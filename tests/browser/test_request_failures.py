"""An htmx request the server refuses (403, 404) is said above the region it was for, not left silent."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from schemaadmin.models import ChatUser, Conversation
from tests.chat_data import copy_messages
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
PHONE = {"width": 360, "height": 800}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def long_thread(transactional_db) -> Conversation:
    """Return a conversation of 120 messages: it opens at its newest 50 with "Load older messages"."""
    ada = ChatUser.objects.create(external_id="acct-request-failures", display_name="Ada Byron")
    thread = Conversation.objects.create(user=ada, title="Trip planning", created_at=T0, updated_at=T0)
    copy_messages(
        (thread.pk, ada.pk, ("user", "assistant")[k % 2], f"Step {k}: trains or flights?", 8, T0 + timedelta(minutes=k))
        for k in range(120)
    )
    return thread


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_load_older_in_a_deleted_conversation_says_it_no_longer_exists(
    page, role_user, sign_in, long_thread, console_errors, screenshot, size
):
    page.set_viewport_size(size)
    role_user("support", "sam")
    page.goto(f"/conversations/{long_thread.pk}/")
    sign_in("sam")
    expect(page.locator("article.message")).to_have_count(50)
    # Someone deletes the conversation while the thread is open.
    Conversation.objects.filter(pk=long_thread.pk).delete()

    page.get_by_role("link", name="Load older messages").press("Enter")
    said = page.locator("#thread [role=alert]")
    expect(said).to_be_visible()
    expect(said).to_contain_text("“Load older messages” did not work")
    expect(said).to_contain_text("This no longer exists")
    expect(said).to_be_in_viewport()
    # Above the control that asked, which stays to be tried again, and inside the screen's width.
    expect(said.locator("+ a.load-older")).to_be_visible()
    box = said.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size["width"], box
    # The whole thread is screens long: the window, where the alert is, is what is worth looking at.
    name = "request-failed-thread-" + ("phone" if size is PHONE else "desktop")
    page.screenshot(path=screenshot(name).with_name(f"{name}-view.png"))
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("() => document.documentElement.dataset.bsTheme === 'dark'")
    page.screenshot(path=screenshot(name + "-dark").with_name(f"{name}-dark-view.png"))
    # Dismissed, it goes.
    said.get_by_role("button", name="Dismiss").click()
    expect(said).to_have_count(0)
    assert [error for error in console_errors if "404" not in error] == []


def test_explain_after_the_session_changed_says_so_and_marks_the_last_result_stale(
    page, role_user, sign_in, console_errors, screenshot
):
    role_user("dba", "dana")
    page.goto("/explain/")
    sign_in("dana")
    page.get_by_test_id("sql-editor").locator(".cm-content").click()
    page.keyboard.type("SELECT 1 AS one")
    page.keyboard.press("Escape")  # the completion list it opened
    page.get_by_role("button", name="Explain").click()
    result = page.locator("#result")
    expect(page.get_by_test_id("explain-run")).to_contain_text("Completed")

    # Signing in again in another tab rotates the CSRF token this page still sends.
    other = page.context.new_page()
    other.goto("/accounts/login/")
    other.get_by_label("Username").fill("dana")
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_role("button", name="Sign in").click()
    expect(other.get_by_role("heading", name=re.compile("Overview|SchemaAdmin", re.IGNORECASE)).first).to_be_visible()
    other.close()

    page.get_by_role("button", name="Explain").click()
    said = page.locator("main [role=alert]").filter(has_text="did not work")
    expect(said).to_contain_text("“Explain” did not work")
    expect(said).to_contain_text("your session changed")
    expect(said).to_contain_text("What is shown below is from an earlier request")
    expect(said.locator("+ #result")).to_have_count(1)  # right above the result it is about
    expect(result).to_have_attribute("data-stale", "")
    screenshot("request-failed-explain")
    assert [error for error in console_errors if "403" not in error] == []
