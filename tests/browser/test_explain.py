"""The EXPLAIN console in Chromium: a preset filled with real ids, run with ANALYZE, drawn by PEV2."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from schemaadmin.models import ChatUser, Conversation, ExplainRun, KnowledgeBaseChunk, KnowledgeBaseDocument, Message

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
    editor = page.locator("#explain-form textarea[name=sql]")  # the form's field, under the CodeMirror editor
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
    expect(page.get_by_test_id("different-queries")).to_contain_text("two different queries")
    screenshot("explain-compare")
    # On a phone the form wraps: the After field and the Compare button stay on screen.
    page.set_viewport_size({"width": 360, "height": 800})
    page.wait_for_function("() => document.documentElement.scrollWidth <= window.innerWidth")
    expect(page.get_by_role("button", name="Compare")).to_be_in_viewport()
    page.set_viewport_size({"width": 1280, "height": 800})

    # Another DBA's runs: not in one's own history, listed with who ran them when asked for everyone's.
    other = role_user("dba", "omar")
    ExplainRun.objects.create(user=other, sql="SELECT 'omar'", outcome="ok", options={"timeout_ms": 100})
    page.goto("/explain/")
    expect(page.locator("#history")).not_to_contain_text("by omar")
    page.get_by_role("link", name="All DBAs' runs").click()
    expect(page.locator("#history")).to_contain_text("by omar")
    expect(page.locator("#history")).to_contain_text("by dana")
    assert console_errors == []


def test_the_knn_preset_shows_the_planners_choice_beside_the_index_plan(
    page, role_user, sign_in, console_errors, screenshot
):
    document = KnowledgeBaseDocument.objects.create(title="Guide", content_hash="knn-browser")
    KnowledgeBaseChunk.objects.bulk_create(
        KnowledgeBaseChunk(
            document=document,
            chunk_index=i,
            content=f"chunk {i}",
            embedding=[((i * 7 + j) % 11) / 10 for j in range(3072)],
        )
        for i in range(1, 41)
    )
    role_user("dba", "dana")
    page.goto("/explain/")
    sign_in("dana")
    page.get_by_role("link", name="kNN over knowledge-base chunks").click()
    expect(page.get_by_label("Compare with enable_seqscan = off")).to_be_checked()
    page.get_by_label("ANALYZE (runs the query)").check()
    page.get_by_role("button", name="Explain").click()

    choice = page.get_by_test_id("planner-choice")
    expect(choice).to_contain_text("kb_chunks_embedding_hnsw")  # the index plan, from the same rolled-back run
    first, second = ExplainRun.objects.order_by("pk")
    assert second.options["compared_to"] == first.pk and second.options["enable_seqscan"] == "off"
    # The summary never says two opposite things: no all-clear beside a vector ORDER BY that missed its index.
    order = page.get_by_test_id("vector-order")
    expect(order).to_be_visible()
    if "sorted" in order.inner_text():
        expect(page.get_by_test_id("all-clear")).to_have_count(0)
        expect(page.get_by_test_id("choice-sentence")).to_contain_text("planner uses kb_chunks_embedding_hnsw")
        expect(order).not_to_have_class(re.compile("text-danger"))
    else:
        expect(page.get_by_test_id("all-clear")).to_contain_text("used its index")
    screenshot("explain-knn")
    page.set_viewport_size({"width": 360, "height": 800})
    # On a phone the plan's node list and its tree are stacked, each as wide as the viewer, not side by side.
    panes = page.get_by_test_id("pev2").locator(".splitpanes__pane")
    expect(panes.first).to_contain_text("Limit")
    viewer = page.get_by_test_id("pev2").bounding_box()
    for pane in (panes.first, panes.last):
        box = pane.bounding_box()
        assert box is not None and viewer is not None and box["width"] > 0.9 * viewer["width"], (box, viewer)
    screenshot("explain-knn-phone")

    page.get_by_role("link", name="Compare the two plans side by side").click()
    expect(page).to_have_url(re.compile(rf"/explain/compare/\?a={first.pk}&b={second.pk}$"))
    expect(page.get_by_test_id("compare-shape")).to_contain_text("kb_chunks_embedding_hnsw")
    expect(page.get_by_test_id("different-queries")).to_have_count(0)
    expect(page.get_by_test_id("different-settings")).to_contain_text("enable_seqscan = on before, off after")
    assert console_errors == []


def test_the_query_editor_highlights_sql_and_ctrl_enter_runs_it(page, role_user, sign_in, console_errors, screenshot):
    role_user("dba", "dana")
    page.goto("/explain/")
    sign_in("dana")
    editor = page.get_by_test_id("sql-editor")
    expect(editor).to_be_visible()  # CodeMirror 6, from npm, bundled by `npm run build`
    expect(page.locator("#explain-form textarea[name=sql]")).to_be_hidden()
    editor.locator(".cm-content").click()
    page.keyboard.type("SELECT relname FROM pg_class WHERE relkind = 'r' LIMIT 3")
    # Highlighted: the keyword and the string literal are drawn in colours of their own.
    colours = editor.locator(".cm-line span").evaluate_all(
        "spans => Object.fromEntries(spans.map(s => [s.textContent, getComputedStyle(s).color]))"
    )
    plain = editor.locator(".cm-line").first.evaluate("el => getComputedStyle(el).color")
    assert colours.get("SELECT") not in (None, plain) and colours.get("'r'") not in (None, plain), colours
    expect(page.locator("#explain-form textarea[name=sql]")).to_have_value(re.compile(r"^SELECT relname FROM pg_class"))
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("explain-run")).to_contain_text("Completed")
    run = ExplainRun.objects.get()
    assert run.sql.startswith("SELECT relname FROM pg_class")
    # A preset replaces the editor's text, and Meta+Enter (a Mac's Cmd) runs that one.
    page.get_by_role("link", name="Full-text search").click()
    expect(editor).to_contain_text("websearch_to_tsquery")
    editor.locator(".cm-content").click()
    page.keyboard.press("Meta+Enter")
    expect(page.locator("#history li")).to_have_count(2)
    screenshot("explain-editor")
    assert console_errors == []


def test_keys_typed_in_the_query_editor_are_the_querys_not_the_pages_shortcuts(
    page, role_user, sign_in, console_errors
):
    # The editor lives in a shadow root: the page saw its host as the key's target, not something typed in, so "/"
    # in "10/2" opened the conversations, "g" then "e" or "q" opened pages, "?" the help, and the query was lost.
    role_user("dba", "dora")
    page.goto("/explain/")
    sign_in("dora")
    editor = page.get_by_test_id("sql-editor")
    editor.locator(".cm-content").click()
    typed = "SELECT 10/2 AS q, '{}'::jsonb ? 'gq' -- go, ge"
    page.keyboard.type(typed)
    expect(editor.locator(".cm-content")).to_have_text(typed)
    assert page.url.endswith("/explain/") and not page.locator("#shortcut-help[open]").count()
    assert console_errors == []


def test_the_query_editor_follows_the_colour_scheme(page, role_user, sign_in, console_errors, screenshot):
    role_user("dba", "dora")
    page.emulate_media(color_scheme="dark")
    page.goto("/explain/")
    sign_in("dora")
    editor = page.get_by_test_id("sql-editor")
    expect(editor).to_have_attribute("data-scheme", "dark")
    editor.locator(".cm-content").click()
    page.keyboard.type("SELECT 1 -- one")

    def colours() -> dict[str, str]:
        return editor.evaluate(
            """host => {
                const root = host.shadowRoot;
                const style = (el) => getComputedStyle(el);
                const keyword = [...root.querySelectorAll(".cm-line span")].find((s) => s.textContent === "SELECT");
                return {
                    background: style(root.querySelector(".cm-editor")).backgroundColor,
                    text: style(root.querySelector(".cm-line")).color,
                    keyword: keyword ? style(keyword).color : "",
                };
            }"""
        )

    dark = colours()
    assert dark["background"] == "rgb(33, 37, 41)", dark  # the page's own dark background, not a white box
    assert dark["keyword"] not in ("", dark["text"]), dark  # still highlighted
    screenshot("explain-editor-dark")
    # The toggle recolours the editor without a reload, and keeps what was typed.
    page.get_by_role("button", name=re.compile("Colour scheme")).click()  # auto → light
    expect(editor).to_have_attribute("data-scheme", "light")
    light = colours()
    assert light["background"] == "rgb(255, 255, 255)", light
    assert light["keyword"] not in ("", light["text"], dark["keyword"]), light
    expect(editor).to_contain_text("SELECT 1 -- one")
    assert console_errors == []


def test_explain_with_an_empty_editor_says_what_is_missing(page, role_user, sign_in, console_errors, screenshot):
    # The form's field is hidden under the editor: the browser could not show its own "fill in this field".
    role_user("dba", "dana")
    page.goto("/explain/")
    sign_in("dana")
    expect(page.get_by_test_id("sql-editor")).to_be_visible()
    page.locator("#explain-form").get_by_role("button", name="Explain").click()
    expect(page.locator("main")).to_contain_text("Write a query to explain")
    expect(page.get_by_test_id("sql-editor").locator(".cm-content")).to_have_attribute("aria-required", "true")
    screenshot("explain-empty")
    assert [e for e in console_errors if "400" not in e] == []
    assert not ExplainRun.objects.exists()


# A plan past EXPLAIN_DIAGRAM_MAX_NODES (here lowered: a real one of 900 nested nodes held Chromium ~65 s) is not drawn
# as the page opens; the summary is there, and a button draws the diagram when asked.
def test_a_plan_past_the_node_limit_is_drawn_only_when_asked(page, role_user, sign_in, settings, console_errors):
    settings.SCHEMAADMIN = {"EXPLAIN_DIAGRAM_MAX_NODES": 2}
    role_user("dba", "dana")
    page.goto("/explain/?sql=" + "SELECT (SELECT (SELECT (SELECT 1)))")
    sign_in("dana")
    page.locator("#explain-form").get_by_role("button", name="Explain").click()
    expect(page.get_by_test_id("explain-summary")).to_contain_text("Estimated cost")
    draw = page.get_by_role("button", name=re.compile(r"^Draw the diagram \(\d+ nodes, may be slow\)$"))
    expect(draw).to_be_visible()
    diagram = page.get_by_test_id("pev2")
    expect(diagram).to_be_hidden()
    expect(diagram.locator(".plan-node")).to_have_count(0)
    draw.click()
    expect(diagram.locator(".plan-node").first).to_be_visible()
    expect(diagram).to_contain_text("Result")
    expect(draw).to_be_hidden()
    assert console_errors == []
