"""Every field's help text is the one its aria-describedby names: screen readers read it with the field."""

from __future__ import annotations

import re

import pytest

from tests.views.refusals import said_once

PAGES = ["/conversations/", "/explain/", "/rebuilds/new", "/queries/", "/indexes/", "/tables/", "/findings/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_each_field_s_description_is_on_the_page(client_as, url):
    page = client_as("dba").get(url).content.decode()
    described = {name for value in re.findall(r'aria-describedby="([^"]+)"', page) for name in value.split()}
    present = set(re.findall(r'\sid="([^"]+)"', page))
    assert described, f"{url} has no described field: the test would prove nothing"
    assert described <= present, f"{url}: aria-describedby names {sorted(described - present)}, which are not there"


# A bound field with errors gets aria-invalid and names <its id>_error in aria-describedby (Django): each page that
# draws its own error messages must give them that id, or the field's error is never read with it.
REFUSED = [
    "/conversations/?active_from=2026-02-30&min_messages=-1",
    "/conversations/?q=invoice&active_from=2026-02-30",
    "/rebuilds/new?index=public.nothing_here&kind=replace&lists=-5&review=1",
    "/schema/tables/?q=" + "x" * 500,
    "/indexes/?per_page=7",
    "/tables/?per_page=7",
    "/findings/?severity=fatal",
    "/queries/?window=7y",
    "/audit/?since=2026-13-01",
    "/users/?q=" + "x" * 500,
    "/rebuilds/?state=lost",
    "/schema/?show=lost",
    "/queries/?start=2030-01-01T00:00",
    "/queries/regressions/?window=7y",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", REFUSED)
def test_each_refused_field_names_its_error_which_is_on_the_page(client_as, url):
    response = client_as("dba").get(url)
    page = response.content.decode()
    invalid = re.findall(r"<(?:input|select|textarea)[^>]*aria-invalid=\"true\"[^>]*>", page)
    assert response.status_code == 400 and invalid, f"{url} refused no field: the test would prove nothing"
    ids = re.findall(r'\sid="([^"]+)"', page)
    repeated = sorted({name for name in ids if ids.count(name) > 1})
    assert not repeated, f"{url}: ids on the page twice: {repeated}"  # aria-describedby would name either
    present = set(ids)
    for field in invalid:
        described = re.search(r'aria-describedby="([^"]+)"', field)
        names = described.group(1).split() if described else []
        assert any(name.endswith("_error") for name in names), field
        assert set(names) <= present, f"{url}: {field} names {sorted(set(names) - present)}, which are not there"


# A refused filter of a list is said once, in the alert where the results would be (includes/filter_errors.html): it
# was said under its field too on a full page. htmx swaps only the results, so that is where both answers say it.
SAID_ONCE = [
    ("/audit/?since=2026-13-01", "Enter a real date as YYYY-MM-DD"),
    ("/users/?q=" + "x" * 500, "at most"),
    ("/queries/?window=7y", "7y is not one of the available choices"),
    ("/queries/regressions/?window=7y", "7y is not one of the available choices"),
    ("/conversations/?q=-def", "no word the messages must contain"),
    ("/conversations/?active_from=2026-02-30", "Enter a real date as YYYY-MM-DD"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "message"), SAID_ONCE)
def test_a_refused_list_filter_is_said_once_where_the_results_would_be(client_as, url, message):
    client = client_as("dba")
    response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 400
    results = page[page.index('<section id="results"') :]
    # The field is marked refused and read with that one message (its aria-describedby names it, in the alert).
    error_id = said_once(page, results[: results.index("</section>")], message)
    # htmx's answer is the results alone, saying it once too, and names the field for schemaadmin.js to mark.
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert partial.count(message) == 1 and f'data-error-id="{error_id}"' in partial
