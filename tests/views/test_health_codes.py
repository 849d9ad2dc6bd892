"""Issue 14's health codes on the pages and in the command, and the framework tables' setting and filter."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command
from django.db import connection


@pytest.fixture
def operator(client_as):
    """An operator's client: operators watch health."""
    return client_as("operator")


@pytest.fixture
def flagged(plant, operator):
    """A table without a primary key, with a boolean-only index and a btree over an array."""
    s = plant.schema
    plant.table("flags", "id int, archived boolean, tags text[]", rows=20, fill="i, i % 2 = 0, ARRAY['a']")
    plant.sql(f"CREATE INDEX flags_archived ON {s}.flags (archived)")
    plant.sql(f"CREATE INDEX flags_tags ON {s}.flags (tags)")
    plant.sql(f"ANALYZE {s}.flags")
    return plant


def _row(page: str, attribute: str, name: str) -> str:
    match = re.search(rf'<tr[^>]*{attribute}="{re.escape(name)}".*?</tr>', page, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def test_index_and_table_pages_show_the_new_codes(flagged, operator):
    s = flagged.schema
    indexes = operator.get("/indexes/", {"table": f"{s}.flags"}).content.decode()
    assert 'data-code="boolean_index"' in _row(indexes, "data-index", f"{s}.flags_archived")
    assert 'data-code="btree_on_array_column"' in _row(indexes, "data-index", f"{s}.flags_tags")
    # The badge says what the finding is; its code stays in data-code, for scripts.
    badge = re.search(r'<span class="badge[^>]*data-code="boolean_index">(.*?)</span>', indexes)
    assert badge and badge.group(1) == "Index on a boolean column"
    tables = operator.get("/tables/", {"table": f"{s}.flags"}).content.decode()
    assert 'data-code="no_primary_key"' in _row(tables, "data-table", f"{s}.flags")
    detail = operator.get(f"/indexes/{s}.flags_tags/").content.decode()
    assert f"CREATE INDEX CONCURRENTLY flags_tags_gin ON {s}.flags USING gin (tags);" in detail


def test_the_overview_counts_them(flagged, operator):
    page = operator.get("/").content.decode()
    warnings = int(re.search(r'data-testid="findings-warning"[^>]*>\s*(\d+)', page).group(1))
    assert warnings >= 2  # no_primary_key and btree_on_array_column at least


def test_the_json_command_lists_them(flagged):
    out = io.StringIO()
    call_command("index_health", "--format", "json", stdout=out)
    found = {(f["code"], f["table"], f["index"]) for f in json.loads(out.getvalue())["findings"]}
    s = flagged.schema
    assert ("no_primary_key", "flags", None) in found
    assert ("boolean_index", "flags", "flags_archived") in found
    assert ("btree_on_array_column", "flags", "flags_tags") in found
    item = next(f for f in json.loads(out.getvalue())["findings"] if f["code"] == "btree_on_array_column")
    assert item["schema"] == s and item["severity"] == "warning" and item["fix_sql"].startswith("CREATE INDEX")


def test_young_usage_counters_are_said_on_the_index_page(flagged, operator, settings):
    settings.SCHEMAADMIN = {"UNUSED_INDEX_MIN_STATS_AGE_DAYS": 36500}
    page = operator.get("/indexes/").content.decode()
    assert 'data-testid="database-findings"' in page
    assert "index_usage_too_young" in page or "Index usage too young to judge" in page
    assert "UNUSED_INDEX_MIN_STATS_AGE_DAYS" in page


def _positions(page: str, names: list[str]) -> list[int]:
    return [page.index(f'data-table="{name}"') for name in names]


def test_product_tables_come_first_and_the_framework_can_be_hidden(operator, db, settings):
    page = operator.get("/tables/", {"per_page": 200}).content.decode()
    product, framework = "public.conversation_messages", "public.django_session"
    first_product, first_framework = _positions(page, [product, framework])
    assert first_product < first_framework
    # The filter: one kind of table only.
    only = operator.get("/tables/", {"scope": "framework", "per_page": 200}, HTTP_HX_REQUEST="true").content.decode()
    assert f'data-table="{framework}"' in only and f'data-table="{product}"' not in only

    settings.SCHEMAADMIN = {"HIDE_FRAMEWORK_TABLES": True}
    for url in ("/tables/", "/indexes/"):
        hidden = operator.get(url, {"per_page": 200}).content.decode()
        assert "django_session" not in hidden and "procrastinate_jobs" not in hidden
        assert "conversation_messages" in hidden
    overview = operator.get("/").content.decode()
    chart = json.loads(re.search(r'id="index-size-data"[^>]*>(.*?)</script>', overview, re.S).group(1))
    assert chart["labels"] and not any("django_" in label or "procrastinate_" in label for label in chart["labels"])
    out = io.StringIO()
    call_command("index_health", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert not any(t["name"].startswith(("django_", "procrastinate_", "auth_")) for t in data["tables"])
    assert not any(f["table"].startswith(("django_", "procrastinate_")) for f in data["findings"])
    # Still there when asked for by name.
    shown = operator.get("/tables/", {"scope": "framework", "per_page": 200}).content.decode()
    assert 'data-table="public.django_session"' in shown


def test_an_unknown_scope_is_a_clear_400(operator, db):
    response = operator.get("/tables/", {"scope": "everything"})
    assert response.status_code == 400
    assert "Whose tables" in response.content.decode()


def test_a_table_whose_indexes_share_a_finding_shows_it_once_with_how_many(plant, operator):
    s = plant.schema
    sparse = "CASE WHEN i % 10 = 0 THEN i END"  # nine rows in ten NULL
    plant.table("sparse", "id int, a int, b int", rows=2000, fill=f"i, {sparse}, {sparse}")
    plant.sql(f"CREATE INDEX sparse_a ON {s}.sparse (a)")
    plant.sql(f"CREATE INDEX sparse_b ON {s}.sparse (b)")
    plant.sql(f"ANALYZE {s}.sparse")
    tables = operator.get("/tables/", {"table": f"{s}.sparse"}).content.decode()
    row = _row(tables, "data-table", f"{s}.sparse")
    assert row.count('data-code="index_on_mostly_null_column"') == 1, row
    assert "Index over a mostly NULL column × 2" in row


def test_an_index_page_says_its_scans_plainly(flagged, operator, monkeypatch):
    # One node: its scans as a number, not "default: 0"; never scanned on PostgreSQL 16+: not "(or PostgreSQL < 16)".
    detail = operator.get(f"/indexes/{flagged.schema}.flags_tags/").content.decode()
    scans = re.search(r'data-testid="scans">(.*?)</dd>', detail).group(1)
    assert scans == "0"
    if connection.pg_version >= 160000:  # last_idx_scan is PostgreSQL 16's
        assert re.search(r'data-testid="last-scan">none since counting began</dd>', detail)
    monkeypatch.setattr("schemaadmin.pg.index_select.server_version", lambda using="default": 150008)
    older = operator.get(f"/indexes/{flagged.schema}.flags_tags/").content.decode()
    assert re.search(r'data-testid="last-scan">not recorded before PostgreSQL 16</dd>', older)
