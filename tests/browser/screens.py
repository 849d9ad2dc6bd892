"""Save the note's screenshots of a running SchemaAdmin: eight views at 1440 px, 360 px and 1440 px dark.

    python -m tests.browser.screens http://127.0.0.1:8000 /tmp/screens/after --user dba --password …

The views are the overview, a thread opened at a search hit (the window as it opens there; the others whole
pages), the EXPLAIN console after its kNN preset ran, the latest finished rebuild, the live schema, live activity
(paused), the top queries and the findings. It only reads
pages and runs the console's preset, so it works against any version of the dashboard with demo data (`make run`),
which is how before/after pictures are taken.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS

VARIANTS = {"desktop": ({"width": 1440, "height": 900}, "light"), "phone": ({"width": 360, "height": 800}, "light")}
VARIANTS["dark"] = ({"width": 1440, "height": 900}, "dark")
SETTLE_MS = 10_000


def sign_in(page: Page, base_url: str, user: str, password: str) -> None:
    """Sign in through the login form."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")


def search_hit_url(page: Page, base_url: str, term: str) -> str | None:
    """Return the first search hit's link (a thread at the matched message), if any."""
    page.goto(f"{base_url}/conversations/?q={term}")
    hit = page.locator("main a.hit, main a[href*='#m']").first
    return hit.get_attribute("href") if hit.count() else None


def finished_rebuild_url(page: Page, base_url: str) -> str | None:
    """Return the newest succeeded rebuild's page, if the list shows one."""
    page.goto(f"{base_url}/rebuilds/")
    for row in page.locator("main tr").all():
        if re.search(r"succeeded", row.inner_text(), re.IGNORECASE):
            link = row.locator("a[href*='/rebuilds/']").first
            if link.count():
                return link.get_attribute("href")
    return None


def run_knn_preset(page: Page, base_url: str) -> None:
    """Open the console's kNN preset and run it, waiting for the plan."""
    page.goto(f"{base_url}/explain/")
    page.locator("a[data-preset*='knn'], a:has-text('kNN')").first.click()
    page.wait_for_load_state("load")
    page.get_by_role("button", name=re.compile(r"^Explain$")).click()
    page.locator("#result .plan-container, #result [data-testid=plan], #result .pev2-host").first.wait_for(
        timeout=60_000
    )


# Resolves once web fonts are in and two frames have been painted since: what the scripts drew is on screen.
PAINTED_JS = """() => document.fonts.ready.then(
    () => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve))))"""


def settle(page: Page) -> None:
    """Wait for the page's requests and scripts (charts, PEV2, the diagram) to finish."""
    try:
        page.wait_for_load_state("networkidle", timeout=SETTLE_MS)
    except PlaywrightTimeout:  # a polling page never goes idle; take it as it is
        pass
    # Charts draw without animation; two animation frames are the browser's own "what was drawn is painted".
    page.evaluate(PAINTED_JS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--user", default="dba")
    parser.add_argument("--password", required=True)
    parser.add_argument("--search", default="refund", help="A word the demo's messages hold (default refund).")
    args = parser.parse_args(argv)
    base = args.base_url.rstrip("/")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for variant, (viewport, scheme) in VARIANTS.items():
            context = browser.new_context(viewport=viewport, color_scheme=scheme, reduced_motion="reduce")
            context.set_default_timeout(30_000)
            page = context.new_page()
            sign_in(page, base, args.user, args.password)
            views: dict[str, str | None] = {
                "overview": "/",
                "thread-at-hit": search_hit_url(page, base, args.search),
                "explain-knn": None,
                "rebuild-finished": finished_rebuild_url(page, base),
                "live-schema": "/schema/tables/",
                "activity": "/activity/?paused=on&all=on",  # paused: it does not change under the camera
                "queries": "/queries/",
                "findings": "/findings/",
            }
            for name, url in views.items():
                if name == "explain-knn":
                    run_knn_preset(page, base)
                elif url is None:
                    print(f"{variant} {name}: nothing to show (no search hit or finished rebuild)", file=sys.stderr)
                    continue
                else:
                    page.goto(url if url.startswith("http") else base + url)
                settle(page)
                path = args.out_dir / f"{name}-{variant}.png"
                # A thread opens scrolled to its hit under the sticky hit bar: the window is what a person sees.
                page.screenshot(path=path, full_page=name != "thread-at-hit")
                saved.append(path)
            context.close()
        browser.close()
    print("\n".join(str(path) for path in saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
