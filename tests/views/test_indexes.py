"""The index and table health pages: full pages, htmx partials, filters, bad input, details."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def operator(client_as):
    return client_as("operator")


@pytest.fixture
def planted(plant, operator):
    """An invalid index, a duplicate pair, a too-wide vector column and a healthy HNSW index."""
    s = plant.schema
    plant.table(
        "docs", "id int PRIMARY KEY, x int, wide vector(3000), small vector(3)", rows=20, fill="i, 1, NULL, NULL"
    )
    with pytest.raises(Exception, match="could not create unique index"):
        plant.sql(f"CREATE UNIQUE INDEX CONCURRENTLY docs_x_uniq ON {s}.docs (x)")
    plant.sql(f"CREATE INDEX docs_x_a ON {s}.docs (x)")
    plant.sql(f"CREATE INDEX docs_x_b ON {s}.docs (x)")
    plant.sql(f"CREATE INDEX docs_small_hnsw ON {s}.docs USING hnsw (small vector_cosine_ops) WITH (m = 24)")
    plant.sql(f"ANALYZE {s}.docs")
    return plant


def test_index_list_shows_every_index_with_its_findings(planted, operator):
    s = planted.schema
    response = operator.get("/indexes/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" in page and 'id="index-table"' in page
    assert f'data-index="{s}.docs_x_uniq"' in page and "invalid_index" in page
    assert f'href="/indexes/{s}.docs_small_hnsw/"' in page
    assert "<code>m = 24</code>" in page


def test_htmx_gets_only_the_table_partial(planted, operator):
    response = operator.get("/indexes/", {"problems": "on"}, **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" not in page and page.lstrip().startswith('<div id="index-table"')
    assert f"{planted.schema}.docs_x_b" in page  # the duplicate
    assert f"{planted.schema}.docs_pkey" not in page  # healthy: filtered out


def test_filters_by_table_and_method(planted, operator):
    s = planted.schema
    page = operator.get("/indexes/", {"table": f"{s}.docs", "method": "hnsw"}).content.decode()
    assert f'data-index="{s}.docs_small_hnsw"' in page
    assert f'data-index="{s}.docs_x_a"' not in page
    assert "1 index matches these filters" in page


def test_sorting_by_size_and_scans_and_a_bad_sort_is_a_clear_400(planted, operator):
    for sort in ("size_bytes", "-scans", "findings"):
        assert operator.get("/indexes/", {"sort": sort}).status_code == 200
    for sort in ("nonsense", "-parameters"):  # no such column; a column that does not sort
        response = operator.get("/indexes/", {"sort": sort})
        assert response.status_code == 400
        assert "to sort by. Sort by one of:" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [{"method": "btree'; DROP TABLE users; --"}, {"method": "nope"}, {"table": "x" * 500}, {"table": "a\x00b"}],
)
def test_bad_filter_values_are_a_clear_400(client_as, query):
    client = client_as("dba")
    for headers in ({}, HTMX):
        response = client.get("/indexes/", query, **headers)
        assert response.status_code == 400
        assert b"These filters cannot be applied." in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/indexes/", "/tables/"])
@pytest.mark.parametrize("per_page", ["-1", "0", "7", "100000", "many"])
def test_a_page_size_not_offered_is_a_clear_400(client_as, path, per_page):
    client = client_as("operator")
    for headers in ({}, HTMX):
        response = client.get(path, {"per_page": per_page}, **headers)
        assert response.status_code == 400
        assert "Per page: Select a valid choice." in response.content.decode()


def test_the_page_size_is_chosen_from_the_offered_ones_and_pages_past_the_end_show_the_last(planted, operator):
    page = operator.get("/indexes/").content.decode()
    assert '<option value="50" selected>' in page  # the default, shown as chosen
    first = operator.get("/indexes/", {"per_page": "25"})
    assert first.status_code == 200 and first.context["table"].paginator.per_page == 25
    pages = first.context["table"].paginator.num_pages
    last = operator.get("/indexes/", {"per_page": "25", "page": str(pages + 5)})
    assert last.status_code == 200 and last.context["table"].page.number == pages
    # The one pager: which rows of how many, Previous and Next, not django-tables2's numbered pagination.
    count = first.context["table"].paginator.count
    assert f'data-testid="pager-range">1–25 of {count:,}</span>' in first.content.decode()
    assert 'rel="next"' in first.content.decode() and "page-link" not in first.content.decode()


@pytest.mark.django_db
def test_a_page_number_that_is_none_is_a_400_that_says_so_and_one_past_the_end_is_the_last(client_as):
    client = client_as("operator")
    for url in ("/indexes/", "/tables/", "/findings/"):
        for page in ("abc", "-1", "0", "1.5", "²", "100001"):
            response = client.get(url, {"page": page})
            assert response.status_code == 400, (url, page)
            assert "pages are numbered from 1" in response.content.decode()
        assert client.get(url, {"page": "99999"}).status_code == 200


def test_an_index_s_keys_say_their_collation_order_and_nulls_and_only_a_btree_s_have_an_order(plant, operator):
    import html
    import re as regex

    s = plant.schema
    plant.table("notes", "a int, b text, tags text[]")
    plant.sql(f'CREATE INDEX notes_ab ON {s}.notes (a NULLS FIRST, b COLLATE "C" DESC NULLS LAST)')
    plant.sql(f"CREATE INDEX notes_tags ON {s}.notes USING gin (tags)")

    def rows(name):
        page = operator.get(f"/indexes/{s}.{name}/").content.decode()
        body = page[page.index('data-testid="keys"') :].split("</tbody>")[0]
        cells = regex.findall(r"<tr><td[^>]*>\d+</td>(.*?)</tr>", body)
        texts = (html.unescape(regex.sub(r"<[^>]+>", "", c.replace("</td><td>", "|"))) for c in cells)
        return [text.split("|") for text in texts]

    (a, b) = rows("notes_ab")
    assert a[0] == "a" and a[3] == "ASC NULLS FIRST"
    assert b[0] == 'b COLLATE pg_catalog."C"' and b[3] == "DESC NULLS LAST"
    ((tags),) = rows("notes_tags")
    assert tags[1] == "array_ops" and tags[3] == "—"  # a GIN key has no order


def test_an_index_of_an_extension_s_method_can_be_filtered_by_it(plant, operator, superuser_sql):
    # The method filter was a fixed list: /indexes/?method=bloom answered 400.
    superuser_sql("CREATE EXTENSION bloom")
    s = plant.schema
    try:
        plant.table("signals", "a int, c int")
        plant.sql(f"CREATE INDEX signals_bloom ON {s}.signals USING bloom (a, c)")
        plant.sql(f"CREATE INDEX signals_a ON {s}.signals (a)")
        response = operator.get("/indexes/", {"method": "bloom", "table": f"{s}.signals"})
    finally:  # left behind, a later drift check on this database reported it as an unexpected extension
        superuser_sql("DROP EXTENSION bloom CASCADE")
    page = response.content.decode()
    assert response.status_code == 200
    assert f'data-index="{s}.signals_bloom"' in page and f'data-index="{s}.signals_a"' not in page
    assert operator.get("/indexes/", {"method": "no_such_method"}).status_code == 400


def test_index_detail_shows_findings_with_fix_and_vector_parameters(planted, operator):
    s = planted.schema
    page = operator.get(f"/indexes/{s}.docs_x_uniq/").content.decode()
    assert "Invalid index" in page
    assert f"REINDEX INDEX CONCURRENTLY {s}.docs_x_uniq;" in page  # rebuilt as it was, where it is
    assert "data-copy-target" in page

    page = operator.get(f"/indexes/{s}.docs_small_hnsw/").content.decode()
    assert 'data-testid="vector-advice"' in page
    assert "vector_cosine_ops" in page and "<td>24</td>" in page
    assert "Build memory" in page


@pytest.mark.django_db
def test_unknown_index_or_table_is_404(client_as):
    client = client_as("operator")
    assert client.get("/indexes/public.no_such_index/").status_code == 404
    assert client.get("/tables/nope.nothing/").status_code == 404
    assert client.get("/indexes/nodot/").status_code == 404


def test_table_list_and_detail(planted, operator):
    s = planted.schema
    page = operator.get("/tables/", {"table": "docs"}).content.decode()
    assert f'data-table="{s}.docs"' in page
    assert "vector_dims_unindexable" in page
    partial = operator.get("/tables/", {"table": "docs"}, **HTMX).content.decode()
    assert "<html" not in partial and f'data-table="{s}.docs"' in partial

    detail = operator.get(f"/tables/{s}.docs/").content.decode()
    assert f"{s}.docs_x_a" in detail and f"{s}.docs_x_b" in detail  # its indexes
    assert "vector_dims_unindexable" in detail and "halfvec(3000)" in detail
    assert "above the 2,000-dimension index limit" in detail


def test_a_partitioned_table_s_page_gives_no_autovacuum_threshold_autovacuum_never_reaches(plant, operator):
    s = plant.schema
    plant.sql(f"CREATE TABLE {s}.events (id int, at date) PARTITION BY RANGE (at)")
    plant.sql(f"CREATE TABLE {s}.events_2026 PARTITION OF {s}.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
    parent = operator.get(f"/tables/{s}.events/").content.decode()
    assert "autovacuum at" not in parent and 'data-testid="partitioned-maintenance"' in parent
    partition = operator.get(f"/tables/{s}.events_2026/").content.decode()
    assert "autovacuum at" in partition and "autoanalyze at" in partition


def test_the_query_count_does_not_grow_with_the_number_of_indexes(plant, operator):
    s = plant.schema

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert operator.get("/indexes/").status_code == 200
        return len(queries)

    def add_tables(names: range) -> None:
        for n in names:
            plant.table(f"t{n}", "id int PRIMARY KEY, x int")
            plant.sql(f"CREATE INDEX t{n}_x ON {s}.t{n} (x)")

    # Both counts are of the same kind of request: after the indexes changed (an unchanged set is read from
    # pg/index_cache, in fewer queries), in a process that already read what it reads once (the server's name and
    # version). The first count was one query more when this test was the first of its worker to ask.
    count()
    add_tables(range(1))
    before = count()
    add_tables(range(1, 21))
    assert count() == before


@pytest.mark.django_db
def test_overview_adds_health_for_operators_only(client_as):
    page = client_as("operator").get("/").content.decode()
    assert 'data-testid="health-overview"' in page
    assert 'id="index-size-data"' in page and "vendor/chartjs/chart.umd.min.js" in page
    assert 'data-testid="cache-hit-rate"' in page and 'data-testid="largest-indexes"' in page
    assert 'href="/indexes/"' in page  # the navigation
    support = client_as("support").get("/").content.decode()
    assert 'data-testid="health-overview"' not in support and 'href="/indexes/"' not in support


def test_table_list_figures_are_right_aligned_counts_sizes_and_ages(plant, operator):
    s = plant.schema
    plant.table("counted", "id int", rows=1200, fill="i")
    plant.sql(f"ANALYZE {s}.counted")
    page = operator.get("/tables/", {"table": "counted"}).content.decode()
    head = page[page.index("<thead") : page.index("</thead>")]
    th = re.findall(r'<th class="([^"]*)"[^>]*>\s*<a[^>]*>([^<]+)<', head)
    headers = {label: classes.split() for classes, label in th}
    for figure in ("Size", "Rows (est.)", "Dead rows", "Seq scans", "Index scans"):
        assert "text-end" in headers[figure]
    assert "text-end" not in headers["Table"]
    row = page[page.index(f'data-table="{s}.counted"') :]
    cells = re.findall(r"<td ?([^>]*)>(.*?)</td>", row[: row.index("</tr>")], re.S)
    size, rows, dead = cells[1:4]
    assert size[0] == rows[0] == dead[0] == 'class="text-end text-nowrap"'
    assert size[1].endswith(" kB") and rows[1] == "1,200" and dead[1] == "0"
    assert "<time" in cells[5][1] and 'data-when="ago"' in cells[5][1]  # analyzed just now, shown as an age


@pytest.mark.parametrize(
    ("column", "key", "opclass", "dimensions", "recommended"),
    [
        ("vector(2500)", "(embedding::halfvec(2500))", "halfvec_l2_ops", "2500 (halfvec)", "—"),  # indexed as it should
        ("sparsevec(100000)", "(embedding)", "sparsevec_l2_ops", "100000 (sparsevec)", "at most 1,000 non-zero"),
        ("vector(3)", "(embedding)", "vector_l2_ops", "3", "—"),
    ],
)
def test_the_dimensions_advised_follow_the_type_the_key_is_stored_as(
    plant, operator, column, key, opclass, dimensions, recommended
):
    table = plant.table("vectors_of_a_kind", f"id int, embedding {column}")
    plant.sql(f"CREATE INDEX kind_hnsw ON {table} USING hnsw ({key} {opclass})")
    page = operator.get(f"/indexes/{plant.schema}.kind_hnsw/").content.decode()
    row = page.split("<td>Dimensions</td>")[1].split("</tr>")[0]
    assert f"<td>{dimensions}</td>" in row and recommended in row and "halfvec ≤ 4,000" not in row
