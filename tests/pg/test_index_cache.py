"""pg/index_cache.py: the health pages' indexes are pg.indexes.indexes() itself, DDL is seen on the next call, and a
call that finds the catalogs unchanged reads only what moves (one statement) and hands back the kept rows."""

from __future__ import annotations

import dataclasses

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from schemaadmin.pg import index_cache
from schemaadmin.pg.indexes import indexes
from tests.versions import skip_below


@pytest.fixture(autouse=True)
def nothing_kept():
    index_cache.forget()
    yield
    index_cache.forget()


@pytest.fixture(params=[180000, 170000], ids=["hashxid", "before-18"])
def server(request, monkeypatch) -> int:
    """Run a test as on PostgreSQL 18 and as on an older server: the fingerprint has no hashxid() before 18."""
    if request.param >= 180000:
        skip_below(180000, "hashxid() is PostgreSQL 18's")
    monkeypatch.setattr(index_cache, "server_version", lambda using="default": request.param)
    return request.param


def by_name(rows, schema):
    return {row.name: row for row in rows if row.schema == schema}


def cached(schema):
    return by_name(index_cache.indexes(), schema)


def test_rows_are_those_of_a_full_read_cold_and_warm(plant):
    s = plant.schema
    plant.table("docs", "id int PRIMARY KEY, title text, lang text", rows=20, fill="i, 't' || i, 'en'")
    plant.sql(f"CREATE INDEX docs_title ON {s}.docs (lower(title) text_pattern_ops, id DESC) INCLUDE (lang)")
    plant.sql(f'CREATE INDEX docs_lang ON {s}.docs (lang COLLATE "C") WHERE lang IS NOT NULL')
    full = indexes()
    cold = index_cache.indexes()  # read in full
    warm = index_cache.indexes()  # the kept rows
    # The same indexes in the same order; every field equal for the planted ones. Other indexes' scan counters may
    # move between the reads: backends of earlier tests flush their statistics up to a second after they ran.
    names = [(row.schema, row.name) for row in full]
    assert [(row.schema, row.name) for row in cold] == names
    assert [(row.schema, row.name) for row in warm] == names

    def planted(rows):
        return [dataclasses.astuple(row) for row in rows if row.schema == s]

    assert len(planted(full)) == 3
    assert planted(cold) == planted(full)
    assert planted(warm) == planted(full)


def test_a_warm_call_is_one_statement_and_returns_the_same_objects(plant, server):
    s = plant.schema
    for n in range(5):
        plant.table(f"t{n}", "id int PRIMARY KEY, x int")
        plant.sql(f"CREATE INDEX t{n}_x ON {s}.t{n} (x)")
    with CaptureQueriesContext(connection) as cold:
        first = cached(s)
    with CaptureQueriesContext(connection) as warm:
        second = cached(s)
    assert len(cold) == 2 and len(warm) == 1
    assert all(second[name] is first[name] for name in first)


@pytest.mark.parametrize(
    ("ddl", "check"),
    [
        ("CREATE INDEX t_y ON {s}.t (y)", lambda rows: rows["t_y"].columns == ("y",)),
        ("DROP INDEX {s}.t_x", lambda rows: "t_x" not in rows),
        ("ALTER INDEX {s}.t_x RENAME TO t_x_renamed", lambda rows: rows["t_x_renamed"].columns == ("x",)),
        ("ALTER TABLE {s}.t RENAME COLUMN x TO ex", lambda rows: rows["t_x"].columns == ("ex",)),
        ("ALTER TABLE {s}.t RENAME TO u", lambda rows: rows["t_x"].table == "u"),
        ("ALTER INDEX {s}.t_x SET (fillfactor = 70)", lambda rows: rows["t_x"].options == {"fillfactor": "70"}),
        (
            "ALTER TABLE {s}.t ALTER COLUMN x TYPE bigint",
            lambda rows: rows["t_x"].key_types == ("bigint",) and rows["t_x"].opclasses == ("int8_ops",),
        ),
    ],
)
def test_ddl_is_seen_on_the_next_call(plant, ddl, check, server):
    s = plant.schema
    plant.table("t", "id int PRIMARY KEY, x int, y int")
    plant.sql(f"CREATE INDEX t_x ON {s}.t (x)")
    assert cached(s)["t_x"].columns == ("x",)
    cached(s)  # kept
    plant.sql(ddl.format(s=s))
    rows = cached(s)
    assert check(rows), rows
    assert [dataclasses.astuple(row) for row in rows.values()] == [
        dataclasses.astuple(row) for row in by_name(indexes(), s).values()
    ]


def test_what_moves_without_ddl_is_read_on_every_call(plant):
    s = plant.schema
    plant.table("t", "id int PRIMARY KEY, x int", rows=100, fill="i, i")
    before = cached(s)["t_pkey"]
    plant.sql("SET enable_seqscan = off")
    plant.sql(f"SELECT * FROM {s}.t WHERE id = 3")  # noqa: S608 -- a test schema name
    plant.flush_stats()
    plant.sql(f"INSERT INTO {s}.t SELECT i, i FROM generate_series(101, 5000) AS i")  # noqa: S608
    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
    after = cached(s)["t_pkey"]
    assert after.scans == before.scans + 1
    assert after.size_bytes > before.size_bytes
    assert after.definition == before.definition


def test_halves_read_on_two_connections_are_the_rows_of_one_statement(plant):
    s = plant.schema
    for n in range(4):
        plant.table(f"h{n}", "id int PRIMARY KEY, x int")
        plant.sql(f"CREATE INDEX h{n}_x ON {s}.h{n} (x)")
    whole, fingerprint = index_cache.indexes_and_fingerprint()
    index_cache.forget()
    # Read in full after the halves' activity; then the kept rows, refreshed from both halves.
    cold, cold_fingerprint = index_cache.indexes_and_fingerprint(halves=True)
    warm, warm_fingerprint = index_cache.indexes_and_fingerprint(halves=True)

    def planted(rows):
        return [dataclasses.astuple(row) for row in rows if row.schema == s]

    assert len(planted(whole)) == 8
    assert planted(cold) == planted(whole)
    assert planted(warm) == planted(whole)
    assert cold_fingerprint == warm_fingerprint == fingerprint
