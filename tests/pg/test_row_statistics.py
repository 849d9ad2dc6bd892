"""pg/row_statistics.py: pg_stats is read once per fingerprint; an ANALYZE or DDL is seen on the next health report,
and the estimates made from the kept widths are what one statement over the live catalog gives."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from schemaadmin.pg import index_cache, row_statistics
from schemaadmin.pg.row_statistics import btree_bloat, relation_statistics, table_bloat
from tests.services.health_report import report


@pytest.fixture(autouse=True)
def nothing_kept():
    index_cache.forget()
    row_statistics.forget()
    yield
    index_cache.forget()
    row_statistics.forget()


def _pg_stats_reads(queries) -> int:
    """Return how many statements read all of pg_stats (vector_columns looks up its few columns' rows alone)."""
    return sum(
        "FROM pg_stats AS st" in query["sql"] and "column_stats" in query["sql"] for query in queries.captured_queries
    )


def _null_share(result, qualified_index):
    return result.snapshot.key_facts[qualified_index].leading_null_fraction


def test_an_analyze_is_seen_on_the_next_report_and_nothing_else_reads_pg_stats_again(plant):
    s = plant.schema
    plant.table("t", "id int, ref int", rows=2000, fill="i, i")
    plant.sql(f"CREATE INDEX t_ref ON {s}.t (ref)")
    plant.sql(f"ANALYZE {s}.t")
    with CaptureQueriesContext(connection) as cold:
        result, found = report(plant)
    assert _pg_stats_reads(cold) == 1
    assert _null_share(result, f"{s}.t_ref") == 0
    assert ("index_on_mostly_null_column", f"{s}.t_ref") not in found

    # Writes without ANALYZE move sizes and counters, not the statistics: pg_stats is not read again.
    plant.sql(f"UPDATE {s}.t SET ref = NULL WHERE id % 10 <> 0")  # noqa: S608 -- a test schema name
    with CaptureQueriesContext(connection) as warm:
        result, found = report(plant)
    assert _pg_stats_reads(warm) == 0
    assert _null_share(result, f"{s}.t_ref") == 0

    plant.sql(f"ANALYZE {s}.t")
    with CaptureQueriesContext(connection) as analyzed:
        result, found = report(plant)
    assert _pg_stats_reads(analyzed) == 1
    assert _null_share(result, f"{s}.t_ref") == pytest.approx(0.9, abs=0.05)
    assert ("index_on_mostly_null_column", f"{s}.t_ref") in found


@pytest.mark.parametrize(
    ("ddl", "check"),
    [
        # a new index: its widths are known at once (its table was analyzed before)
        ("CREATE INDEX t_note ON {s}.t (note)", lambda rows, s: rows[(True, f"{s}.t_note")].has_stats),
        # a new column: the table is no longer fully described by its statistics
        ("ALTER TABLE {s}.t ADD COLUMN extra int", lambda rows, s: not rows[(False, f"{s}.t")].has_stats),
        ("ALTER INDEX {s}.t_ref SET (fillfactor = 70)", lambda rows, s: rows[(True, f"{s}.t_ref")].fillfactor == 70),
    ],
)
def test_ddl_is_seen_on_the_next_report(plant, ddl, check):
    s = plant.schema
    plant.table("t", "id int, ref int, note text", rows=500, fill="i, i, 'n' || i")
    plant.sql(f"CREATE INDEX t_ref ON {s}.t (ref)")
    plant.sql(f"ANALYZE {s}.t")
    report(plant)
    report(plant)  # kept
    plant.sql(ddl.format(s=s))
    report(plant)
    kept = row_statistics._kept["default"].rows
    assert check(kept, s)
    fresh = row_statistics.by_relation(relation_statistics())
    assert {key: row for key, row in kept.items() if key[1].startswith(f"{s}.")} == {
        key: row for key, row in fresh.items() if key[1].startswith(f"{s}.")
    }


def test_estimates_from_kept_widths_match_a_fresh_read(plant):
    s = plant.schema
    plant.table("churned", "id int, payload text", rows=5000, fill="i, repeat('x', 80)")
    plant.sql(f"CREATE INDEX churned_id ON {s}.churned (id)")
    plant.sql(f"DELETE FROM {s}.churned WHERE id % 10 <> 0")  # noqa: S608 -- a test schema name
    plant.sql(f"VACUUM ANALYZE {s}.churned")
    result, _ = report(plant, bloat_min_bytes=0, table_bloat_min_bytes=0)
    result, _ = report(plant, bloat_min_bytes=0, table_bloat_min_bytes=0)  # from the kept widths
    index_bloat = {b.name: b for b in btree_bloat() if b.schema == s}
    heap_bloat = {b.name: b for b in table_bloat() if b.schema == s}
    assert result.snapshot.bloat[f"{s}.churned_id"] == index_bloat["churned_id"]
    assert result.snapshot.table_bloat[f"{s}.churned"] == heap_bloat["churned"]
    assert heap_bloat["churned"].wasted_ratio > 0.5  # nine rows in ten deleted


def test_one_table_s_statistics_are_its_own_and_its_indexes_rows_of_the_whole_read(plant):
    # One index's page reads its table's statistics alone: the same rows the whole database's read has for the table,
    # its plain indexes and its expression index (whose statistics pg_stats keeps under the index's name).
    s = plant.schema
    plant.table("t", "id int PRIMARY KEY, ref int, label text", rows=500, fill="i, i % 7, 'x' || i")
    plant.table("other", "id int PRIMARY KEY, ref int", rows=50, fill="i, i")
    plant.sql(f"CREATE INDEX t_ref ON {s}.t (ref)")
    plant.sql(f"CREATE INDEX t_lower ON {s}.t (lower(label))")
    plant.sql(f"CREATE INDEX other_ref ON {s}.other (ref)")
    plant.sql(f"ANALYZE {s}.t")
    plant.sql(f"ANALYZE {s}.other")
    whole = row_statistics.by_relation(relation_statistics())
    one = row_statistics.by_relation(relation_statistics(table=(s, "t")))
    assert set(one) == {(False, f"{s}.t"), (True, f"{s}.t_pkey"), (True, f"{s}.t_ref"), (True, f"{s}.t_lower")}
    assert one == {key: whole[key] for key in one}
    assert one[(True, f"{s}.t_lower")].has_stats  # the expression's own statistics were found
