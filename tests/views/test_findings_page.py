"""The findings page: every health finding, filtered by severity, code, subject, whose table and table name."""

from __future__ import annotations

import re

import pytest

from schemaadmin.services.index_health import CODES
from schemaadmin.services.index_health.scope import Scope, table_scope
from tests.planting import plant_findings

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def operator(client_as):
    return client_as("operator")


@pytest.fixture
def planted(plant):
    return plant_findings(plant)


def rows(page: str) -> list[tuple[str, str, str]]:
    """Return (code, severity, object) of every row of the findings table."""
    return re.findall(r'<tr [^>]*data-code="([^"]+)" data-severity="([^"]+)" data-object="([^"]+)"', page)


def total(page: str) -> int:
    return int(re.search(r'data-testid="findings-total">(\d+)<', page).group(1))


def test_lists_every_finding_and_filters_by_severity_code_and_table(planted, operator):
    s = planted.schema
    everything = operator.get("/findings/", {"per_page": 200}).content.decode()
    assert (("invalid_index", "critical", f"{s}.docs_x_uniq")) in rows(everything)
    assert ("duplicate_index", "warning", f"{s}.docs_x_b") in rows(everything)
    assert len(rows(everything)) == total(everything)

    critical = operator.get("/findings/", {"severity": "critical", "per_page": 200}).content.decode()
    assert {severity for _, severity, _ in rows(critical)} == {"critical"}
    assert ("invalid_index", "critical", f"{s}.docs_x_uniq") in rows(critical)

    mine = operator.get("/findings/", {"table": f"{s}.docs", "code": "duplicate_index"}).content.decode()
    assert rows(mine) == [("duplicate_index", "warning", f"{s}.docs_x_b")]
    assert total(mine) == 1
    assert f'href="/indexes/{s}.docs_x_b/"' in mine and f'href="/tables/{s}.docs/"' in mine

    tables_only = operator.get("/findings/", {"table": f"{s}.docs", "about": "table"}).content.decode()
    assert ("vector_column_unindexed", "warning", f"{s}.docs.embedding") in rows(tables_only)
    assert all(code != "duplicate_index" for code, _, _ in rows(tables_only))


def test_the_code_filter_offers_every_registered_code(operator, db):
    page = operator.get("/findings/").content.decode()
    for code in CODES:
        assert f'<option value="{code}">' in page


def test_scope_separates_product_framework_and_other_tables(planted, operator):
    assert table_scope("public", "conversation_messages") is Scope.PRODUCT
    assert table_scope("public", "auth_user_groups") is Scope.FRAMEWORK
    assert table_scope("public", "procrastinate_jobs") is Scope.FRAMEWORK
    assert table_scope("public", "schemaadmin_indexrebuild") is Scope.FRAMEWORK
    assert table_scope(planted.schema, "docs") is Scope.OTHER
    other = operator.get("/findings/", {"scope": "other", "per_page": 200}).content.decode()
    assert any(obj.startswith(planted.schema) for _, _, obj in rows(other))
    product = operator.get("/findings/", {"scope": "product", "per_page": 200}).content.decode()
    assert not any(obj.startswith(planted.schema) for _, _, obj in rows(product))


def test_htmx_gets_the_table_and_bad_filters_are_400(planted, operator):
    partial = operator.get("/findings/", {"severity": "warning"}, **HTMX)
    assert partial.status_code == 200
    assert partial.content.decode().lstrip().startswith('<div id="finding-table"')
    bad = operator.get("/findings/", {"severity": "dire", "code": "no_such_code"})
    assert bad.status_code == 400
    assert "These filters cannot be applied" in bad.content.decode()


def test_every_count_on_overview_indexes_and_tables_agrees_with_the_list_it_links_to(planted, client_as):
    operator = client_as("operator")
    for source in ("/", "/indexes/", "/tables/"):
        page = operator.get(source).content.decode()
        links = re.findall(r'href="(/findings/\?[^"]+)"[^>]*data-testid="findings-link-(\w+)"', page)
        assert len(links) == 3, (source, links)
        for href, severity in links:
            count = _count_near(page, severity)
            listed = operator.get(href.replace("&amp;", "&") + "&per_page=200").content.decode()
            assert total(listed) == count == len(rows(listed)), (source, severity, href)
            assert {s for _, s, _ in rows(listed)} <= {severity}


def _count_near(page: str, severity: str) -> int:
    """Return the number the link of severity shows (the overview's card, or a counted badge)."""
    start = page.index(f'data-testid="findings-link-{severity}"')
    return int(re.search(r">\s*(\d+)[ <]", page[start:]).group(1))
