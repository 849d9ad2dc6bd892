"""The health tables write their <tbody> (tbody_html) as django-tables2's own template does, cell for cell."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.test.html import parse_html

from schemaadmin.tables.health import IndexRow, IndexTable, TableRow, TableTable
from tests.services.health_report import report


def _tables2_tbody(table) -> str:
    """Return the <tbody> django-tables2's bootstrap5 template renders for table."""
    request = RequestFactory().get("/indexes/")
    html = Template('{% load django_tables2 %}{% render_table table "django_tables2/bootstrap5.html" %}').render(
        Context({"table": table, "request": request})
    )
    return re.search(r"<tbody.*</tbody>", html, re.S).group(0)


@pytest.fixture
def planted(plant):
    s = plant.schema
    plant.table("docs", "id int PRIMARY KEY, x int, tags int[], small vector(3)", rows=30, fill="i, i % 3, NULL, NULL")
    plant.table("empty", "id int")
    plant.sql(f"CREATE UNIQUE INDEX docs_x_id ON {s}.docs (x, id)")
    plant.sql(f"CREATE INDEX docs_x_a ON {s}.docs (x)")
    plant.sql(f"CREATE INDEX docs_x_b ON {s}.docs (x)")  # a duplicate: findings badges
    plant.sql(f"CREATE INDEX docs_tags ON {s}.docs (tags)")  # a btree over an array
    plant.sql(f"CREATE INDEX docs_small_hnsw ON {s}.docs USING hnsw (small vector_cosine_ops) WITH (m = 24)")
    plant.sql(f"ANALYZE {s}.docs")
    return plant


def test_index_and_table_rows_are_the_same_html_as_django_tables2s(planted):
    result, _ = report(planted)
    s = planted.schema
    by_index, by_table = result.by_index(), result.by_table()
    snapshot = result.snapshot
    index_rows = [IndexRow(i, by_index.get(i.qualified_name, []), snapshot) for i in snapshot.indexes if i.schema == s]
    table_rows = [TableRow(t, by_table.get(t.qualified_name, [])) for t in result.snapshot.tables if t.schema == s]
    assert len(index_rows) == 6 and len(table_rows) == 2
    assert any(row.findings for row in index_rows)
    for table in (
        IndexTable(index_rows),
        IndexTable(index_rows, exclude=("table",)),
        TableTable(table_rows),
        IndexTable([]),
        TableTable([]),
    ):
        table.paginate(per_page=4)  # a page of the rows, as the lists show them
        expected = _tables2_tbody(table)
        assert parse_html(table.tbody_html()) == parse_html(expected)


def test_the_list_pages_render_their_rows_through_tbody_html(planted, client_as):
    s = planted.schema
    page = client_as("operator").get("/indexes/", {"table": f"{s}.docs"}).content.decode()
    assert f'data-index="{s}.docs_x_b"' in page and "duplicate_index" in page
    assert "<code>m = 24</code>" in page and "unique</span>" in page
