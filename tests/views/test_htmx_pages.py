"""A URL htmx asks for a partial of: the browser's cache and htmx's history restore each get the right answer."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_a_list_answers_htmx_and_browsers_differently_and_says_so_for_the_browser_cache(client_as):
    """Back after opening a result of a filtered list showed the cached htmx partial, unstyled: Vary: HX-Request."""
    client = client_as("operator")
    page = client.get("/indexes/?problems=on")
    partial = client.get("/indexes/?problems=on", headers={"HX-Request": "true"})
    assert "<nav" in page.content.decode() and "<nav" not in partial.content.decode()
    for response in (page, partial):
        assert "HX-Request" in response["Vary"]
    # htmx restoring its history after a cache miss swaps the answer in as the whole page: it gets the page.
    restored = client.get("/indexes/?problems=on", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<nav" in restored.content.decode()
