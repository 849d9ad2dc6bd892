"""The shell of every page, in Chromium: every page each role can open fits a 360 px phone, and axe-core finds no
serious or critical violation at 360 and 1440 px, in the light and the dark scheme.

One walk over the pages (the URLs of tests/views/test_access.py's MATRIX, so new pages are walked as soon as they
have a row there) rather than a test per page: each live-server test costs a database flush.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.browser.conftest import _REPORT_CSP_VIOLATIONS
from tests.conftest import PASSWORD
from tests.views.test_access import MATRIX, ROLES
from tests.views.test_access import objects as objects  # the fixture filling the URLs' placeholders

pytestmark = pytest.mark.browser

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1440, "height": 900}
# Not SchemaAdmin's own pages: Django's admin and login, downloads, redirects and probes.
NOT_PAGES = re.compile(r"^/(admin/|accounts/|healthz|favicon)|\.(json|md)$")
FAILING_IMPACTS = ("serious", "critical")
# Every rule at 360 px light and 1440 px dark; the scheme- and layout-dependent ones at the other two corners
# (the rest give the same answers there, and a full run per corner would double the walk).
SCHEME_RULES = ["color-contrast", "scrollable-region-focusable", "target-size"]
VARIANTS = (
    (PHONE, "light", None),
    (PHONE, "dark", SCHEME_RULES),
    (DESKTOP, "dark", None),
    (DESKTOP, "light", SCHEME_RULES),
)


def pages_for(role: str, filled: dict[str, str]) -> list[str]:
    """Return the HTML pages role may open (200 in the access matrix), placeholders filled."""
    column = ROLES.index(role) + 1
    return [url.format(**filled) for url, codes in MATRIX.items() if codes[column] == 200 and not NOT_PAGES.search(url)]


@pytest.fixture
def role_page(browser, live_server, transactional_db, roles, settings) -> Iterator:
    """Return open(role): a new browser context signed in as a new user of that role, and close them at the end."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    contexts = []

    def open_as(role_user, role: str) -> tuple[Page, list[str]]:
        user = role_user(role, f"{role}-walker")
        context = browser.new_context(base_url=live_server.url, viewport=PHONE)
        context.set_default_timeout(15_000)
        context.add_init_script(_REPORT_CSP_VIOLATIONS)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"{page.url}: uncaught {e}"))
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        return page, errors

    yield open_as
    for context in contexts:
        context.close()


def overflow(page: Page) -> str | None:
    """Return what sticks out when the page is wider than the window, else None."""
    return page.evaluate(
        """() => {
          const width = window.innerWidth;
          if (document.documentElement.scrollWidth <= width) return null;
          const wide = Array.from(document.querySelectorAll("body *"))
            .filter((el) => el.getBoundingClientRect().right > width + 1)
            .filter((el) => !el.closest(".table-responsive, pre, .pev2-host, .collapse:not(.show)"))
            .slice(0, 3)
            .map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + el.className);
          return `${document.documentElement.scrollWidth}px wide: ${wide.join(", ")}`;
        }"""
    )


def axe_violations(page: Page, rules: list[str] | None = None) -> list[str]:
    """Return the serious and critical axe-core violations on the page as it is now (all rules, or these)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    options = {"resultTypes": ["violations"], **({"runOnly": {"type": "rule", "values": rules}} if rules else {})}
    results = page.evaluate("(options) => axe.run(document, options)", options)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(str(n['target']) for n in v['nodes'][:3])}"
        for v in results["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm ci)")
def test_every_page_fits_a_phone_and_passes_axe_for_every_role_and_scheme(role_page, role_user, objects):
    problems: list[str] = []
    console: list[str] = []
    for role in ("support", "operator", "dba", "superuser"):
        page, errors = role_page(role_user, role)
        # Every corner, all rules, for the role that sees every page; for the others every rule at 360 px light and
        # the scheme-dependent ones at 1440 px dark: both widths and both schemes, at half the cost.
        variants = VARIANTS if role == "superuser" else [(PHONE, "light", None), (DESKTOP, "dark", SCHEME_RULES)]
        for url in pages_for(role, objects):
            page.set_viewport_size(PHONE)
            page.emulate_media(color_scheme="light", reduced_motion="reduce")
            response = page.goto(url)
            assert response is not None and response.ok, (role, url, response and response.status)
            page.wait_for_load_state("load")
            if (wide := overflow(page)) is not None:
                problems.append(f"{role} {url} at 360 px: {wide}")
            for viewport, scheme, rules in variants:
                page.set_viewport_size(viewport)
                page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
                try:
                    page.wait_for_function("(s) => document.documentElement.dataset.bsTheme === s", arg=scheme)
                except PlaywrightError:
                    problems.append(f"{role} {url}: the page does not follow the {scheme} scheme")
                    continue
                found = axe_violations(page, rules)
                problems.extend(f"{role} {url} {viewport['width']} px {scheme}: {v}" for v in found)
        console.extend(f"{role} {e}" for e in errors)
    assert problems == [], "\n".join(problems)
    assert console == [], "\n".join(console)


def test_phone_navigation_collapses_and_opens(page, role_user, sign_in, console_errors):
    role_user("superuser", "dee")
    page.set_viewport_size(PHONE)
    sign_in("dee")
    menu = page.locator("#main-menu")
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_hidden()
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(menu.get_by_role("link", name="Rebuilds")).to_be_visible()
    menu.get_by_text("More").click()
    expect(menu.get_by_role("link", name="Audit")).to_be_visible()
    menu.get_by_text("Account: dee").click()  # opening one menu closes the other
    expect(menu.get_by_role("link", name="Audit")).to_be_hidden()
    expect(sign_out).to_be_visible()
    expect(page.get_by_test_id("database-label")).to_contain_text("PostgreSQL")
    # Every link and button sits inside the dark bar, none falls outside it.
    bar = page.get_by_role("navigation", name="Main").bounding_box()
    for control in [*menu.get_by_role("link").all(), *menu.get_by_role("button").all()]:
        if not control.is_visible():
            continue
        box = control.bounding_box()
        assert box["y"] + box["height"] <= bar["y"] + bar["height"] + 1
        assert box["x"] + box["width"] <= PHONE["width"]
    assert console_errors == []


@pytest.mark.parametrize("width", [1200, 1440])
def test_the_bar_keeps_one_row_at_desktop_widths(page, role_user, sign_in, console_errors, width):
    role_user("superuser", "a-long-username-of-a-superuser")  # every page in the menu, a long name
    page.set_viewport_size({"width": width, "height": 900})
    sign_in("a-long-username-of-a-superuser")
    bar = page.get_by_role("navigation", name="Main")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    controls = [*bar.get_by_role("link").all(), bar.locator("summary").first, bar.locator("summary").last]
    controls = [c for c in controls if c.is_visible()]
    tops = {round(c.bounding_box()["y"]) for c in controls}
    assert max(tops) - min(tops) <= 12, f"the bar wraps at {width} px: rows at {sorted(tops)}"
    outside = [c.inner_text() for c in controls if c.bounding_box()["x"] + c.bounding_box()["width"] > width]
    assert outside == [], f"outside the window at {width} px"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # The less used pages wait under "More", and open from there.
    more = bar.locator("summary", has_text="More")
    more.click()
    bar.get_by_role("link", name="Audit").click()
    expect(page).to_have_url(re.compile(r"/audit/$"))
    expect(page.get_by_role("navigation", name="Main").locator("summary", has_text="More")).to_have_class(
        re.compile(r"\bactive\b")
    )
    assert console_errors == []


def test_scheme_toggle_and_keyboard_shortcuts(page, role_user, sign_in, console_errors):
    role_user("dba", "dee")
    page.emulate_media(color_scheme="light")
    sign_in("dee")
    html = page.locator("html")
    expect(html).to_have_attribute("data-bs-theme", "light")
    page.emulate_media(color_scheme="dark")  # follows the system while the choice is "auto"
    expect(html).to_have_attribute("data-bs-theme", "dark")
    toggle = page.get_by_role("button", name=re.compile("Colour scheme"))
    toggle.click()  # auto → light, remembered
    expect(html).to_have_attribute("data-bs-theme", "light")
    page.reload()
    expect(html).to_have_attribute("data-bs-theme", "light")
    toggle.click()  # light → dark
    expect(html).to_have_attribute("data-bs-theme", "dark")
    toggle.click()  # dark → auto: the system says dark
    page.emulate_media(color_scheme="light")
    expect(html).to_have_attribute("data-bs-theme", "light")

    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Rebuilds")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("g")
    page.keyboard.press("r")
    expect(page).to_have_url(re.compile(r"/rebuilds/$"))
    page.wait_for_load_state("load")  # the new page's shortcuts listen once its scripts have run
    page.keyboard.press("/")  # a page without a search: its filter field (it went to the conversation search)
    expect(page.get_by_test_id("rebuild-filter").get_by_label("Index")).to_be_focused()
    page.locator("main h1").first.click()  # out of the field, so the next keys are shortcuts again
    page.keyboard.press("g")
    page.keyboard.press("c")
    expect(page).to_have_url(re.compile(r"/conversations/$"))
    page.wait_for_load_state("load")
    page.keyboard.press("/")
    expect(page.locator("main input[name=q]")).to_be_focused()
    # A page whose filters are only choices (the migrations' App and Show): "/" focuses the first, and stays.
    page.goto("/schema/")
    page.keyboard.press("/")
    expect(page).to_have_url(re.compile(r"/schema/$"))
    expect(page.locator("main form select").first).to_be_focused()
    # A page with no search and no filters: "/" opens the conversation search with its field focused.
    page.goto("/")
    page.keyboard.press("/")
    expect(page).to_have_url(re.compile(r"/conversations/#search$"))
    expect(page.locator("main input[name=q]")).to_be_focused()
    assert console_errors == []


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm ci)")
def test_an_explain_result_with_its_plan_fits_a_phone_and_passes_axe(page, role_user, sign_in, console_errors):
    """The console after the kNN preset ran (a real plan drawn by PEV2, the planner's choice beside the index plan),
    then the run's own page: 360 px wide at most, no serious or critical axe violation, light and dark."""
    from schemaadmin.models import ExplainRun, KnowledgeBaseChunk, KnowledgeBaseDocument

    document = KnowledgeBaseDocument.objects.create(title="Guide", content_hash="axe-explain")
    KnowledgeBaseChunk.objects.bulk_create(
        KnowledgeBaseChunk(document=document, chunk_index=i, content=f"chunk {i}", embedding=[i / 10] * 3072)
        for i in range(1, 21)
    )
    role_user("dba", "dee")
    sign_in("dee")
    page.goto("/explain/")
    page.get_by_role("link", name="kNN over knowledge-base chunks").click()
    page.get_by_label("ANALYZE (runs the query)").check()
    page.get_by_role("button", name="Explain").click()
    expect(page.get_by_test_id("pev2").locator(".plan-node").first).to_be_visible()
    run = ExplainRun.objects.filter(options__has_key="compared_with").latest("pk")  # the first of the two plans
    problems: list[str] = []
    for where in ("the console", f"/explain/{run.pk}/"):
        if where != "the console":
            page.goto(where)
            expect(page.get_by_test_id("pev2").locator(".plan-node").first).to_be_visible()
        for viewport, scheme, rules in VARIANTS:
            page.set_viewport_size(viewport)
            page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
            page.wait_for_function("(s) => document.documentElement.dataset.bsTheme === s", arg=scheme)
            if viewport == PHONE and (wide := overflow(page)) is not None:
                problems.append(f"{where} at 360 px {scheme}: {wide}")
            found = axe_violations(page, rules)
            problems.extend(f"{where} {viewport['width']} px {scheme}: {v}" for v in found)
    assert problems == [], "\n".join(problems)
    assert console_errors == []


def test_a_message_quoting_a_long_name_someone_typed_wraps_on_a_phone(role_page, role_user):
    page, errors = role_page(role_user, "dba")
    name = "x" * 190
    for typed, review in ((name, ""), (f"public.{name}", "&review=1")):
        page.goto(f"/rebuilds/new?index={typed}{review}")
        expect(page.locator("main")).to_contain_text(f"There is no index {typed}")
        assert overflow(page) is None, typed
    assert [e for e in errors if "400" not in e] == []


def test_a_refused_form_gives_its_first_invalid_field_the_focus_but_a_list_filter_does_not(role_page, role_user):
    """A form sent as a whole page came back refused with the focus at the top of the page: on a phone the sentence
    saying what to fix was a screen below, and a screen reader started from the menu. A list opened from a link with a
    bad filter keeps the focus where it was: its refusal is said above the results, and a phone's keyboard stays down.
    """
    page, errors = role_page(role_user, "dba")
    page.set_viewport_size({"width": 360, "height": 640})
    page.goto("/rebuilds/new?index=public.no_such_index&review=1")
    field = page.get_by_label("Index", exact=True)
    expect(field).to_be_focused()
    expect(field).to_have_accessible_description(re.compile("There is no index public.no_such_index"))
    expect(field).to_be_in_viewport()
    page.goto("/audit/?since=not-a-date")
    expect(page.locator("[aria-invalid=true]").first).to_be_attached()
    assert page.evaluate("document.activeElement === document.body")
    assert [e for e in errors if "400" not in e] == []


def test_a_list_used_after_its_session_ended_goes_to_sign_in_and_back_to_the_list(role_page, role_user):
    """The session expired with the list open: the next search put the whole sign-in page into the results."""
    page, errors = role_page(role_user, "support")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/conversations/?channel=web")
    page.context.clear_cookies()  # signed out, as an expired session is
    page.get_by_label("Search messages").fill("refund")
    page.get_by_label("Search messages").press("Enter")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/conversations/%3Fchannel%3Dweb$"))
    expect(page.locator("#results")).to_have_count(0)  # a sign-in page, not a list with one inside it
    assert [e for e in errors if "401" not in e] == []
