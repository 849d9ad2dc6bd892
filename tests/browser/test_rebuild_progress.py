"""A DBA rebuilds a vector index from its page in Chromium and watches the live progress bar reach 100%."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from schemaadmin.models import ACTIVE_STATES, IndexRebuild, JobState, RecallCheck
from tests.planting import planter  # noqa: F401 -- the fixture
from tests.worker import wait_for, worker  # noqa: F401 -- the fixture

pytestmark = pytest.mark.browser

# Enough rows of small vectors that an HNSW build lasts several seconds here, so the bar is seen moving.
ROWS = 40_000
ENDED = [state for state in JobState.values if state not in ACTIVE_STATES]
DIMENSIONS = 32


@pytest.fixture
def ivfflat_index(planter, transactional_db):  # noqa: F811 -- the imported fixture
    """A committed table of random vectors with a quick-to-build IVFFlat index, analyzed."""
    s = planter.schema
    vector = ", ".join(["random()"] * DIMENSIONS)
    planter.table(
        "chunks", f"id int PRIMARY KEY, embedding vector({DIMENSIONS})", rows=ROWS, fill=f"i, ARRAY[{vector}]"
    )
    planter.sql(
        f"CREATE INDEX chunks_embedding ON {s}.chunks USING ivfflat (embedding vector_cosine_ops) WITH (lists = 20)"
    )
    planter.sql(f"ANALYZE {s}.chunks")
    return f"{s}.chunks_embedding"


def test_the_rebuild_form_shows_the_options_of_the_method_it_would_build(planter, page, role_user, sign_in):  # noqa: F811
    s = planter.schema
    planter.table("small", "id int PRIMARY KEY, embedding vector(3)", rows=50, fill="i, ARRAY[i, 1, 1]::vector(3)")
    planter.sql(f"CREATE INDEX small_ivf ON {s}.small USING ivfflat (embedding vector_l2_ops) WITH (lists = 3)")
    role_user("dba", "dana")
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(f"/rebuilds/new?index={s}.small_ivf")
    sign_in("dana")
    m, ef, lists = (page.get_by_label(name, exact=True) for name in ("m", "ef_construction", "lists"))
    method = page.get_by_label("New method")
    # Kept IVFFlat: its lists, greyed with the value an empty box keeps; HNSW's options would be refused.
    expect(lists).to_be_visible()
    expect(lists).to_have_attribute("placeholder", "now 3")
    expect(m).to_be_hidden()
    expect(ef).to_be_hidden()
    method.select_option("hnsw")
    expect(m).to_be_visible()
    expect(m).to_have_attribute("placeholder", "default 16")
    expect(ef).to_have_attribute("placeholder", "default 64")
    expect(lists).to_be_hidden()
    # A value typed stays in sight whatever the method, so nothing sent is hidden (the review refuses it).
    m.fill("24")
    method.select_option("")
    expect(lists).to_be_visible()
    expect(m).to_be_visible()
    expect(ef).to_be_hidden()


@pytest.mark.usefixtures("worker")
def test_dba_rebuilds_ivfflat_as_hnsw_and_watches_the_bar_reach_100(
    ivfflat_index,
    request,
    page,
    role_user,
    sign_in,
    console_errors,
    screenshot,
):
    role_user("dba", "dana")
    page.goto(f"/indexes/{ivfflat_index}/")
    sign_in("dana")
    page.get_by_role("link", name="Rebuild…").click()
    expect(page).to_have_url(re.compile(r"/rebuilds/new\?index="))
    expect(page.get_by_label("Index", exact=True)).to_have_value(ivfflat_index)

    page.get_by_label("Build a new index concurrently, then swap it in").check()
    page.get_by_label("New method").select_option("hnsw")
    page.get_by_label("ef_construction").fill("64")
    page.get_by_role("button", name="Review plan and estimate").click()
    review = page.get_by_test_id("review")
    expect(review).to_contain_text(f"≈ {ROWS:,} rows")
    expect(review.get_by_test_id("time-estimate")).to_contain_text("not known: no earlier rebuild of this index")
    expect(review.get_by_test_id("sql")).to_contain_text("CREATE INDEX CONCURRENTLY")
    expect(review.get_by_test_id("sql")).to_contain_text(re.compile(r"USING \"?hnsw\"?"))
    page.get_by_label("Type its name to start").fill(ivfflat_index)  # the swap drops the IVFFlat index
    screenshot("rebuild-review")

    page.get_by_role("button", name=f"Start rebuild of {ivfflat_index}").click()
    expect(page).to_have_url(re.compile(r"/rebuilds/\d+/$"))
    rebuild_id = int(re.search(r"/rebuilds/(\d+)/", page.url).group(1))
    state, percent = page.get_by_test_id("state"), page.get_by_test_id("percent")

    # htmx replaces the progress section every 2 s: collect what the bar says while the build runs.
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and state.inner_text() != "Succeeded":
        if state.inner_text() == "Running" and percent.count() and re.fullmatch(r"\d+\.\d%", percent.inner_text()):
            text = percent.inner_text()
            if text != "100.0%" and text not in seen:
                seen.append(text)
                if len(seen) == 2:
                    screenshot("rebuild-running")
        page.wait_for_timeout(250)
    record = IndexRebuild.objects.values("state", "error", "log").get(pk=rebuild_id)
    worker_log = request.getfixturevalue("worker").output()[-2000:]
    assert len(seen) >= 2, f"the bar should move while building; saw {seen}; {record}; {worker_log}"

    expect(state).to_have_text("Succeeded", timeout=5_000)
    expect(percent).to_have_text("100.0%")
    expect(page.locator("progress.build-progress")).to_have_attribute("value", "100.0")
    expect(page.get_by_test_id("phase")).to_have_text("done")
    expect(page.get_by_test_id("log")).to_contain_text("ALTER INDEX")
    # The page keeps polling until the recall check the rebuild queued has its result: wait for that state (the
    # worker may be slow on a busy machine), then for the next poll to find nothing left to watch.
    wait_for(
        lambda: RecallCheck.objects.filter(rebuild_id=rebuild_id, state__in=ENDED).exists(),
        timeout=300,
        what="the recall check that follows the rebuild to end",
    )
    expect(page.get_by_test_id("rebuild-live")).not_to_have_attribute("hx-trigger", re.compile("."), timeout=30_000)
    expect(page.get_by_role("button", name="Cancel rebuild…")).to_have_count(0)
    # Without a reload: the state line says it succeeded (nothing left saying queued), and the recall check that
    # followed is listed with its outcome.
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "succeeded")
    expect(page.get_by_test_id("live-state")).to_contain_text("Recall check")
    expect(page.get_by_text(re.compile("queued", re.IGNORECASE))).to_have_count(0)
    expect(page.get_by_test_id("recall-checks")).to_contain_text(re.compile(r"recall check \d+: (succeeded|failed)"))
    screenshot("rebuild-succeeded")
    page.set_viewport_size({"width": 360, "height": 800})
    screenshot("rebuild-succeeded-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    rebuild = IndexRebuild.objects.get(pk=rebuild_id)
    assert (rebuild.state, rebuild.method, rebuild.kind) == ("succeeded", "hnsw", "replace")
    page.goto(f"/indexes/{ivfflat_index}/")
    expect(page.get_by_test_id("facts")).to_contain_text("hnsw")
    page.get_by_role("link", name="Rebuilds", exact=True).click()
    row = page.get_by_test_id(f"rebuild-{rebuild_id}")
    expect(row).to_contain_text("Succeeded")
    expect(row).to_contain_text("new hnsw m=16 ef_construction=64")
    screenshot("rebuild-list")
    assert console_errors == []


@pytest.mark.usefixtures("worker")
def test_dba_cancels_a_running_rebuild_and_the_old_index_stays(
    ivfflat_index, page, role_user, sign_in, console_errors, screenshot
):
    role_user("dba", "dana")
    page.goto(f"/rebuilds/new?index={ivfflat_index}")
    sign_in("dana")
    page.goto(f"/rebuilds/new?index={ivfflat_index}&kind=replace&method=hnsw&review=1")
    page.get_by_label("Type its name to start").fill(ivfflat_index)
    page.get_by_role("button", name=f"Start rebuild of {ivfflat_index}").click()
    expect(page.get_by_test_id("phase")).to_have_text(re.compile("building index"), timeout=30_000)

    # On a phone the actions come after the log: the state line links to them.
    page.set_viewport_size({"width": 360, "height": 800})
    page.get_by_test_id("to-actions").click()
    expect(page.get_by_text("Cancel rebuild…")).to_be_in_viewport()
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(page.get_by_test_id("to-actions")).to_be_hidden()
    page.get_by_text("Cancel rebuild…").click()  # a <details>: the confirmation works without JavaScript
    screenshot("rebuild-cancel-confirm")
    page.get_by_role("button", name="Yes, cancel the rebuild").click()
    expect(page.get_by_test_id("state")).to_have_text("Cancelled", timeout=30_000)
    expect(page.get_by_test_id("cancelled-by")).to_have_text("cancelled by dana")
    expect(page.get_by_test_id("live-state")).to_contain_text("Cancelled; the old index is untouched.")
    expect(page.get_by_test_id("error")).to_have_count(0)  # its error, "Cancelled by dana.", said nothing more
    expect(page.get_by_role("button", name="Retry this rebuild")).to_be_visible()
    screenshot("rebuild-cancelled")

    page.goto(f"/indexes/{ivfflat_index}/")
    expect(page.get_by_test_id("facts")).to_contain_text("ivfflat")
    expect(page.get_by_test_id("facts")).to_contain_text("yes / yes")  # valid and ready
    assert console_errors == []
