"""Issue 14's false alarms: each one planted, now silent, beside the look-alike that must still be reported."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from schemaadmin.services.index_health import Severity, Thresholds, evaluate
from tests.services.health_report import LOOSE, report


def test_a_foreign_key_served_by_a_partial_not_null_index_is_indexed(plant):
    s = plant.schema
    plant.table("parent", "id int PRIMARY KEY")
    for name in ("covered", "filtered"):
        plant.table(name, f"id int PRIMARY KEY, parent_id int REFERENCES {s}.parent, at timestamptz")
    plant.sql(f"CREATE INDEX covered_parent ON {s}.covered (parent_id, at) WHERE parent_id IS NOT NULL")
    # Look-alike: a predicate that leaves out rows the referential check must find.
    plant.sql(f"CREATE INDEX filtered_parent ON {s}.filtered (parent_id) WHERE at > '2026-01-01'")
    _, found = report(plant)
    missing = {obj for code, obj in found if code == "missing_fk_index"}
    assert missing == {f"{s}.filtered.parent_id"}


def test_vector_index_builds_do_not_make_a_table_sequential_scan_heavy(plant):
    s = plant.schema
    fill = "i, ARRAY[random(), random(), random()]::vector"
    plant.table("built", "id int PRIMARY KEY, embedding vector(3)", rows=2000, fill=fill)
    plant.sql(f"ANALYZE {s}.built")
    plant.sql(f"CREATE INDEX built_ivf ON {s}.built USING ivfflat (embedding vector_l2_ops) WITH (lists = 10)")
    plant.sql(f"CREATE INDEX CONCURRENTLY built_hnsw ON {s}.built USING hnsw (embedding vector_l2_ops)")
    plant.sql(f"REINDEX INDEX CONCURRENTLY {s}.built_hnsw")
    # Look-alike: a table that queries really read in full, as often.
    plant.table("scanned", "id int PRIMARY KEY", rows=2000, fill="i")
    plant.sql(f"ANALYZE {s}.scanned")
    for _ in range(12):
        plant.sql(f"SELECT count(*) FROM {s}.scanned")  # noqa: S608 -- a test schema name
    plant.flush_stats()
    result, found = report(plant)
    built = next(t for t in result.snapshot.tables if t.qualified_name == f"{s}.built")
    # The builds did count as sequential scans (the IVFFlat one over a hundred), and nobody used an index.
    assert built.sequential_scans > LOOSE["sequential_scan_min_scans"] and built.index_scans == 0
    assert ("sequential_scan_heavy", f"{s}.built") not in found
    assert ("sequential_scan_heavy", f"{s}.scanned") in found


def test_indexes_differing_only_in_collation_are_not_duplicates(plant):
    s = plant.schema
    plant.table("t", "name text, code text")
    plant.sql(f"CREATE INDEX t_name ON {s}.t (name)")
    plant.sql(f'CREATE INDEX t_name_c ON {s}.t (name COLLATE "C")')
    plant.sql(f'CREATE INDEX t_code_c ON {s}.t (code COLLATE "C")')
    plant.sql(f'CREATE INDEX t_code_c_again ON {s}.t (code COLLATE "C")')
    # Nor is an index a redundant prefix of one whose first key sorts by another collation.
    plant.sql(f"CREATE INDEX t_code ON {s}.t (code)")
    plant.sql(f'CREATE INDEX t_code_c_name ON {s}.t (code COLLATE "C", name)')
    _, found = report(plant)
    assert {obj for code, obj in found if code == "duplicate_index"} == {f"{s}.t_code_c_again"}
    assert f"{s}.t_code" not in {obj for code, obj in found if code == "redundant_index"}


def test_young_statistics_are_said_once_instead_of_silence(plant):
    s = plant.schema
    plant.table("idle", "id int PRIMARY KEY, x int", rows=5000, fill="i, i")
    plant.sql(f"CREATE INDEX idle_x ON {s}.idle (x)")
    result, found = report(plant)
    assert ("unused_index", f"{s}.idle_x") in found
    assert not [f for f in result.findings if f.code == "index_usage_too_young"]
    young = Thresholds.from_settings(**{**LOOSE, "unused_index_min_stats_age_days": 3650})
    findings = evaluate(result.snapshot, young)
    assert not [f for f in findings if f.code == "unused_index"]
    (told,) = [f for f in findings if f.code == "index_usage_too_young"]
    assert told.severity is Severity.INFO
    assert "UNUSED_INDEX_MIN_STATS_AGE_DAYS" in told.message and "3650 days" in told.message
    age = min(node.stats_age for node in result.snapshot.nodes)
    assert (f"{age.days} day" if age.days else "hour") in told.message
    assert told.object == f"database {result.snapshot.statistics.database}"
    # With a replica whose counters are younger still, it names that node.
    replica = dataclasses.replace(result.snapshot.nodes[0], node="replica", stats_age=age / 2)
    findings = evaluate(dataclasses.replace(result.snapshot, nodes=[*result.snapshot.nodes, replica]), young)
    assert "on node replica" in next(f.message for f in findings if f.code == "index_usage_too_young")
    # The age reads as a sentence at each scale.
    for stats_age, said in (
        (timedelta(minutes=20), "counted for less than an hour on"),
        (timedelta(hours=1, minutes=5), "counted for only 1 hour on"),
        (timedelta(hours=5), "counted for only 5 hours on"),
        (timedelta(days=2, hours=3), "counted for only 2 days on"),
    ):
        aged = dataclasses.replace(result.snapshot.nodes[0], stats_age=stats_age)
        findings = evaluate(dataclasses.replace(result.snapshot, nodes=[aged]), young)
        assert said in next(f.message for f in findings if f.code == "index_usage_too_young")
