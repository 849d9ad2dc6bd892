"""Times in the viewer's zone: a person in India reads 24-hour times in GMT+5:30 with the zone named, the exact UTC
instant on hover, and a job log's lines under a heading that names the zone (issue 15, item 5)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

AT = datetime(2026, 12, 4, 3, 21, 42, tzinfo=UTC)  # 08:51:42 in India (UTC+5:30)


def test_times_read_in_the_viewers_zone_with_utc_on_hover(browser, live_server, transactional_db, roles, role_user):
    from schemaadmin.models import AuditEvent, IndexRebuild

    AuditEvent.objects.create(action="explain.run", target="explain:1")
    AuditEvent.objects.filter(action="explain.run").update(at=AT)
    rebuild = IndexRebuild.objects.create(
        index_name="idx_zone", state="succeeded", started_at=AT, finished_at=AT, log="2026-12-04T03:21:42Z started\n"
    )
    overnight = IndexRebuild.objects.create(
        index_name="idx_overnight",
        state="succeeded",
        started_at=datetime(2026, 12, 4, 18, 0, tzinfo=UTC),  # 23:30 in India
        finished_at=datetime(2026, 12, 4, 18, 40, tzinfo=UTC),  # 00:10 the next day there
    )
    role_user("dba", "dora")
    context = browser.new_context(base_url=live_server.url, timezone_id="Asia/Kolkata", locale="en-GB")
    try:
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill("dora")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto("/audit/?action=explain.run")
        when = page.locator('main time[datetime="2026-12-04T03:21:42Z"]').first
        expect(when).to_have_text("2026-12-04 08:51:42 GMT+5:30")  # the audit log shows seconds
        expect(when).to_have_attribute("title", "2026-12-04 03:21:42 UTC")

        page.goto(f"/rebuilds/{rebuild.pk}/")
        log = page.locator(".job-log")
        expect(log.locator("time").first).to_have_text("08:51:42")
        expect(page.locator("[data-local-zone]").first).to_have_text("GMT+5:30")
        expect(page.get_by_test_id("timing").locator("time").nth(1)).to_have_text("08:51:42 GMT+5:30")  # same day

        # Started before midnight in India, finished after: the finish names its day (same day in UTC).
        page.goto(f"/rebuilds/{overnight.pk}/")
        finished = page.get_by_test_id("timing").locator("time").nth(1)
        expect(finished).to_have_text("2026-12-05 00:10:00 GMT+5:30")
    finally:
        context.close()
