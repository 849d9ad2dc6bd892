"""The health pages ask the database a fixed number of questions, however many indexes there are."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

PAGES = ("/indexes/", "/indexes/?problems=on", "/tables/", "/")


def _plant_tables(plant, first: int, last: int) -> None:
    s = plant.schema
    for n in range(first, last):
        plant.table(f"t{n}", "id bigint PRIMARY KEY, a int, b text, parent bigint")
        plant.sql(f"CREATE INDEX t{n}_a ON {s}.t{n} (a)")
        plant.sql(f"CREATE INDEX t{n}_b ON {s}.t{n} (lower(b)) WHERE a > 0")
        if n:
            plant.sql(f"ALTER TABLE {s}.t{n} ADD FOREIGN KEY (parent) REFERENCES {s}.t{n - 1} (id)")


def _query_counts(client, urls) -> dict[str, int]:
    counts = {}
    for url in urls:
        client.get(url)  # the first request after DDL reads the catalog in full; count a steady one
        # Steady: the fewest of three. Autovacuum analyzing any table (the audit log's included) between two requests
        # rightly makes the next one read the statistics again, one query more, at any size.
        counts[url] = min(_count(client, url) for _ in range(3))
    return counts


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def test_query_counts_do_not_grow_with_the_number_of_indexes(plant, client_as):
    client = client_as("operator")
    s = plant.schema
    _plant_tables(plant, 0, 2)
    one_index = f"/indexes/{s}.t1_a/"
    small = _query_counts(client, (*PAGES, one_index))
    _plant_tables(plant, 2, 40)
    large = _query_counts(client, (*PAGES, one_index))
    assert large == small


def test_one_index_page_reads_its_own_table_not_every_index(plant, client_as):
    client = client_as("operator")
    s = plant.schema
    _plant_tables(plant, 0, 3)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/indexes/{s}.t1_a/")
    assert response.status_code == 200 and f"{s}.t1_a" in response.content.decode()
    statements = [q["sql"] for q in queries.captured_queries]
    assert not any("catalog_fingerprint" in sql for sql in statements)  # the every-index statement
    reads = [sql for sql in statements if "pg_get_indexdef" in sql or "pg_stats" in sql]
    assert len(reads) >= 3  # the index, its table's indexes, their bloat and key facts
    assert all(f"'{s}'" in sql for sql in reads), reads


def test_the_overview_and_lists_read_each_catalog_question_once(plant, client_as):
    client = client_as("operator")
    _plant_tables(plant, 0, 3)
    for url in PAGES:
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        statements = [q["sql"] for q in queries.captured_queries]
        repeated = {sql[:80] for sql in statements if statements.count(sql) > 1 and sql not in ("BEGIN", "COMMIT")}
        assert not repeated, (url, repeated)
