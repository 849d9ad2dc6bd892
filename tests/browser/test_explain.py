"""The EXPLAIN console in Chromium: a preset filled with real ids, run with ANALYZE, drawn by PEV2."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from schemaadmin.models import ChatUser, Conversation, ExplainRun, Message

pytestmark = pytest.mark.browser


def test_dba_runs_a_preset_and_sees_summary_and_plan(page, role_user, sign_in, console_errors, screenshot):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    user = ChatUser.objects.create(external_id="acct-explain-browser")
    conversation = Conversation.objects.create(user=user, created_at=start, updated_at=start, last_message_at=start)
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            user=user,
            role="user" if i % 2 else "assistant",
            content=f"message {i} about the index",
            created_at=start + timedelta(minutes=i),
        )
        for i in range(120)
    )
    role_user("dba", "dana")
    page.goto("/explain/")
    sign_in("dana")
    expect(page).to_have_url(re.compile(r"/explain/$"))
    expect(page.get_by_role("heading", name="EXPLAIN")).to_be_visible()

    page.get_by_role("link", name="A thread page").click()
    editor = page.get_by_role("textbox", name="Query")
    expect(editor).to_have_value(re.compile(rf"WHERE m\.conversation_id = {conversation.pk}\n"))
    page.get_by_label("ANALYZE (runs the query)").check()
    page.get_by_role("button", name="Explain").click()

    summary = page.get_by_test_id("explain-summary")
    expect(summary).to_contain_text("Execution time")
    expect(summary).to_contain_text("Slowest nodes")
    plan = page.get_by_test_id("pev2")
    expect(plan.locator(".plan-node").first).to_be_visible()
    expect(plan).to_contain_text("Limit")
    run = ExplainRun.objects.get()
    assert run.outcome == "ok" and run.options["ANALYZE"] is True
    expect(page.get_by_test_id("explain-run")).to_contain_text(f"Run #{run.pk}")
    expect(page.locator("#history")).to_contain_text(f"#{run.pk}")
    screenshot("explain")

    # The same query again, then both runs side by side.
    page.get_by_role("link", name="A user's latest conversations").click()
    page.get_by_role("button", name="Explain").click()
    expect(page.locator("#history li")).to_have_count(2)
    second = ExplainRun.objects.latest("pk")
    page.get_by_label(f"Before: run {run.pk}").check()
    page.get_by_label(f"After: run {second.pk}").check()
    page.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(re.compile(rf"/explain/compare/\?(b={second.pk}&a={run.pk}|a={run.pk}&b={second.pk})$"))
    expect(page.get_by_test_id("compare-figures")).to_contain_text("Execution time (ms)")
    expect(page.get_by_test_id("compare-shape").locator("[data-differs]").first).to_be_visible()
    screenshot("explain-compare")

    # Another DBA's runs: not in one's own history, listed with who ran them when asked for everyone's.
    other = role_user("dba", "omar")
    ExplainRun.objects.create(user=other, sql="SELECT 'omar'", outcome="ok", options={"timeout_ms": 100})
    page.goto("/explain/")
    expect(page.locator("#history")).not_to_contain_text("by omar")
    page.get_by_role("link", name="All DBAs' runs").click()
    expect(page.locator("#history")).to_contain_text("by omar")
    expect(page.locator("#history")).to_contain_text("by dana")
    assert console_errors == []
