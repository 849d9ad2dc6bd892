"""Every finding code: found on a planted object, silent on a healthy look-alike beside it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.db import connection

from schemaadmin.pg import identifiers
from schemaadmin.pg.relations import relation_names_starting, tables
from schemaadmin.services.index_health import Severity, Thresholds, evaluate, health_report, index_report
from schemaadmin.services.index_health.snapshot import NodeUsage, _with_index_figures
from schemaadmin.services.rebuilds.plan import RebuildRefused, plan_rebuild
from tests.services.health_report import LOOSE, report, run_fix


def test_invalid_index_and_ccnew_leftover(plant):
    s = plant.schema
    plant.table("t", "x int, y int", rows=10, fill="1, i")
    for name in ("t_x_uniq", "t_x_ccnew", "t_x_sa_new"):
        with pytest.raises(Exception, match="could not create unique index"):
            plant.sql(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {s}.t (x)")
    plant.sql(f"CREATE UNIQUE INDEX CONCURRENTLY t_y_uniq ON {s}.t (y)")
    result, found = report(plant)
    assert ("invalid_index", f"{s}.t_x_uniq") in found
    assert ("invalid_index", f"{s}.t_x_ccnew") in found
    assert not any(obj == f"{s}.t_y_uniq" for _, obj in found)
    by_name = {f.index: f for f in result.findings if f.code == "invalid_index" and f.schema == s}
    assert by_name["t_x_uniq"].severity is Severity.CRITICAL
    # Rebuilt in place (a failed fix leaves it there, and it keeps all it was), once the duplicates are gone.
    assert by_name["t_x_uniq"].fix == f"REINDEX INDEX CONCURRENTLY {s}.t_x_uniq;"
    assert by_name["t_x_ccnew"].fix == f"DROP INDEX CONCURRENTLY {s}.t_x_ccnew;"
    # A rebuild's replacement never swapped in is dropped, not built again (hours for an HNSW index).
    assert by_name["t_x_sa_new"].fix == f"DROP INDEX CONCURRENTLY {s}.t_x_sa_new;"
    assert "left over from an index rebuild" in by_name["t_x_sa_new"].message


def test_unused_index_needs_no_scan_on_any_node(plant):
    s = plant.schema
    for name in ("idle", "busy"):
        plant.table(name, "id int PRIMARY KEY, x int", rows=5000, fill="i, i")
        plant.sql(f"CREATE INDEX {name}_x ON {s}.{name} (x)")
        plant.sql(f"ANALYZE {s}.{name}")
    plant.sql("SET enable_seqscan = off")
    plant.sql(f"SELECT count(*) FROM {s}.busy WHERE x = 3")  # noqa: S608 -- a test schema name
    plant.flush_stats()
    result, found = report(plant)
    assert ("unused_index", f"{s}.idle_x") in found
    assert ("unused_index", f"{s}.busy_x") not in found
    assert ("unused_index", f"{s}.idle_pkey") not in found  # backs the primary key
    unused = next(f for f in result.findings if f.index == "idle_x")
    assert unused.fix == (
        f"DROP INDEX CONCURRENTLY {s}.idle_x;\n-- to restore it: CREATE INDEX CONCURRENTLY idle_x ON {s}.idle "
        "USING btree (x);"
    )
    # The restore is the index as it is, every part of it: its order, a column it carries, storage, predicate.
    plant.sql(f"CREATE INDEX idle_id_x ON {s}.idle (id DESC) INCLUDE (x) WITH (fillfactor = 70) WHERE x > 0")
    result, _ = report(plant)
    restore = next(f.fix for f in result.findings if f.index == "idle_id_x" and f.code == "unused_index")
    assert restore.splitlines()[-1] == (
        f"-- to restore it: CREATE INDEX CONCURRENTLY idle_id_x ON {s}.idle USING btree (id DESC) INCLUDE (x) "
        "WITH (fillfactor='70') WHERE (x > 0);"
    )

    thresholds = Thresholds.from_settings(**LOOSE)
    snapshot = result.snapshot
    # Scanned on a replica: not unused after all.
    replica = NodeUsage("replica", {f"{s}.idle_x": 7}, timedelta(days=30))
    with_replica = dataclasses.replace(snapshot, nodes=[*snapshot.nodes, replica])
    assert not [f for f in evaluate(with_replica, thresholds) if f.index == "idle_x"]
    # Counters younger than the minimum age: nothing can be called unused yet.
    young = dataclasses.replace(thresholds, unused_index_min_stats_age_days=3650)
    assert not [f for f in evaluate(snapshot, young) if f.code == "unused_index"]
    # Smaller than the size floor: not worth a finding.
    floor = dataclasses.replace(thresholds, unused_index_min_bytes=10 * 2**20)
    assert not [f for f in evaluate(snapshot, floor) if f.index == "idle_x"]


def test_the_only_index_a_foreign_key_has_is_not_unused_and_a_brin_one_serves_none(plant):
    """A key whose referenced rows are never deleted never scans its index: dropping it would make the first
    delete scan the table (missing_fk_index would then say so). A second index of the same key may go."""
    s = plant.schema
    plant.table("parents", "id int PRIMARY KEY", rows=100, fill="i")
    plant.table(
        "kids",
        f"id int PRIMARY KEY, parent_id int REFERENCES {s}.parents, other_id int",
        rows=5000,
        fill="i, i % 100 + 1, i",
    )
    plant.sql(f"CREATE INDEX kids_parent ON {s}.kids (parent_id)")
    plant.sql(f"CREATE INDEX kids_parent_again ON {s}.kids (parent_id, id)")
    plant.table(
        "orphans", f"id int PRIMARY KEY, parent_id int REFERENCES {s}.parents", rows=5000, fill="i, i % 100 + 1"
    )
    plant.sql(f"CREATE INDEX orphans_parent_brin ON {s}.orphans USING brin (parent_id)")
    plant.sql(f"ANALYZE {s}.kids, {s}.orphans")
    result, found = report(plant)
    unused = {obj for code, obj in found if code == "unused_index" and obj.startswith(f"{s}.kids")}
    assert unused == {f"{s}.kids_parent_again"}  # two serve it: one may go, the one to keep stays
    thresholds = Thresholds.from_settings(**LOOSE)
    only_one = [i for i in result.snapshot.indexes if i.name != "kids_parent_again"]
    lone = evaluate(dataclasses.replace(result.snapshot, indexes=only_one), thresholds)
    assert not [f for f in lone if f.code == "unused_index" and f.index == "kids_parent"]
    # The same on the index's own page, which reads its table's keys with its indexes.
    plant.sql(f"DROP INDEX {s}.kids_parent_again")
    page = index_report(s, "kids_parent", thresholds=Thresholds.from_settings(**LOOSE))
    assert page is not None and not [f for f in page.findings if f.code == "unused_index" and f.index == "kids_parent"]
    assert ("missing_fk_index", f"{s}.orphans.parent_id") in found  # a BRIN index does not look rows up by key


def test_duplicate_index(plant):
    s = plant.schema
    plant.table("t", "x int, y int")
    plant.sql(f"CREATE INDEX t_x_a ON {s}.t (x)")
    plant.sql(f"CREATE INDEX t_x_b ON {s}.t (x)")
    # Look-alikes that are not duplicates: another predicate, another method, another order.
    plant.sql(f"CREATE INDEX t_y_a ON {s}.t (y)")
    plant.sql(f"CREATE INDEX t_y_partial ON {s}.t (y) WHERE y > 0")
    plant.sql(f"CREATE INDEX t_y_hash ON {s}.t USING hash (y)")
    plant.sql(f"CREATE INDEX t_xy ON {s}.t (x, y)")
    plant.sql(f"CREATE INDEX t_x_y_desc ON {s}.t (x, y DESC)")
    result, found = report(plant)
    duplicates = {obj for code, obj in found if code == "duplicate_index"}
    assert duplicates == {f"{s}.t_x_b"}
    fix = next(f.fix for f in result.findings if f.code == "duplicate_index" and f.schema == s)
    assert fix == f"DROP INDEX CONCURRENTLY {s}.t_x_b;"


def test_indexes_that_enforce_other_rules_or_cover_other_columns_are_no_duplicates(plant):
    """Same keys, different rules: each would lose something if dropped (a DROP here would do damage)."""
    s = plant.schema
    plant.table("rooms", "id int PRIMARY KEY, room int, during tsrange, a int, b int, f int")
    for definition in (
        "CONSTRAINT rooms_no_overlap EXCLUDE USING gist (during WITH &&)",
        "CONSTRAINT rooms_no_adjacent EXCLUDE USING gist (during WITH -|-)",
        "CONSTRAINT rooms_b_deferred UNIQUE (b) DEFERRABLE",
    ):
        plant.sql(f"ALTER TABLE {s}.rooms ADD {definition}")
    # name: what it indexes; the last two are still duplicates (the same rule twice; a plain beside a covering one)
    indexes = {
        "rooms_a_plain": "UNIQUE INDEX {name} ON {table} (a)",
        "rooms_a_nnd": "UNIQUE INDEX {name} ON {table} (a) NULLS NOT DISTINCT",
        "rooms_b_plain": "UNIQUE INDEX {name} ON {table} (b)",
        "rooms_f_inc_a": "INDEX {name} ON {table} (f) INCLUDE (a)",
        "rooms_f_inc_b": "INDEX {name} ON {table} (f) INCLUDE (b)",
        "rooms_a_nnd_again": "UNIQUE INDEX {name} ON {table} (a) NULLS NOT DISTINCT",
        "rooms_f": "INDEX {name} ON {table} (f)",
    }
    for name, definition in indexes.items():
        plant.sql("CREATE " + definition.format(name=name, table=f"{s}.rooms"))
    _, found = report(plant)
    duplicates = {obj for code, obj in found if code == "duplicate_index" and obj.startswith(f"{s}.rooms")}
    assert duplicates == {f"{s}.rooms_a_nnd_again", f"{s}.rooms_f"}
    plant.sql(f"CREATE INDEX rooms_f_a ON {s}.rooms (f, a)")
    _, found = report(plant)
    redundant = {obj for code, obj in found if code == "redundant_index" and obj.startswith(f"{s}.rooms")}
    assert f"{s}.rooms_f_inc_a" in redundant and f"{s}.rooms_f_inc_b" not in redundant  # (f, a) has no b


def test_redundant_index(plant):
    s = plant.schema
    plant.table("t", "a int, b int, c int")
    plant.sql(f"CREATE INDEX t_a ON {s}.t (a)")
    plant.sql(f"CREATE INDEX t_a_b ON {s}.t (a, b)")
    # Healthy: not a leading prefix, unique (a rule, not a speed-up), another predicate.
    plant.sql(f"CREATE INDEX t_b ON {s}.t (b)")
    plant.sql(f"CREATE UNIQUE INDEX t_c_uniq ON {s}.t (c)")
    plant.sql(f"CREATE INDEX t_c_a ON {s}.t (c, a)")
    plant.sql(f"CREATE INDEX t_b_partial ON {s}.t (b) WHERE b > 0")
    plant.sql(f"CREATE INDEX t_b_c ON {s}.t (b, c)")
    _, found = report(plant)
    assert {obj for code, obj in found if code == "redundant_index"} == {f"{s}.t_a", f"{s}.t_b"}


def test_missing_fk_index(plant):
    s = plant.schema
    plant.table("parent", "id int PRIMARY KEY")
    plant.table("orphan", f"id int PRIMARY KEY, parent_id int REFERENCES {s}.parent")
    plant.table("served", f"id int PRIMARY KEY, parent_id int REFERENCES {s}.parent, at timestamptz")
    plant.sql(f"CREATE INDEX served_parent_at ON {s}.served (parent_id, at)")
    result, found = report(plant)
    assert ("missing_fk_index", f"{s}.orphan.parent_id") in found
    assert not any(obj.startswith(f"{s}.served") for _, obj in found)
    fix = next(f.fix for f in result.findings if f.code == "missing_fk_index" and f.schema == s)
    assert fix == f"CREATE INDEX CONCURRENTLY orphan_parent_id_idx ON {s}.orphan USING btree (parent_id);"


def test_a_partitioned_table_s_foreign_key_is_served_by_an_index_on_every_partition(plant):
    s = plant.schema
    plant.table("parent", "id int PRIMARY KEY")
    plant.sql(f"CREATE TABLE {s}.orders (id int, parent_id int REFERENCES {s}.parent) PARTITION BY RANGE (id)")
    for n in (1, 2):
        plant.sql(f"CREATE TABLE {s}.orders_{n} PARTITION OF {s}.orders FOR VALUES FROM ({n}0) TO ({n + 1}0)")
    plant.sql(f"CREATE INDEX orders_1_parent ON {s}.orders_1 (parent_id)")
    _, found = report(plant)
    assert ("missing_fk_index", f"{s}.orders.parent_id") in found  # orders_2 has none: its deletes would scan it
    plant.sql(f"CREATE INDEX orders_2_parent ON {s}.orders_2 (parent_id)")
    _, found = report(plant)
    assert not [obj for code, obj in found if code == "missing_fk_index" and obj.startswith(f"{s}.orders")]


def test_a_fix_names_its_new_index_with_a_name_the_schema_does_not_hold_yet(plant):
    s = plant.schema
    plant.table("parent", "id int PRIMARY KEY")
    plant.table("orphan", f"id int PRIMARY KEY, parent_id int REFERENCES {s}.parent, note text")
    # The name the fix would choose is an index's already, the next one a table's.
    plant.sql(f"CREATE INDEX orphan_parent_id_idx ON {s}.orphan (note)")
    plant.table("orphan_parent_id_idx1", "x int")
    result, _ = report(plant)
    fix = next(f.fix for f in result.findings if f.code == "missing_fk_index" and f.schema == s)
    assert fix == f"CREATE INDEX CONCURRENTLY orphan_parent_id_idx2 ON {s}.orphan USING btree (parent_id);"
    # /indexes/ reads no tables, and one index's page only its table's indexes: the names are read all the same.
    indexes_only = health_report(indexes_only=True)
    assert fix == next(f.fix for f in indexes_only.findings if f.code == "missing_fk_index" and f.schema == s)
    # Names given to two fixes of one snapshot differ; the same fix asks again and gets the same name.
    snapshot = dataclasses.replace(result.snapshot)
    first = snapshot.new_index_name(s, "orphan", "parent_id", suffix="idx", owner="one")
    second = snapshot.new_index_name(s, "orphan", "parent_id", suffix="idx", owner="two")
    assert (first, second) == ("orphan_parent_id_idx2", "orphan_parent_id_idx3")
    assert snapshot.new_index_name(s, "orphan", "parent_id", suffix="idx", owner="one") == first
    # One index's page reads the names that start with its table's (LIKE's own characters are literal there).
    names = {r.name for r in relation_names_starting(s, "orphan")}
    assert {"orphan", "orphan_parent_id_idx", "orphan_parent_id_idx1", "orphan_pkey"} <= names
    assert "parent" not in names
    assert not relation_names_starting(s, "orph_n") and not relation_names_starting(s, "orph%")
    plant.sql(fix)
    _, found = report(plant)
    assert ("missing_fk_index", f"{s}.orphan.parent_id") not in found


def test_one_tables_names_are_read_by_their_first_48_bytes(plant):
    """A 63-byte name's new index names are cut inside it: a sibling's index can hold the numbered one."""
    s = plant.schema
    table = "表" * 21  # 21 characters, 63 bytes in UTF-8
    plant.table(f'"{table}"', "id int PRIMARY KEY, x int")
    plant.table(f'"{"表" * 20}X"', "id int PRIMARY KEY, x int")
    plant.sql(f'CREATE INDEX "{"表" * 20}1" ON {s}."{"表" * 20}X" (x)')
    prefix = identifiers.first_bytes(table, 48)
    assert prefix == "表" * 16
    assert f"{'表' * 20}1" in {r.name for r in relation_names_starting(s, prefix)}


def test_new_index_names_are_cut_to_63_bytes_before_their_number():
    long_table = "t" * 70
    assert identifiers.index_name_for(long_table, "a") == "t" * 63
    taken = {"t" * 63, "t" * 62 + "1"}
    assert identifiers.index_name_for(long_table, "a", taken=taken) == "t" * 62 + "2"


def test_missing_fk_index_quotes_identifiers(plant):
    s = plant.schema
    plant.table('"Parent"', "id int PRIMARY KEY")
    plant.table('"Child Table"', f'id int PRIMARY KEY, "user" int REFERENCES {s}."Parent"')
    result, _ = report(plant)
    fix = next(f.fix for f in result.findings if f.code == "missing_fk_index" and f.schema == s)
    assert fix == f'CREATE INDEX CONCURRENTLY "Child Table_user_idx" ON {s}."Child Table" USING btree ("user");'


def test_bloated_index(plant):
    s = plant.schema
    for name, rows in (("churned", 40_000), ("steady", 2_000)):
        plant.table(name, "id int, note text", rows=rows, fill="i, 'n' || i")
        plant.sql(f"CREATE INDEX {name}_id ON {s}.{name} (id)")
    plant.sql(f"DELETE FROM {s}.churned WHERE id > 2000")  # noqa: S608 -- a test schema name
    plant.sql(f"VACUUM ANALYZE {s}.churned")
    plant.sql(f"VACUUM ANALYZE {s}.steady")
    result, found = report(plant)
    assert ("bloated_index", f"{s}.churned_id") in found
    assert ("bloated_index", f"{s}.steady_id") not in found
    bloat = result.snapshot.bloat[f"{s}.churned_id"]
    assert bloat.wasted_ratio > 0.8 and not bloat.exact
    fix = next(f.fix for f in result.findings if f.code == "bloated_index" and f.schema == s)
    assert fix == f"REINDEX INDEX CONCURRENTLY {s}.churned_id;"


def test_vector_column_unindexed(plant):
    s = plant.schema
    plant.table("bare", "id int, embedding vector(3)", rows=50, fill="i, ARRAY[i, 1, 2]::vector")
    plant.table("indexed", "id int, embedding vector(3)", rows=50, fill="i, ARRAY[i, 1, 2]::vector")
    plant.table("empty_column", "id int, embedding vector(3)", rows=50, fill="i, NULL")
    plant.sql(f"CREATE INDEX indexed_hnsw ON {s}.indexed USING hnsw (embedding vector_l2_ops)")
    plant.sql(f"ANALYZE {s}.bare, {s}.indexed, {s}.empty_column")
    result, found = report(plant)
    assert ("vector_column_unindexed", f"{s}.bare.embedding") in found
    assert not any(code.startswith("vector") for code, obj in found if obj != f"{s}.bare.embedding")
    fix = next(f.fix for f in result.findings if f.code == "vector_column_unindexed" and f.schema == s)
    assert fix.startswith(
        f"CREATE INDEX CONCURRENTLY bare_embedding_hnsw ON {s}.bare USING hnsw (embedding vector_cosine_ops);"
    )
    # Declared without dimensions: no index accepts it as it is; the fix is advice, not a CREATE that fails.
    plant.table("free", "id int, embedding vector", rows=50, fill="i, ARRAY[i, 1, 2]::vector")
    plant.sql(f"ANALYZE {s}.free")
    result, _ = report(plant)
    (free,) = [f for f in result.findings if f.code == "vector_column_unindexed" and f.table == "free"]
    assert all(line.startswith("--") for line in free.fix.splitlines())
    assert f"ALTER TABLE {s}.free ALTER COLUMN embedding TYPE vector(N);" in free.fix
    # Rows but no ANALYZE yet: whether any of them holds a vector is unknown, and the finding says so.
    plant.table("unanalyzed", "id int, embedding vector(3)", rows=50, fill="i, NULL")
    result, _ = report(plant)
    (unanalyzed,) = [f for f in result.findings if f.code == "vector_column_unindexed" and f.table == "unanalyzed"]
    assert "may hold vectors (not analyzed yet)" in unanalyzed.message
    bare = next(f for f in result.findings if f.code == "vector_column_unindexed" and f.table == "bare")
    assert "holds vectors but" in bare.message


def test_vector_dims_unindexable(plant):
    s = plant.schema
    plant.table("wide", "id int, embedding vector(3072)")
    plant.table("wide_cast", "id int, embedding vector(3072)")
    plant.table("huge_half", "id int, embedding halfvec(4001)")
    plant.table("fits", "id int, embedding vector(2000)")
    plant.sql(
        f"CREATE INDEX wide_cast_hnsw ON {s}.wide_cast USING hnsw ((embedding::halfvec(3072)) halfvec_cosine_ops)"
    )
    result, found = report(plant)
    assert ("vector_dims_unindexable", f"{s}.wide.embedding") in found
    assert ("vector_dims_unindexable", f"{s}.huge_half.embedding") in found
    assert not any(code.startswith("vector") and obj.startswith((f"{s}.wide_cast", f"{s}.fits")) for code, obj in found)
    fixes = {f.table: f.fix for f in result.findings if f.code == "vector_dims_unindexable" and f.schema == s}
    assert "USING hnsw ((embedding::halfvec(3072)) halfvec_cosine_ops)" in fixes["wide"]
    assert "ORDER BY embedding::halfvec(3072) <=> $1::halfvec(3072)" in fixes["wide"]
    assert "binary_quantize(embedding)::bit(4001)" in fixes["huge_half"]
    # The fix really builds an index PostgreSQL accepts, and the finding goes away.
    plant.sql(fixes["wide"].replace("CONCURRENTLY ", ""))
    _, found = report(plant)
    assert ("vector_dims_unindexable", f"{s}.wide.embedding") not in found


def test_ivfflat_lists_mismatch(plant):
    s = plant.schema
    fill = "i, ARRAY[random(), random(), random()]::vector"
    for name, lists in (("toomany", 100), ("fitting", 2)):
        plant.table(name, "id int, embedding vector(3)", rows=2000, fill=fill)
        plant.sql(
            f"CREATE INDEX {name}_ivf ON {s}.{name} USING ivfflat (embedding vector_l2_ops) WITH (lists = {lists})"
        )
        plant.sql(f"ANALYZE {s}.{name}")
    result, found = report(plant)
    assert ("ivfflat_lists_mismatch", f"{s}.toomany_ivf") in found
    assert ("ivfflat_lists_mismatch", f"{s}.fitting_ivf") not in found
    fix = next(f.fix for f in result.findings if f.code == "ivfflat_lists_mismatch" and f.schema == s)
    assert fix.startswith(f"ALTER INDEX {s}.toomany_ivf SET (lists = 2);\nREINDEX INDEX CONCURRENTLY")
    # The fix's statements run (here without CONCURRENTLY: this connection is in a transaction).
    with connection.cursor() as cur:
        for statement in fix.split(";\n")[:2]:
            cur.execute(statement.replace("CONCURRENTLY ", ""))


def test_hnsw_build_memory(plant):
    s = plant.schema
    fill = "i, (SELECT array_agg(random()) FROM generate_series(1, 64) WHERE i > 0)::vector"
    for name, rows in (("big", 2000), ("small", 200)):
        plant.table(name, "id int, embedding vector(64)", rows=rows, fill=fill)
        plant.sql(f"CREATE INDEX {name}_hnsw ON {s}.{name} USING hnsw (embedding vector_l2_ops) WITH (m = 16)")
        plant.sql(f"ANALYZE {s}.{name}")
    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1MB'")
    result, found = report(plant)
    assert ("hnsw_build_memory", f"{s}.big_hnsw") in found
    assert ("hnsw_build_memory", f"{s}.small_hnsw") not in found
    fix = next(f.fix for f in result.findings if f.code == "hnsw_build_memory" and f.schema == s)
    assert fix == (
        f"SET maintenance_work_mem = '64MB';  -- in the session that rebuilds\nREINDEX INDEX CONCURRENTLY {s}.big_hnsw;"
    )


def test_stale_statistics(plant):
    s = plant.schema
    plant.table("never", "id int", rows=2000, fill="i")
    plant.table("drifted", "id int", rows=1000, fill="i")
    plant.table("fresh", "id int", rows=2000, fill="i")
    # Below the row floor (STALE_STATISTICS_MIN_ROWS, 1,000): never analyzed, or changed 50×, and still silent.
    plant.table("tiny_never", "id int", rows=40, fill="i")
    plant.table("tiny_drifted", "id int", rows=10, fill="i")
    plant.sql(f"ANALYZE {s}.drifted, {s}.fresh, {s}.tiny_drifted")
    plant.sql(f"INSERT INTO {s}.drifted SELECT i FROM generate_series(1, 10000) AS i")  # noqa: S608 -- a test schema name
    plant.sql(f"INSERT INTO {s}.fresh SELECT i FROM generate_series(1, 10) AS i")  # noqa: S608 -- a test schema name
    plant.sql(f"INSERT INTO {s}.tiny_drifted SELECT i FROM generate_series(1, 500) AS i")  # noqa: S608 -- a test schema name
    plant.flush_stats()
    _, found = report(plant)
    stale = {obj for code, obj in found if code == "stale_statistics"}
    assert stale == {f"{s}.never", f"{s}.drifted"}
    # The floor is a setting: at 0, the tiny tables are reported too.
    _, found = report(plant, stale_statistics_min_rows=0)
    assert {f"{s}.tiny_never", f"{s}.tiny_drifted"} <= {obj for code, obj in found if code == "stale_statistics"}


def test_vacuum_overdue(plant):
    s = plant.schema
    for name in ("dirty", "clean"):
        plant.table(name, "id int", rows=1000, fill="i")
        plant.sql(f"VACUUM ANALYZE {s}.{name}")
        plant.sql(f"DELETE FROM {s}.{name} WHERE id > 200")  # noqa: S608 -- a test schema name
        plant.flush_stats()  # before VACUUM, which sets the dead-row count rather than adding to it
    plant.sql(f"VACUUM ANALYZE {s}.clean")
    plant.flush_stats()
    result, found = report(plant)
    assert ("vacuum_overdue", f"{s}.dirty") in found
    assert ("vacuum_overdue", f"{s}.clean") not in found
    fix = next(f.fix for f in result.findings if f.code == "vacuum_overdue" and f.schema == s)
    assert fix == f"VACUUM (ANALYZE) {s}.dirty;"


def test_sequential_scan_heavy(plant):
    s = plant.schema
    for name in ("scanned", "seeked"):
        plant.table(name, "id int PRIMARY KEY", rows=2000, fill="i")
        plant.sql(f"ANALYZE {s}.{name}")
    for _ in range(12):
        plant.sql(f"SELECT count(*) FROM {s}.scanned")  # noqa: S608 -- a test schema name
    plant.sql("SET enable_seqscan = off")
    for _ in range(12):
        plant.sql(f"SELECT id FROM {s}.seeked WHERE id = 5")  # noqa: S608 -- a test schema name
    plant.flush_stats()
    _, found = report(plant)
    assert ("sequential_scan_heavy", f"{s}.scanned") in found
    assert ("sequential_scan_heavy", f"{s}.seeked") not in found


def test_findings_are_sorted_by_severity_and_counted(plant):
    plant.table("t", "x int, y int, e vector(3000)")
    result, _ = report(plant)
    ranks = [f.severity.rank for f in result.findings]
    assert ranks == sorted(ranks, reverse=True)
    counts = result.severity_counts()
    assert list(counts) == ["critical", "warning", "info"]
    assert sum(counts.values()) == len(result.findings)


def test_the_chat_schema_is_told_about_unindexed_message_owners(db):
    # The example: conversation_messages.user_id is a foreign key no index leads with.
    result = health_report()
    assert any(
        f.code == "missing_fk_index" and f.table == "conversation_messages" and f.column == "user_id"
        for f in result.findings
    )


def test_table_sizes_add_the_indexes_measured_once_as_pg_indexes_size_would(plant):
    s = plant.schema
    plant.table("t", "id int PRIMARY KEY, x int", rows=2000, fill="i, i")
    plant.sql(f"CREATE INDEX t_x ON {s}.t (x)")
    plant.table("bare", "x int", rows=10, fill="i")
    result, _ = report(plant)
    reported = {t.name: t for t in result.snapshot.tables if t.schema == s}
    measured = {t.name: t for t in tables() if t.schema == s}
    assert reported["t"].index_bytes == measured["t"].index_bytes > 0
    assert reported["t"].total_bytes == measured["t"].total_bytes
    assert reported["bare"] == measured["bare"] and reported["bare"].index_bytes == 0


def test_the_index_list_s_report_finds_what_the_whole_report_finds_about_indexes(plant):
    # /indexes/ reads no table (indexes_only=True): its findings about indexes must be the whole report's.
    s = plant.schema
    plant.table(
        "t",
        "id int, a int, b int, flag boolean, tags text[], note text",
        rows=3000,
        fill="i, i % 50, i % 7, i % 2 = 0, ARRAY['x' || (i % 3)], CASE WHEN i % 100 = 0 THEN 'n' END",
    )
    plant.sql(f"CREATE INDEX t_a ON {s}.t (a)")
    plant.sql(f"CREATE INDEX t_a_copy ON {s}.t (a)")  # duplicate
    plant.sql(f"CREATE INDEX t_a_b ON {s}.t (a, b)")  # t_a is a prefix of it
    plant.sql(f"CREATE INDEX t_flag ON {s}.t (flag)")  # boolean alone
    plant.sql(f"CREATE INDEX t_tags ON {s}.t (tags)")  # btree over an array
    plant.sql(f"CREATE INDEX t_note ON {s}.t (note)")  # mostly NULL
    plant.sql(f"ANALYZE {s}.t")
    thresholds = Thresholds.from_settings(**LOOSE)
    whole = health_report(thresholds=thresholds)
    indexes_only = health_report(thresholds=thresholds, indexes_only=True)
    assert indexes_only.snapshot.tables == []
    # Every index, and the planted ones to the last field: other indexes' usage counters may move between the two
    # reads, when a backend flushes what an earlier test scanned (django_session's expire_date index once did).
    assert [(i.schema, i.name) for i in indexes_only.snapshot.indexes] == [
        (i.schema, i.name) for i in whole.snapshot.indexes
    ]
    assert [i for i in indexes_only.snapshot.indexes if i.schema == s] == [
        i for i in whole.snapshot.indexes if i.schema == s
    ]

    def about_indexes(report, schema=None):
        # Elsewhere, "unused" is left out: it is read from the very counters that may move.
        return [
            f
            for f in report.findings
            if f.index is not None and (f.schema == s if schema else f.schema != s and f.code != "unused_index")
        ]

    assert about_indexes(indexes_only, s) == about_indexes(whole, s)
    assert about_indexes(indexes_only) == about_indexes(whole)
    found = {(f.code, f.index) for f in about_indexes(whole, s)}
    assert {("duplicate_index", "t_a_copy"), ("boolean_index", "t_flag"), ("btree_on_array_column", "t_tags")} <= found
    assert ("no_primary_key", None) in {(f.code, f.index) for f in whole.findings if f.schema == s}  # a table's


def test_a_valid_index_named_like_a_reindex_copy_is_nobody_s_leftover(plant):
    s = plant.schema
    plant.table("t", "id int, v int", rows=10, fill="i, i")
    plant.sql(f"CREATE INDEX t_v_ccnew ON {s}.t (v)")
    plant.sql(f"CREATE INDEX t_v_ccold1 ON {s}.t (id, v)")
    _, found = report(plant)
    assert not {obj for code, obj in found if code == "invalid_index" and obj.startswith(f"{s}.")}


def test_an_invalid_partitioned_index_is_explained_as_one(plant):
    s = plant.schema
    plant.sql(f"CREATE TABLE {s}.q (id int, at int) PARTITION BY RANGE (at)")
    plant.sql(f"CREATE TABLE {s}.q1 PARTITION OF {s}.q FOR VALUES FROM (0) TO (100)")
    plant.sql(f"CREATE INDEX q_at ON ONLY {s}.q (at)")  # invalid until each partition has an index attached
    result, _ = report(plant)
    (finding,) = [f for f in result.findings if f.code == "invalid_index" and f.schema == s]
    assert "partitioned" in finding.message and "ATTACH PARTITION" in finding.message
    statements = [line for line in finding.fix.splitlines() if not line.startswith("--")]
    assert statements and not any("CONCURRENTLY" in line for line in statements)  # refused on a partitioned table
    with pytest.raises(RebuildRefused, match="ATTACH PARTITION"):
        plan_rebuild(f"{s}.q_at")


def test_an_invalid_partitioned_index_is_recreated_as_it_was_defined(plant):
    """The fix drops and recreates it over every partition: with all it was (NULLS NOT DISTINCT, a key's operator
    class and its options, storage options, a predicate), not only its columns."""
    s = plant.schema
    plant.sql(f"CREATE TABLE {s}.u (id int, code text, note text) PARTITION BY RANGE (id)")
    plant.sql(f"CREATE TABLE {s}.u1 PARTITION OF {s}.u FOR VALUES FROM (0) TO (100)")
    plant.sql(f"INSERT INTO {s}.u VALUES (1, NULL, 'a'), (2, 'x', 'b')")  # noqa: S608 -- a test schema
    plant.sql(f'CREATE UNIQUE INDEX "u code" ON ONLY {s}.u (id, code text_pattern_ops) NULLS NOT DISTINCT')
    plant.sql(
        f"CREATE INDEX u_id ON ONLY {s}.u USING brin (id int4_minmax_multi_ops (values_per_range = 16)) "
        "WITH (pages_per_range = 8) WHERE note IS NOT NULL"
    )
    defined = {name: _definition(plant, name) for name in ('"u code"', "u_id")}
    result, _ = report(plant)
    fixes = {f.index: f.fix for f in result.findings if f.code == "invalid_index" and f.schema == s}
    assert set(fixes) == {"u code", "u_id"}
    for fix in fixes.values():
        run_fix(plant, fix)
    _, found = report(plant)
    assert not [obj for code, obj in found if code == "invalid_index" and obj.startswith(f"{s}.")]
    assert {name: _definition(plant, name) for name in defined} == defined
    with pytest.raises(Exception, match="duplicate key"):  # the rule it was made for holds: one NULL code per id
        plant.sql(f"INSERT INTO {s}.u VALUES (1, NULL, 'c')")  # noqa: S608 -- a test schema


def _definition(plant, name: str) -> str:
    return plant.sql("SELECT pg_get_indexdef(%s::regclass)", [f"{plant.schema}.{name}"])[0][0]


def test_a_unique_index_whose_build_failed_says_to_remove_the_duplicates_and_is_rebuilt_as_it_was(plant):
    s = plant.schema
    plant.table("t", "x int", rows=10, fill="NULL")
    with pytest.raises(Exception, match="could not create unique index"):
        plant.sql(f"CREATE UNIQUE INDEX CONCURRENTLY t_x_uniq ON {s}.t (x) NULLS NOT DISTINCT")
    result, _ = report(plant)
    (finding,) = [f for f in result.findings if f.code == "invalid_index" and f.schema == s]
    assert "duplicate values" in finding.message
    plant.sql(f"DELETE FROM {s}.t WHERE ctid <> (SELECT min(ctid) FROM {s}.t)")  # noqa: S608 -- a test schema
    run_fix(plant, finding.fix)
    _, found = report(plant)
    assert not [obj for code, obj in found if code == "invalid_index" and obj.startswith(s)]
    with pytest.raises(Exception, match="duplicate key"):  # the rule it was built for holds: one NULL at most
        plant.sql(f"INSERT INTO {s}.t VALUES (NULL)")  # noqa: S608 -- a test schema


def test_two_foreign_keys_on_one_column_get_one_index(plant):
    s = plant.schema
    plant.table("base", "id int PRIMARY KEY", rows=5, fill="i")
    plant.table("nv", "id int PRIMARY KEY, ref int", rows=5, fill="i, i")
    plant.sql(f'ALTER TABLE {s}.nv ADD CONSTRAINT "nv fk" FOREIGN KEY (ref) REFERENCES {s}.base (id) NOT VALID')
    plant.sql(f'ALTER TABLE {s}.nv ADD CONSTRAINT "nv fk dup" FOREIGN KEY (ref) REFERENCES {s}.base (id) DEFERRABLE')
    result, _ = report(plant)
    fixes = [f.fix for f in result.findings if f.code == "missing_fk_index" and f.schema == s]
    assert len(fixes) == 1 and "CREATE INDEX" in fixes[0]


def test_an_invalid_partitioned_index_behind_a_constraint_is_repaired_partition_by_partition(plant):
    s = plant.schema
    plant.sql(f"CREATE TABLE {s}.m (id int, d int) PARTITION BY RANGE (d)")
    plant.sql(f"CREATE TABLE {s}.m1 PARTITION OF {s}.m FOR VALUES FROM (0) TO (10)")
    plant.sql(f"ALTER TABLE ONLY {s}.m ADD CONSTRAINT m_uq UNIQUE (id, d)")  # invalid until m1's is attached
    result, _ = report(plant)
    (finding,) = [f for f in result.findings if f.code == "invalid_index" and f.schema == s]
    assert all(line.startswith("--") for line in finding.fix.splitlines())  # DROP INDEX would be refused
    assert "ATTACH PARTITION" in finding.fix and "m_uq" in finding.fix
    assert "remove them first" in finding.message  # a unique one: duplicates in a partition stop the repair


def test_keys_to_two_tables_whose_names_read_alike_are_no_duplicates(plant):
    s = plant.schema
    other = f"{s}.z"
    plant.sql(f'CREATE SCHEMA "{other}"')
    try:
        plant.sql(f'CREATE TABLE "{other}".t (id int PRIMARY KEY)')
        plant.sql(f'CREATE TABLE {s}."z.t" (id int PRIMARY KEY)')
        plant.sql(f'CREATE TABLE {s}.child (x int PRIMARY KEY REFERENCES "{other}".t (id) REFERENCES {s}."z.t" (id))')
        _, found = report(plant)
        assert not [obj for code, obj in found if code == "duplicate_foreign_key" and obj.startswith(f"{s}.child")]
    finally:
        plant.sql(f'DROP SCHEMA "{other}" CASCADE')


def test_a_tables_index_sizes_and_scans_are_those_of_its_indexes(plant):
    # The full snapshot sums them from the indexes it read (tables(measure_indexes=False) leaves them 0): the same
    # figures as pg_indexes_size() and the sum of pg_stat_get_numscans() over the table's indexes.
    s = plant.schema
    plant.table("scanned", "id int PRIMARY KEY, x int", rows=50, fill="i, i % 5")
    plant.sql(f"CREATE INDEX scanned_x ON {s}.scanned (x)")
    plant.table("bare", "x int")
    snapshot = health_report(hide_framework=False).snapshot

    def figures(rows):
        return {t.name: (t.index_bytes, t.total_bytes, t.index_scans) for t in rows if t.schema == s}

    assert figures(snapshot.tables) == figures(tables())
    assert figures(snapshot.tables)["bare"][0] == 0
    # Counters this test's own transaction moved are not flushed yet: the sum is checked on counts set by hand.
    counted = [dataclasses.replace(i, scans=n) for n, i in enumerate(snapshot.indexes, 1) if i.schema == s]
    summed = _with_index_figures(tables(measure_indexes=False), counted)
    assert figures(summed)["scanned"][2] == sum(i.scans for i in counted if i.table == "scanned") > 0


def test_an_exclusion_constraint_s_index_is_rebuilt_without_concurrently(plant):
    """PostgreSQL refuses REINDEX CONCURRENTLY for it: the fix says so and takes the lock instead of failing."""
    from schemaadmin.pg.indexes import index
    from schemaadmin.services.index_health.index_rules import _rebuild

    s = plant.schema
    plant.table("bx", "id int, during tsrange")
    plant.sql(f"ALTER TABLE {s}.bx ADD CONSTRAINT bx_no_overlap EXCLUDE USING gist (during WITH &&)")
    plant.sql(f"CREATE INDEX bx_id ON {s}.bx (id)")
    excluding, plain = index(s, "bx_no_overlap"), index(s, "bx_id")
    fix = _rebuild(excluding)
    assert fix.splitlines()[-1] == f"REINDEX INDEX {s}.bx_no_overlap;" and "blocks writes" in fix
    run_fix(plant, fix)
    assert _rebuild(plain) == f"REINDEX INDEX CONCURRENTLY {s}.bx_id;"


def test_a_name_with_a_line_break_never_reaches_a_fix_to_copy(plant):
    """A name is chosen by whoever may CREATE: in a comment of a fix, a line break in it would run the rest as SQL."""
    s = plant.schema
    plant.table("emb", 'id int, "e\nDROP TABLE emb; --" vector', rows=20, fill="i, ARRAY[i, 1]::vector")
    plant.table("plain", "id int, e vector", rows=20, fill="i, ARRAY[i, 1]::vector")
    plant.sql(f"ANALYZE {s}.emb, {s}.plain")
    result, _ = report(plant)
    fixes = {f.table: f.fix for f in result.findings if f.code == "vector_column_unindexed" and f.schema == s}
    assert fixes["emb"].startswith("-- No SQL to copy: a name or a value in it holds a line break")
    assert all(line.startswith("--") for line in fixes["emb"].splitlines())
    assert "ALTER TABLE" in fixes["plain"]  # a name without one keeps its fix


def test_an_index_predicate_with_a_line_break_never_reaches_a_fix_to_copy(plant):
    """The "to restore it" comment of an unused index quotes its definition: a constant there is anyone's text."""
    s = plant.schema
    plant.table("notes", "id int, note text", rows=3000, fill="i, 'n' || i")
    for name, constant in (("notes_idle", f"E'x\\nDROP TABLE {s}.notes; --'"), ("notes_plain", "'it''s'")):
        plant.sql(f"CREATE INDEX {name} ON {s}.notes (id) WHERE note <> {constant}")
    result, _ = report(plant)
    fixes = {f.index: f.fix for f in result.findings if f.code == "unused_index" and f.schema == s}
    assert fixes["notes_idle"].startswith("-- No SQL to copy")
    assert all(line.startswith("--") for line in fixes["notes_idle"].splitlines())
    assert "-- to restore it: CREATE INDEX CONCURRENTLY notes_plain" in fixes["notes_plain"]
