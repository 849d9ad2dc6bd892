"""The health codes added for issue 14: each found on a planted object, silent on a healthy look-alike."""

from __future__ import annotations

import dataclasses

import psycopg
from django.db import connection

from schemaadmin.pg.connection import connection_params
from schemaadmin.services.index_health import Severity, Thresholds, evaluate
from tests.services.health_report import LOOSE, fixes, report, run_fix, run_fix_in_test_transaction
from tests.versions import skip_below


def test_no_primary_key(plant):
    s = plant.schema
    plant.table("bare", "x int")
    plant.table("uniq", "x int NOT NULL")
    plant.sql(f"CREATE UNIQUE INDEX uniq_x ON {s}.uniq (x)")
    plant.table("keyed", "id int PRIMARY KEY")
    plant.sql(f"CREATE TABLE {s}.parted (at date NOT NULL) PARTITION BY RANGE (at)")
    plant.sql(f"CREATE TABLE {s}.parted_2026 PARTITION OF {s}.parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
    plant.sql(f"CREATE TABLE {s}.by_expression (at date NOT NULL) PARTITION BY RANGE ((at + 1))")
    plant.sql(f"CREATE MATERIALIZED VIEW {s}.summary AS SELECT 1 AS one")
    # An id column already there, of its own or inherited: adding another would fail.
    plant.table("with_id", "id int, note text", rows=20, fill="i, 'n' || i")
    plant.sql(f"CREATE TABLE {s}.keyed_parent (id int PRIMARY KEY)")
    plant.sql(f"CREATE TABLE {s}.heir (extra int) INHERITS ({s}.keyed_parent)")
    # Unique indexes PostgreSQL would not take as a primary key's: not offered (the fix would fail).
    plant.table("uniq_desc", "code text NOT NULL")
    plant.sql(f"CREATE UNIQUE INDEX uniq_desc_code ON {s}.uniq_desc (code DESC)")
    plant.sql(f"CREATE UNIQUE INDEX uniq_desc_pattern ON {s}.uniq_desc (code text_pattern_ops)")
    plant.sql(f"CREATE UNIQUE INDEX parted_at ON {s}.parted (at)")
    result, found = report(plant)
    flagged = {obj for code, obj in found if code == "no_primary_key"}
    # The partition is told through its parent; a materialized view cannot have a key; a child inherits none.
    assert flagged == {
        f"{s}.bare",
        f"{s}.uniq",
        f"{s}.parted",
        f"{s}.by_expression",
        f"{s}.with_id",
        f"{s}.heir",
        f"{s}.uniq_desc",
    }
    fix = fixes(result, "no_primary_key", s)
    assert fix[f"{s}.bare"].endswith(
        f"ALTER TABLE {s}.bare ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;"
    )
    assert fix[f"{s}.uniq"].endswith(f"ALTER TABLE {s}.uniq ADD PRIMARY KEY USING INDEX uniq_x;")
    assert "USING INDEX" not in fix[f"{s}.uniq_desc"]
    for table in ("with_id", "heir"):
        assert fix[f"{s}.{table}"].endswith(
            f"CREATE UNIQUE INDEX CONCURRENTLY {table}_pkey ON {s}.{table} USING btree (id);\n"
            f"ALTER TABLE {s}.{table} ADD PRIMARY KEY USING INDEX {table}_pkey;"
        )
    # A partitioned table's key must hold its partition key: said, with the statement to complete.
    assert fix[f"{s}.parted"].endswith(f"-- ALTER TABLE {s}.parted ADD PRIMARY KEY (at, unique_column);")
    assert "expression" in fix[f"{s}.by_expression"] and "ALTER TABLE" not in fix[f"{s}.by_expression"]
    assert next(f for f in result.findings if f.object == f"{s}.bare").severity is Severity.WARNING

    for table in ("uniq", "bare", "with_id", "heir", "uniq_desc"):
        run_fix(plant, fix[f"{s}.{table}"])
    plant.sql(f"ALTER TABLE {s}.parted ADD PRIMARY KEY (at)")  # the partition key alone is unique here (no rows)
    _, found = report(plant)
    assert {obj for code, obj in found if code == "no_primary_key"} == {f"{s}.by_expression"}


def test_a_table_partitioned_on_two_levels_is_told_every_level_s_partition_key(plant):
    # The key must hold the sub-partitions' key columns too: ADD PRIMARY KEY (created, id) failed with "unique
    # constraint on partitioned table must include all partitioning columns".
    s = plant.schema
    plant.sql(
        f"CREATE TABLE {s}.events (id int NOT NULL, created date NOT NULL, kind text NOT NULL)"
        " PARTITION BY RANGE (created)"
    )
    plant.sql(
        f"CREATE TABLE {s}.events_2026 PARTITION OF {s}.events FOR VALUES FROM ('2026-01-01') TO "
        "('2027-01-01') PARTITION BY LIST (kind)"
    )
    plant.sql(f"CREATE TABLE {s}.events_2026_web PARTITION OF {s}.events_2026 FOR VALUES IN ('web')")
    result, _ = report(plant)
    fix = fixes(result, "no_primary_key", s)[f"{s}.events"]
    assert fix.endswith(f"-- ALTER TABLE {s}.events ADD PRIMARY KEY (created, kind, unique_column);")
    run_fix_in_test_transaction(fix.rsplit("-- ", 1)[1].replace("unique_column", "id"))  # completed as said: it runs
    _, found = report(plant)
    assert ("no_primary_key", f"{s}.events") not in found


def test_a_table_of_1600_columns_is_not_told_to_add_one(plant):
    s = plant.schema
    plant.table("wide", ", ".join(f"c{i} int" for i in range(1600)))
    plant.table("narrow", "c int")
    result, _ = report(plant)
    fix = fixes(result, "no_primary_key", s)
    assert "ADD COLUMN" not in fix[f"{s}.wide"] and "1,600 columns" in fix[f"{s}.wide"]
    assert "ADD COLUMN id bigint" in fix[f"{s}.narrow"]


def _plant_churn(plant):
    s = plant.schema
    for name in ("churned", "steady"):
        plant.table(name, "id int, note text", rows=40_000, fill="i, 'n' || i")
    # Every page keeps a row, so VACUUM cannot truncate the file: 95% of it is reusable but not returned.
    plant.sql(f"DELETE FROM {s}.churned WHERE id % 20 <> 0")  # noqa: S608 -- a test schema name
    plant.sql(f"VACUUM ANALYZE {s}.churned")
    plant.sql(f"VACUUM ANALYZE {s}.steady")


def test_table_bloat_estimated(plant):
    s = plant.schema
    _plant_churn(plant)
    result, found = report(plant)
    assert ("table_bloat", f"{s}.churned") in found
    assert ("table_bloat", f"{s}.steady") not in found
    bloat = result.snapshot.table_bloat[f"{s}.churned"]
    assert not bloat.exact and bloat.wasted_ratio > 0.8
    assert result.snapshot.table_bloat[f"{s}.steady"].wasted_ratio < 0.2
    churned = next(f for f in result.findings if f.code == "table_bloat" and f.schema == s)
    assert "estimated from statistics" in churned.message
    assert churned.fix.endswith(f"VACUUM (FULL, ANALYZE) {s}.churned;")
    run_fix(plant, churned.fix)
    _, found = report(plant)
    assert ("table_bloat", f"{s}.churned") not in found


def test_table_bloat_measured_with_pgstattuple(plant, superuser_sql):
    s = plant.schema
    _plant_churn(plant)
    role = connection.settings_dict["USER"]
    superuser_sql("CREATE EXTENSION IF NOT EXISTS pgstattuple")
    superuser_sql(f'GRANT pg_stat_scan_tables TO "{role}"')
    try:
        result, found = report(plant)
    finally:
        superuser_sql("DROP EXTENSION pgstattuple")
        superuser_sql(f'REVOKE pg_stat_scan_tables FROM "{role}"')
    assert result.snapshot.statistics.pgstattuple_approx_usable
    assert ("table_bloat", f"{s}.churned") in found
    assert ("table_bloat", f"{s}.steady") not in found
    assert result.snapshot.table_bloat[f"{s}.churned"].exact
    churned = next(f for f in result.findings if f.code == "table_bloat" and f.schema == s)
    assert "measured with pgstattuple_approx()" in churned.message


def test_index_bloat_is_estimated_when_this_role_may_not_run_pgstatindex(plant, superuser_sql):
    s = plant.schema
    plant.table("t", "id int", rows=5000, fill="i")
    plant.sql(f"CREATE INDEX t_id ON {s}.t (id)")
    plant.sql(f"ANALYZE {s}.t")
    superuser_sql("CREATE EXTENSION IF NOT EXISTS pgstattuple")
    try:
        # Our role reaches pgstatindex() through pg_monitor's pg_stat_scan_tables; take that away.
        superuser_sql("REVOKE EXECUTE ON FUNCTION pgstatindex(regclass) FROM pg_stat_scan_tables")
        refused, _ = report(plant)
        superuser_sql("GRANT EXECUTE ON FUNCTION pgstatindex(regclass) TO pg_stat_scan_tables")
        granted, _ = report(plant)
    finally:
        superuser_sql("DROP EXTENSION pgstattuple")
    assert refused.snapshot.statistics.pgstattuple_installed
    assert not refused.snapshot.statistics.pgstatindex_usable
    assert not refused.snapshot.bloat[f"{s}.t_id"].exact  # estimated instead of failing the whole report
    assert granted.snapshot.statistics.pgstatindex_usable and granted.snapshot.bloat[f"{s}.t_id"].exact


def test_sequence_near_max(plant):
    s = plant.schema
    plant.sql(f"CREATE SEQUENCE {s}.small_seq AS integer")
    plant.sql(f"SELECT setval('{s}.small_seq', 2000000000)")
    # A bigint sequence behind an integer column runs out at the column's bound.
    plant.sql(f"CREATE SEQUENCE {s}.orders_id_seq AS bigint")
    plant.table("orders", f"id int DEFAULT nextval('{s}.orders_id_seq')")
    plant.sql(f"ALTER SEQUENCE {s}.orders_id_seq OWNED BY {s}.orders.id")
    plant.sql(f"SELECT setval('{s}.orders_id_seq', 2000000000)")
    # Healthy: the same value in a bigint sequence, an early one, one never used, one that cycles.
    plant.sql(f"CREATE SEQUENCE {s}.big_seq AS bigint")
    plant.sql(f"SELECT setval('{s}.big_seq', 2000000000)")
    plant.sql(f"CREATE SEQUENCE {s}.young_seq AS integer")
    plant.sql(f"SELECT setval('{s}.young_seq', 10)")
    plant.sql(f"CREATE SEQUENCE {s}.unused_seq AS smallint")
    plant.sql(f"CREATE SEQUENCE {s}.ring_seq AS smallint CYCLE")
    plant.sql(f"SELECT setval('{s}.ring_seq', 32000)")
    result, found = report(plant)
    assert {obj for code, obj in found if code == "sequence_near_max"} == {f"{s}.small_seq", f"{s}.orders_id_seq"}
    fix = fixes(result, "sequence_near_max", s)
    assert fix[f"{s}.small_seq"] == f"ALTER SEQUENCE {s}.small_seq AS bigint;"
    assert fix[f"{s}.orders_id_seq"].endswith(f"ALTER TABLE {s}.orders ALTER COLUMN id TYPE bigint;")
    orders = next(f for f in result.findings if f.object == f"{s}.orders_id_seq")
    assert orders.severity is Severity.CRITICAL and orders.table == "orders"
    assert "orders.id (integer)" in orders.message and "2,147,483,647" in orders.message
    # Reading a sequence's last value locks it until the transaction ends: the fix runs in the same one.
    run_fix_in_test_transaction(fix[f"{s}.small_seq"])
    run_fix_in_test_transaction(fix[f"{s}.orders_id_seq"])
    _, found = report(plant)
    assert not [obj for code, obj in found if code == "sequence_near_max"]


def test_a_serial_or_identity_column_near_its_end_is_made_bigint_with_the_columns_referencing_it(plant):
    s = plant.schema
    plant.table("serial_t", "id serial PRIMARY KEY, note text")
    plant.table("serial_child", f"parent_id int REFERENCES {s}.serial_t")
    plant.table("identity_t", "id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    plant.table("small_t", "id smallserial")
    plant.sql(f"CREATE SEQUENCE {s}.capped_seq AS bigint MAXVALUE 100")
    near_their_end = {"serial_t_id_seq": 2147483000, "identity_t_id_seq": 2147483000, "small_t_id_seq": 32700}
    for name, value in {**near_their_end, "capped_seq": 99}.items():
        plant.sql(f"SELECT setval('{s}.{name}', {value})")
    result, found = report(plant)
    assert {obj for code, obj in found if code == "sequence_near_max"} == {
        f"{s}.{name}" for name in (*near_their_end, "capped_seq")
    }
    fix = fixes(result, "sequence_near_max", s)
    serial = fix[f"{s}.serial_t_id_seq"]
    assert f"ALTER TABLE {s}.serial_t ALTER COLUMN id TYPE bigint;" in serial
    assert f"ALTER TABLE {s}.serial_child ALTER COLUMN parent_id TYPE bigint;" in serial
    assert serial.endswith(f"ALTER SEQUENCE {s}.serial_t_id_seq AS bigint;")
    assert "ALTER SEQUENCE" not in fix[f"{s}.identity_t_id_seq"]  # the identity's sequence follows its column
    assert fix[f"{s}.capped_seq"].endswith(f"ALTER SEQUENCE {s}.capped_seq NO MAXVALUE;")
    capped = next(f for f in result.findings if f.object == f"{s}.capped_seq")
    assert "the most its MAXVALUE can hold" in capped.message
    # Each fix, run, leaves room past the old limit: the next value goes in.
    for name, table in (
        ("serial_t_id_seq", "serial_t"),
        ("identity_t_id_seq", "identity_t"),
        ("small_t_id_seq", "small_t"),
    ):
        run_fix_in_test_transaction(
            fix[f"{s}.{name}"]
            + f"\nSELECT setval('{s}.{name}', 9000000000);"
            + f"\nINSERT INTO {s}.{table} DEFAULT VALUES;"
        )
    run_fix_in_test_transaction(fix[f"{s}.capped_seq"] + f"\nSELECT setval('{s}.capped_seq', 1000);")


def test_a_sequence_another_session_holds_is_read_around_not_waited_for(plant):
    # pg_sequence_last_value() waits behind an ACCESS EXCLUSIVE on the sequence (TRUNCATE … RESTART IDENTITY, ALTER
    # SEQUENCE, an identity column's ALTER TYPE left open): every health page answered 503 after its lock_timeout,
    # and index_health waited for ever. Here a lock_timeout makes the old wait an error instead of a hang.
    from tests.blocking import holding

    s = plant.schema
    for name in ("held_seq", "free_seq"):
        plant.sql(f"CREATE SEQUENCE {s}.{name} AS integer")
        plant.sql(f"SELECT setval('{s}.{name}', 2000000000)")
    with connection.cursor() as cur:
        cur.execute("SET LOCAL lock_timeout = '3s'")
    with holding(f"ALTER SEQUENCE {s}.held_seq RESTART"):
        _, found = report(plant)
    assert {obj for code, obj in found if code == "sequence_near_max"} == {f"{s}.free_seq"}


def test_the_columns_a_sequence_s_values_reach_through_any_foreign_key_are_made_bigint_where_postgresql_allows(plant):
    s = plant.schema
    plant.table("parent", "id smallserial, k int, UNIQUE (id, k), UNIQUE (id)")
    # A key of two columns, and one declared on a partition alone (its column is the partitioned table's).
    plant.table("pair_child", f"pid smallint, k int, FOREIGN KEY (k, pid) REFERENCES {s}.parent (k, id)")
    plant.sql(f"CREATE TABLE {s}.events (parent_id smallint, at int) PARTITION BY RANGE (at)")
    plant.sql(f"CREATE TABLE {s}.events_1 PARTITION OF {s}.events FOR VALUES FROM (0) TO (10)")
    plant.sql(f"ALTER TABLE {s}.events_1 ADD FOREIGN KEY (parent_id) REFERENCES {s}.parent (id)")
    # A key on a child of plain inheritance, two levels down: the column is the top table's to alter.
    plant.sql(f"CREATE TABLE {s}.logs (parent_id smallint)")
    plant.sql(f"CREATE TABLE {s}.logs_mid (note text) INHERITS ({s}.logs)")
    plant.sql(f"CREATE TABLE {s}.logs_leaf () INHERITS ({s}.logs_mid)")
    plant.sql(f"ALTER TABLE {s}.logs_leaf ADD FOREIGN KEY (parent_id) REFERENCES {s}.parent (id)")
    plant.sql(f"SELECT setval('{s}.parent_id_seq', 32700)")
    # An identity column capped by its own MAXVALUE: lifting the cap is room enough, no rewrite.
    plant.table("capped", "id int GENERATED BY DEFAULT AS IDENTITY (MAXVALUE 1000) PRIMARY KEY")
    plant.sql(f"SELECT setval('{s}.capped_id_seq', 990)")
    result, _ = report(plant)
    fix = fixes(result, "sequence_near_max", s)
    parent = fix[f"{s}.parent_id_seq"]
    assert f"ALTER TABLE {s}.pair_child ALTER COLUMN pid TYPE bigint;" in parent
    assert f"ALTER TABLE {s}.events ALTER COLUMN parent_id TYPE bigint;" in parent and "events_1" not in parent
    assert f"ALTER TABLE {s}.logs ALTER COLUMN parent_id TYPE bigint;" in parent and "logs_" not in parent
    assert fix[f"{s}.capped_id_seq"].endswith(f"ALTER SEQUENCE {s}.capped_id_seq NO MAXVALUE;")
    assert "ALTER TABLE" not in fix[f"{s}.capped_id_seq"]
    run_fix_in_test_transaction(
        parent
        + f"\nSELECT setval('{s}.parent_id_seq', 100000);"
        + f"\nINSERT INTO {s}.parent (k) VALUES (1) RETURNING id;"
        + f"\nINSERT INTO {s}.pair_child VALUES (100001, 1);"
        + f"\nINSERT INTO {s}.events VALUES (100001, 5);"
        + f"\nINSERT INTO {s}.logs_leaf VALUES (100001, 'past smallint');"
    )
    run_fix_in_test_transaction(fix[f"{s}.capped_id_seq"] + f"\nSELECT setval('{s}.capped_id_seq', 5000);")


def test_sequences_this_role_cannot_read_are_named_with_the_grant(plant, superuser_sql):
    s = plant.schema
    superuser_sql(f"CREATE SEQUENCE {s}.hidden_seq AS integer")
    superuser_sql(f"SELECT setval('{s}.hidden_seq', 2147483000)")
    result, found = report(plant)
    assert not [obj for code, obj in found if code == "sequence_near_max" and obj == f"{s}.hidden_seq"]
    hidden = next(f for f in result.findings if f.code == "sequences_unreadable")
    assert f"{s}.hidden_seq" in hidden.message and hidden.severity is Severity.WARNING
    role = connection.settings_dict["USER"]
    assert f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {role};" in hidden.fix
    superuser_sql(f"GRANT SELECT ON SEQUENCE {s}.hidden_seq TO {role}")
    result, found = report(plant)
    assert f"{s}.hidden_seq" in {obj for code, obj in found if code == "sequence_near_max"}
    assert "sequences_unreadable" not in {f.code for f in result.findings}


def test_xid_wraparound(plant):
    s = plant.schema
    plant.table("old", "id int", rows=10, fill="i")
    for _ in range(100):
        plant.sql("SELECT pg_current_xact_id()")  # each autocommit statement takes a transaction ID
    plant.table("frozen", "id int", rows=10, fill="i")
    plant.sql(f"VACUUM (FREEZE) {s}.frozen")
    result, _ = report(plant)
    ages = {t.name: t.xid_age for t in result.snapshot.tables if t.schema == s}
    assert ages["old"] - ages["frozen"] >= 90
    freeze_max_age = result.snapshot.statistics.freeze_max_age
    # Lower the bar (a share of autovacuum_freeze_max_age) to just above the frozen table's age.
    factor = (ages["frozen"] + 50) / freeze_max_age
    _, found = report(plant, xid_age_warning_factor=factor)
    assert {obj for code, obj in found if code == "xid_wraparound"} == {f"{s}.old"}
    result, found = report(plant, xid_age_warning_factor=factor, xid_age_critical_share=1e-9)
    old = next(f for f in result.findings if f.code == "xid_wraparound" and f.object == f"{s}.old")
    assert old.severity is Severity.CRITICAL
    assert old.fix == f"VACUUM (FREEZE, VERBOSE) {s}.old;"
    assert "autovacuum_freeze_max_age" in old.message
    # Databases are judged too, on the same bar: this one has been running longer than the planted table.
    database = result.snapshot.statistics.database
    assert any(f.code == "xid_wraparound" and f.object == f"database {database}" for f in result.findings)
    run_fix(plant, old.fix.replace(", VERBOSE", ""))
    _, found = report(plant, xid_age_warning_factor=factor)
    assert ("xid_wraparound", f"{s}.old") not in found


def test_xid_wraparound_counts_multixacts(plant):
    s = plant.schema
    plant.table("locked", "id int", rows=10, fill="i")
    result, _ = report(plant)
    thresholds = Thresholds.from_settings(**LOOSE)
    limit = result.snapshot.statistics.multixact_freeze_max_age
    tables = [dataclasses.replace(t, multixact_age=2 * limit) if t.schema == s else t for t in result.snapshot.tables]
    found = [f for f in evaluate(dataclasses.replace(result.snapshot, tables=tables), thresholds) if f.schema == s]
    multixact = [f for f in found if f.code == "xid_wraparound"]
    assert len(multixact) == 1 and "multixact ID" in multixact[0].message
    assert multixact[0].severity is Severity.WARNING


def test_invalid_constraint(plant):
    s = plant.schema
    plant.table("parent", "id int PRIMARY KEY")
    plant.table("t", "x int, parent_id int", rows=5, fill="i, NULL")
    plant.sql(f"ALTER TABLE {s}.t ADD CONSTRAINT t_x_positive CHECK (x > 0) NOT VALID")
    plant.sql(f"ALTER TABLE {s}.t ADD CONSTRAINT t_parent_fk FOREIGN KEY (parent_id) REFERENCES {s}.parent NOT VALID")
    plant.sql(f"ALTER TABLE {s}.t ADD CONSTRAINT t_x_small CHECK (x < 100)")  # validated when added
    result, found = report(plant)
    assert {obj for code, obj in found if code == "invalid_constraint"} == {
        f"{s}.t.t_x_positive",
        f"{s}.t.t_parent_fk",
    }
    fix = fixes(result, "invalid_constraint", s)
    assert fix[f"{s}.t.t_x_positive"] == f"ALTER TABLE {s}.t VALIDATE CONSTRAINT t_x_positive;"
    for statement in fix.values():
        run_fix(plant, statement)
    _, found = report(plant)
    assert not [obj for code, obj in found if code == "invalid_constraint"]


def test_fk_type_mismatch(plant):
    s = plant.schema
    plant.table("parent", "id bigint PRIMARY KEY, code varchar(20) UNIQUE")
    plant.table("narrow", f"id int PRIMARY KEY, parent_id int REFERENCES {s}.parent (id)")
    plant.table("short", f"id int PRIMARY KEY, code varchar(10) REFERENCES {s}.parent (code)")
    plant.table("matching", f"id int PRIMARY KEY, parent_id bigint REFERENCES {s}.parent (id)")
    result, found = report(plant)
    assert {obj for code, obj in found if code == "fk_type_mismatch"} == {
        f"{s}.narrow.parent_id",
        f"{s}.short.code",
    }
    fix = fixes(result, "fk_type_mismatch", s)
    assert fix[f"{s}.narrow.parent_id"].endswith(f"ALTER TABLE {s}.narrow ALTER COLUMN parent_id TYPE bigint;")
    assert fix[f"{s}.short.code"].endswith(f"ALTER TABLE {s}.short ALTER COLUMN code TYPE character varying(20);")
    for statement in fix.values():
        run_fix(plant, statement)
    _, found = report(plant)
    assert not [obj for code, obj in found if code == "fk_type_mismatch"]


def test_duplicate_and_overlapping_foreign_keys(plant):
    s = plant.schema
    plant.table("parent", "id int PRIMARY KEY, region int, UNIQUE (id, region)")
    plant.table("child", "id int PRIMARY KEY, parent_id int, region int")
    plant.table("single", f"id int PRIMARY KEY, parent_id int REFERENCES {s}.parent (id)")
    for name, columns, target in (
        ("child_a_fk", "parent_id", "id"),
        ("child_b_fk", "parent_id", "id"),
        ("child_c_fk", "parent_id, region", "id, region"),
    ):
        plant.sql(
            f"ALTER TABLE {s}.child ADD CONSTRAINT {name} FOREIGN KEY ({columns}) REFERENCES {s}.parent ({target})"
        )
    result, found = report(plant)
    assert {obj for code, obj in found if code == "duplicate_foreign_key"} == {f"{s}.child.child_b_fk"}
    assert {obj for code, obj in found if code == "overlapping_foreign_key"} == {f"{s}.child.child_a_fk"}
    assert not any(obj.startswith(f"{s}.single") for code, obj in found if code.endswith("foreign_key"))
    assert fixes(result, "duplicate_foreign_key", s) == {
        f"{s}.child.child_b_fk": f"ALTER TABLE {s}.child DROP CONSTRAINT child_b_fk;"
    }
    run_fix(plant, fixes(result, "duplicate_foreign_key", s)[f"{s}.child.child_b_fk"])
    _, found = report(plant)
    assert not [obj for code, obj in found if code == "duplicate_foreign_key"]


def test_keys_on_the_same_columns_that_act_differently_or_are_a_partition_s_copies_are_not_repeats(plant):
    s = plant.schema
    plant.table("customers", "id int PRIMARY KEY")
    plant.table("items", "id int PRIMARY KEY, customer_id int")
    # Dropping either would change what a delete of a customer does: no "repeat" to drop.
    plant.sql(f"ALTER TABLE {s}.items ADD CONSTRAINT a_plain FOREIGN KEY (customer_id) REFERENCES {s}.customers")
    plant.sql(
        f"ALTER TABLE {s}.items ADD CONSTRAINT b_cascade FOREIGN KEY (customer_id) REFERENCES {s}.customers "
        "ON DELETE CASCADE"
    )
    # On a partitioned table: one finding, on the parent, whose key a DROP can remove (a partition's copy cannot).
    plant.sql(f"CREATE TABLE {s}.orders (id int, customer_id int) PARTITION BY RANGE (id)")
    plant.sql(f"CREATE TABLE {s}.orders_1 PARTITION OF {s}.orders FOR VALUES FROM (0) TO (10)")
    for name in ("orders_a_fk", "orders_b_fk"):
        plant.sql(f"ALTER TABLE {s}.orders ADD CONSTRAINT {name} FOREIGN KEY (customer_id) REFERENCES {s}.customers")
    result, found = report(plant)
    assert {obj for code, obj in found if code == "duplicate_foreign_key" and obj.startswith(s)} == {
        f"{s}.orders.orders_b_fk"
    }
    run_fix(plant, fixes(result, "duplicate_foreign_key", s)[f"{s}.orders.orders_b_fk"])


def test_index_on_mostly_null_column(plant):
    s = plant.schema
    plant.table("sparse", "id int, ref int", rows=2000, fill="i, CASE WHEN i % 10 = 0 THEN i END")
    plant.table("dense", "id int, ref int", rows=2000, fill="i, CASE WHEN i % 10 = 0 THEN NULL ELSE i END")
    plant.sql(f"CREATE INDEX sparse_ref ON {s}.sparse (ref)")
    plant.sql(f"CREATE INDEX sparse_ref_partial ON {s}.sparse (ref) WHERE ref IS NOT NULL")
    plant.sql(f"CREATE INDEX dense_ref ON {s}.dense (ref)")
    plant.sql(f"ANALYZE {s}.sparse, {s}.dense")
    result, found = report(plant)
    assert {obj for code, obj in found if code == "index_on_mostly_null_column"} == {f"{s}.sparse_ref"}
    fix = fixes(result, "index_on_mostly_null_column", s)[f"{s}.sparse_ref"]
    assert fix == (
        f"CREATE INDEX CONCURRENTLY sparse_ref_not_null ON {s}.sparse USING btree (ref) "
        f"WHERE (ref IS NOT NULL);\nDROP INDEX CONCURRENTLY {s}.sparse_ref;"
    )
    run_fix(plant, fix)
    _, found = report(plant)
    assert not [obj for code, obj in found if code == "index_on_mostly_null_column"]


def test_needless_index_predicate(plant):
    s = plant.schema
    plant.table("t", "a int NOT NULL, b int, c int NOT NULL")
    plant.sql(f"CREATE INDEX t_a_set ON {s}.t (a) WHERE a IS NOT NULL")
    plant.sql(f"CREATE INDEX t_c_desc ON {s}.t (c DESC) INCLUDE (b) WHERE c IS NOT NULL AND b > 0")
    plant.sql(f"CREATE INDEX t_b_set ON {s}.t (b) WHERE b IS NOT NULL")  # b may be NULL: the predicate filters
    plant.sql(f"CREATE INDEX t_a_positive ON {s}.t (a) WHERE a > 0")
    result, found = report(plant)
    assert {obj for code, obj in found if code == "needless_index_predicate"} == {f"{s}.t_a_set", f"{s}.t_c_desc"}
    fix = fixes(result, "needless_index_predicate", s)
    assert fix[f"{s}.t_a_set"] == (
        f"CREATE INDEX CONCURRENTLY t_a_idx ON {s}.t USING btree (a);\nDROP INDEX CONCURRENTLY {s}.t_a_set;"
    )
    assert fix[f"{s}.t_c_desc"].startswith(
        f"CREATE INDEX CONCURRENTLY t_c_idx ON {s}.t USING btree (c DESC) INCLUDE (b) WHERE (b > 0);"
    )
    for statement in fix.values():
        run_fix(plant, statement)
    _, found = report(plant)
    assert not [obj for code, obj in found if code == "needless_index_predicate"]


def test_boolean_index(plant):
    s = plant.schema
    plant.table("t", "id int, archived boolean, created timestamptz")
    plant.sql(f"CREATE INDEX t_archived ON {s}.t (archived)")
    plant.sql(f"CREATE INDEX t_archived_created ON {s}.t (archived, created)")
    plant.sql(f"CREATE INDEX t_created_live ON {s}.t (created) WHERE NOT archived")
    result, found = report(plant)
    assert {obj for code, obj in found if code == "boolean_index"} == {f"{s}.t_archived"}
    fix = fixes(result, "boolean_index", s)[f"{s}.t_archived"]
    assert fix.startswith(f"DROP INDEX CONCURRENTLY {s}.t_archived;\n-- or")


def test_btree_on_array_column(plant):
    s = plant.schema
    plant.table("t", "id int, tags text[], scores int[]")
    plant.sql(f"CREATE INDEX t_tags ON {s}.t (tags)")
    plant.sql(f"CREATE INDEX t_scores_gin ON {s}.t USING gin (scores)")
    result, found = report(plant)
    assert {obj for code, obj in found if code == "btree_on_array_column"} == {f"{s}.t_tags"}
    fix = fixes(result, "btree_on_array_column", s)[f"{s}.t_tags"]
    assert fix == (
        f"CREATE INDEX CONCURRENTLY t_tags_gin ON {s}.t USING gin (tags);\nDROP INDEX CONCURRENTLY {s}.t_tags;"
    )
    run_fix(plant, fix)
    _, found = report(plant)
    assert not [obj for code, obj in found if code == "btree_on_array_column"]


def test_autovacuum_disabled(plant):
    s = plant.schema
    # Switched off with dead rows past autovacuum's threshold (50 + 20% of 1,000 rows): flagged.
    plant.table("off", "id int PRIMARY KEY, note text", rows=1000, fill="i, 'n'")
    plant.table("toast_off", "id int PRIMARY KEY, note text", rows=1000, fill="i, 'n'")
    plant.sql(f"ALTER TABLE {s}.toast_off RESET (autovacuum_enabled)")
    plant.sql(f"ALTER TABLE {s}.toast_off SET (toast.autovacuum_enabled = off)")
    # Look-alikes: switched off with few dead rows (a bulk-load table), and tuned but on.
    plant.table("quiet_off", "id int PRIMARY KEY, note text", rows=1000, fill="i, 'n'")
    plant.table("tuned", "id int PRIMARY KEY, note text", rows=1000, fill="i, 'n'")
    plant.sql(f"ALTER TABLE {s}.tuned SET (autovacuum_enabled = on, autovacuum_vacuum_scale_factor = 0.01)")
    for table in ("off", "toast_off", "quiet_off", "tuned"):
        plant.sql(f"ANALYZE {s}.{table}")
    # toast_off's own table has autovacuum on, and its dead rows are past the threshold: autovacuum could vacuum it
    # before the report and leave nothing to flag. It skips a table whose SHARE UPDATE EXCLUSIVE lock it cannot get;
    # the deletes and the report take weaker locks that do not wait for this one.
    with psycopg.connect(**connection_params("default")) as holder:
        holder.execute(f"LOCK TABLE {s}.toast_off IN SHARE UPDATE EXCLUSIVE MODE")
        for table in ("off", "toast_off", "tuned"):
            plant.sql(f"DELETE FROM {s}.{table} WHERE id <= 400")  # noqa: S608 -- a test schema name
        plant.sql(f"DELETE FROM {s}.quiet_off WHERE id <= 10")  # noqa: S608 -- a test schema name
        plant.flush_stats()
        result, found = report(plant)
    assert {obj for code, obj in found if code == "autovacuum_disabled"} == {f"{s}.off", f"{s}.toast_off"}
    fix = fixes(result, "autovacuum_disabled", s)
    assert fix == {
        f"{s}.off": f"ALTER TABLE {s}.off RESET (autovacuum_enabled);",
        f"{s}.toast_off": f"ALTER TABLE {s}.toast_off RESET (toast.autovacuum_enabled);",
    }
    toast = next(f for f in result.findings if f.object == f"{s}.toast_off" and f.code == "autovacuum_disabled")
    assert "TOAST" in toast.message and toast.severity is Severity.WARNING
    # The server's own setting is a database-wide finding (as a superuser turning autovacuum off would make).
    assert not [f for f in result.findings if f.code == "autovacuum_disabled" and not f.table]
    statistics = dataclasses.replace(result.snapshot.statistics, autovacuum_on=False)
    off = [
        f
        for f in evaluate(
            dataclasses.replace(result.snapshot, statistics=statistics), Thresholds.from_settings(**LOOSE)
        )
        if f.code == "autovacuum_disabled" and not f.table
    ]
    assert [f.object for f in off] == ["setting autovacuum"] and "ALTER SYSTEM SET autovacuum = on" in off[0].fix
    run_fix(plant, fix[f"{s}.off"])
    run_fix(plant, fix[f"{s}.toast_off"])
    _, found = report(plant)
    assert not [obj for code, obj in found if code == "autovacuum_disabled"]


def test_inactive_replication_slot(plant, superuser_sql):
    name = f"schemaadmin_test_{plant.schema}"
    idle = f"{name}_unreserved"
    superuser_sql("SELECT pg_create_physical_replication_slot(%s, true)", [name])
    # A look-alike that reserves no WAL yet: it keeps nothing from being recycled.
    superuser_sql("SELECT pg_create_physical_replication_slot(%s, false)", [idle])
    try:
        plant.sql(f"CREATE TABLE {plant.schema}.wal AS SELECT 1")  # WAL written after the slot reserved its start
        result, _ = report(plant)
        slots = {f.object: f for f in result.findings if f.code == "inactive_replication_slot"}
        assert f"slot {name}" in slots and f"slot {idle}" not in slots
        finding = slots[f"slot {name}"]
        assert finding.severity is Severity.WARNING and not finding.table
        assert "has no consumer connected" in finding.message and "max_slot_wal_keep_size" in finding.message
        assert finding.fix.endswith(f"SELECT pg_drop_replication_slot('{name}');")
        result, _ = report(plant, replication_slot_critical_bytes=0)
        critical = next(f for f in result.findings if f.object == f"slot {name}")
        assert critical.severity is Severity.CRITICAL
        superuser_sql(finding.fix.splitlines()[-1])
        result, _ = report(plant)
        assert not [f for f in result.findings if f.code == "inactive_replication_slot" and name in f.object]
    finally:
        for slot in (name, idle):
            superuser_sql(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s", [slot]
            )


def test_extension_update_available(plant, superuser_sql):
    # A package upgrade leaves each database's extension at its old version: planted as CREATE EXTENSION ... VERSION.
    with connection.cursor() as cur:
        cur.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'pg_trgm'")
        (newest,) = cur.fetchone()
    superuser_sql(f"CREATE EXTENSION pg_trgm SCHEMA {plant.schema} VERSION '1.3'")
    try:
        result, _ = report(plant)
        found = {f.object: f for f in result.findings if f.code == "extension_update_available"}
        assert "extension pg_trgm" in found
        finding = found["extension pg_trgm"]
        assert finding.severity is Severity.INFO and not finding.table
        assert "at version 1.3 in this database" in finding.message and f"at {newest}:" in finding.message
        assert finding.fix.endswith(f"ALTER EXTENSION pg_trgm UPDATE TO '{newest}';")
        # Database-wide: the JSON names it by what it is about, as the pages do.
        assert finding.as_json()["object"] == "extension pg_trgm" and finding.as_json()["schema"] == ""
        # The fix as written moves it to the server's version, and the finding goes: an extension at its default
        # version is the healthy look-alike.
        superuser_sql(finding.fix.splitlines()[-1])
        result, _ = report(plant)
        assert "extension pg_trgm" not in {f.object for f in result.findings if f.code == "extension_update_available"}
    finally:
        superuser_sql("DROP EXTENSION IF EXISTS pg_trgm")


def test_partitioned_tables_are_judged_on_their_partitioned_indexes_with_fixes_that_run(plant):
    s = plant.schema
    plant.sql(f"CREATE TABLE {s}.accounts (id int PRIMARY KEY)")
    plant.sql(f"INSERT INTO {s}.accounts SELECT generate_series(1, 300)")
    plant.sql(
        f"CREATE TABLE {s}.events (at date NOT NULL, id int, account int REFERENCES {s}.accounts (id), "
        "flag boolean, tags int[]) PARTITION BY RANGE (at)"
    )
    for half, (start, end) in enumerate((("2026-01-01", "2026-07-01"), ("2026-07-01", "2027-01-01"))):
        plant.sql(f"CREATE TABLE {s}.events_{half} PARTITION OF {s}.events FOR VALUES FROM ('{start}') TO ('{end}')")
    indexes = (("by_at", "at"), ("by_id", "id"), ("by_id_again", "id"), ("by_flag", "flag"), ("by_tags", "tags"))
    for name, keys in indexes:
        plant.sql(f"CREATE INDEX {name} ON {s}.events ({keys})")
    rows = "SELECT DATE '2026-01-01' + i, i, i, i % 2 = 0, ARRAY[i] FROM generate_series(1, 300) AS i"
    plant.sql(f"INSERT INTO {s}.events {rows}")
    plant.sql(f"ANALYZE {s}.events")
    # Scans are counted on the partitions' indexes: by_at is used through them, by_id never.
    plant.sql("SET enable_seqscan = off")
    plant.sql(f"SELECT * FROM {s}.events WHERE at = DATE '2026-01-05'")  # noqa: S608 -- a test schema name
    plant.sql("RESET enable_seqscan")
    plant.flush_stats()
    result, _ = report(plant, unused_index_min_bytes=0, unused_index_min_stats_age_days=0)
    mine = [f for f in result.findings if f.schema == s]
    found = {(f.code, f.object) for f in mine}
    # Each problem once, on the partitioned index or table: never on a partition's attached index or copied key,
    # which cannot be dropped or fixed alone.
    assert found >= {
        ("missing_fk_index", f"{s}.events.account"),
        ("duplicate_index", f"{s}.by_id_again"),
        ("btree_on_array_column", f"{s}.by_tags"),
        ("boolean_index", f"{s}.by_flag"),
        ("unused_index", f"{s}.by_id"),
    }
    assert not [f for f in mine if f.table.startswith("events_")], found
    assert ("unused_index", f"{s}.by_at") not in found  # scanned through a partition's index
    # PostgreSQL refuses CONCURRENTLY on a partitioned table or index: the fixes say what they lock instead.
    for f in mine:
        if f.code != "no_primary_key":
            assert "CONCURRENTLY cannot" in f.fix or "cannot be dropped CONCURRENTLY" in f.fix, f.fix
    for code, target in (
        ("missing_fk_index", "events.account"),
        ("duplicate_index", "by_id_again"),
        ("btree_on_array_column", "by_tags"),
        ("boolean_index", "by_flag"),
    ):
        run_fix(plant, next(f.fix for f in mine if (f.code, f.object) == (code, f"{s}.{target}")))
    _, found = report(plant, unused_index_min_bytes=0, unused_index_min_stats_age_days=0)
    left = {code for code, obj in found if obj.startswith(f"{s}.")}
    assert not left & {"missing_fk_index", "duplicate_index", "btree_on_array_column", "boolean_index"}


def test_vector_columns_of_partitioned_tables_are_judged_once_with_fixes_that_run(plant):
    s = plant.schema

    def partitioned(table, columns, rows):
        plant.sql(f"CREATE TABLE {s}.{table} (tenant int NOT NULL, {columns}) PARTITION BY LIST (tenant)")
        for tenant in (1, 2):
            plant.sql(f"CREATE TABLE {s}.{table}_{tenant} PARTITION OF {s}.{table} FOR VALUES IN ({tenant})")
        plant.sql(f"INSERT INTO {s}.{table} SELECT 1 + i % 2, {rows} FROM generate_series(1, 3000) AS i")  # noqa: S608

    vector = "ARRAY[i, 1, 2]::vector(3)"
    partitioned("chunks", "emb vector(3), wide vector(2500)", f"{vector}, NULL")
    partitioned("docs", "emb vector(3)", vector)  # an IVFFlat index built with lists for far more rows
    plant.sql(f"CREATE INDEX docs_ivf ON {s}.docs USING ivfflat (emb vector_cosine_ops) WITH (lists = 1000)")
    partitioned("each", "emb vector(3)", vector)  # an index on every partition, none on the table: served
    partitioned("some", "emb vector(3)", vector)  # an index on one partition only: not served
    # Analyzed while empty, never since (autovacuum does not analyze a partitioned table): its partitions say.
    plant.sql(f"CREATE TABLE {s}.stale (tenant int NOT NULL, emb vector(3)) PARTITION BY LIST (tenant)")
    plant.sql(f"CREATE TABLE {s}.stale_1 PARTITION OF {s}.stale FOR VALUES IN (1)")
    plant.sql(f"ANALYZE {s}.stale")
    plant.sql(f"INSERT INTO {s}.stale SELECT 1, {vector} FROM generate_series(1, 3000) AS i")  # noqa: S608
    for table in ("each_1", "each_2", "some_1"):
        plant.sql(f"CREATE INDEX ON {s}.{table} USING hnsw (emb vector_cosine_ops)")
    # Autovacuum never analyzes a partitioned table: its rows are found through its partitions.
    plant.sql(f"ANALYZE {s}.chunks_1, {s}.chunks_2, {s}.docs_1, {s}.docs_2, {s}.some_1, {s}.some_2, {s}.stale_1")

    result, _ = report(plant)
    vector_codes = {"vector_column_unindexed", "vector_dims_unindexable", "ivfflat_lists_mismatch"}
    mine = [f for f in result.findings if f.schema == s and f.code in vector_codes]
    assert {(f.code, f.object) for f in mine} == {
        ("vector_column_unindexed", f"{s}.chunks.emb"),
        ("vector_dims_unindexable", f"{s}.chunks.wide"),
        ("vector_column_unindexed", f"{s}.some.emb"),
        ("vector_column_unindexed", f"{s}.stale.emb"),
        # Each partition's IVFFlat index has its own lists, for its own rows; the partitioned index stores nothing.
        ("ivfflat_lists_mismatch", f"{s}.docs_1_emb_idx"),
        ("ivfflat_lists_mismatch", f"{s}.docs_2_emb_idx"),
    }
    unindexed = next(f for f in mine if f.object == f"{s}.some.emb")
    assert "on every partition" in unindexed.message
    lists = next(f for f in mine if f.object == f"{s}.docs_1_emb_idx")
    assert f"new partitions get their index, and its lists, from {s}.docs_ivf" in lists.fix
    for finding in mine:
        run_fix(plant, finding.fix)
    plant.sql(f"ANALYZE {s}.docs_1, {s}.docs_2")
    result, _ = report(plant)
    assert not [f for f in result.findings if f.schema == s and f.code in vector_codes]


def test_a_foreign_key_not_enforced_is_neither_unvalidated_nor_missing_its_index(plant):
    # PostgreSQL 18's NOT ENFORCED key is marked not validated, but nothing checks it: "new rows are checked" and
    # VALIDATE CONSTRAINT (refused: "cannot validate NOT ENFORCED constraint") were wrong, and so was "every delete
    # scans the table": it has no trigger.
    skip_below(180000, "NOT ENFORCED foreign keys are PostgreSQL 18's")
    s = plant.schema
    plant.table("parents", "id int PRIMARY KEY", rows=10, fill="i")
    plant.table("documented", f"id int, parent int REFERENCES {s}.parents (id) NOT ENFORCED", rows=10, fill="i, i")
    plant.table("checked", f"id int, parent int REFERENCES {s}.parents (id)", rows=10, fill="i, i")
    _, found = report(plant)
    assert ("invalid_constraint", f"{s}.documented.documented_parent_fkey") not in found
    missing = {obj for code, obj in found if code == "missing_fk_index"}
    assert any("checked" in obj for obj in missing) and not any("documented" in obj for obj in missing)
