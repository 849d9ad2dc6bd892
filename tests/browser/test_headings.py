"""Every page type's heading and breadcrumb on a phone: a long name wraps after "." or "_", never inside a word."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from schemaadmin.models import ChatUser, Conversation, ExplainRun, IndexRebuild, QueryText, RecallCheck
from tests.browser.wrapping import cut_words
from tests.planting import planter  # noqa: F401 -- the fixture

pytestmark = pytest.mark.browser

TABLE = "conversation_archive_documents"
INDEX = "conversation_archive_documents_created_at_idx"
# The longest of SchemaAdmin's own migrations: "schemaadmin.0003_conversation_counts_and_sort_indexes".
MIGRATION = "0003_conversation_counts_and_sort_indexes"
# What the pages' headings and breadcrumbs (a <nav> of links, or a .breadcrumb list) are written in.
HEADINGS = "main h1, main h2, main nav"


@pytest.fixture
def pages(planter) -> dict[str, str]:  # noqa: F811
    """Plant a table and an index with long names and the records each page type shows; return its URL by type."""
    s = planter.schema
    planter.table(TABLE, "id int PRIMARY KEY, created_at timestamptz", rows=10, fill="i, now()")
    planter.sql(f"CREATE INDEX {INDEX} ON {s}.{TABLE} (created_at)")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    user = ChatUser.objects.create(
        external_id="acct_customer_support_escalations", display_name="Customer support escalations, second line"
    )
    conversation = Conversation.objects.create(
        user=user, title="Refund for a duplicated invoice_reminder_notification", created_at=now, updated_at=now
    )
    rebuild = IndexRebuild.objects.create(schema_name=s, index_name=INDEX, table_name=TABLE, state="failed")
    check = RecallCheck.objects.create(schema_name=s, index_name=INDEX, state="failed")
    run = ExplainRun.objects.create(sql="SELECT 1", outcome="refused")
    query = QueryText.objects.create(queryid=-8473629105837261543, query="SELECT $1", first_seen=now)
    return {
        "index": f"/indexes/{s}.{INDEX}/",
        "table": f"/tables/{s}.{TABLE}/",
        "rebuild": f"/rebuilds/{rebuild.pk}/",
        "rebuild-review": f"/rebuilds/new?review=1&kind=reindex&index={s}.{INDEX}",
        "recall": f"/recall/{check.pk}/",
        "query": f"/queries/{query.pk}/",
        "explain-run": f"/explain/{run.pk}/",
        "conversation": f"/conversations/{conversation.pk}/",
        "user": f"/users/{user.pk}/",
        "migration": f"/schema/migrations/schemaadmin/{MIGRATION}/",
    }


def test_headings_and_breadcrumbs_wrap_between_words(pages, page, role_user, sign_in, console_errors, screenshot):
    """The headings wrapped anywhere: at 360 px an index's read "docs_creat|ed", a migration's was cut as well."""
    role_user("superuser", "sue")
    sign_in("sue")
    problems = []
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_function("(width) => window.innerWidth === width", arg=width)
        for kind, url in pages.items():
            page.goto(url)
            expect(page.locator("main h1")).to_be_visible()
            if cut := cut_words(page, HEADINGS):
                problems.append(f"{kind} at {width} px: {cut}")
            if not page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"):
                problems.append(f"{kind} at {width} px scrolls sideways")
            if width == 360:
                screenshot(f"heading-{kind}-phone")
    assert problems == [], "\n".join(problems)
    assert console_errors == []
