"""A partitioned table and its indexes are as large as their partitions, on every page that shows a size."""

from __future__ import annotations

from schemaadmin.services.index_health import index_report
from schemaadmin.services.index_health.index_rules import _with_partitions
from schemaadmin.services.rebuilds import plan_rebuild, rebuildable_index
from tests.services.health_report import report


def _planted_events(plant) -> str:
    """A table partitioned by range, one partition itself partitioned by list, with rows and an index on the top."""
    s = plant.schema
    plant.sql(f"CREATE TABLE {s}.events (id int, kind text, note text) PARTITION BY RANGE (id)")
    plant.sql(f"CREATE TABLE {s}.events_1 PARTITION OF {s}.events FOR VALUES FROM (0) TO (5000)")
    plant.sql(
        f"CREATE TABLE {s}.events_2 PARTITION OF {s}.events FOR VALUES FROM (5000) TO (10000) PARTITION BY LIST (kind)"
    )
    plant.sql(f"CREATE TABLE {s}.events_2a PARTITION OF {s}.events_2 FOR VALUES IN ('a')")
    plant.sql(f"CREATE TABLE {s}.events_2b PARTITION OF {s}.events_2 FOR VALUES IN ('b')")
    plant.sql(
        f"INSERT INTO {s}.events SELECT i, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, repeat('n', 200) "  # noqa: S608
        "FROM generate_series(0, 9999) AS i"
    )
    plant.sql(f"CREATE INDEX events_kind ON {s}.events (kind)")
    plant.sql(f"CREATE INDEX events_1_note ON {s}.events_1 (note)")  # a partition's own index counts too
    plant.sql(f"ANALYZE {s}.events")
    return s


def test_a_partitioned_table_and_index_are_the_sum_of_their_partitions(plant):
    s = _planted_events(plant)
    result, _ = report(plant)
    tables = {t.name: t for t in result.snapshot.tables if t.schema == s}
    leaves = [tables[name] for name in ("events_1", "events_2a", "events_2b")]
    assert all(leaf.table_bytes > 100_000 for leaf in leaves)
    for field in ("total_bytes", "table_bytes", "index_bytes"):
        assert getattr(tables["events"], field) == sum(getattr(leaf, field) for leaf in leaves), field
    assert tables["events_2"].table_bytes == tables["events_2a"].table_bytes + tables["events_2b"].table_bytes
    assert tables["events"].index_bytes > tables["events_1"].index_bytes  # events_kind's partitions, every level

    indexes = {i.name: i for i in result.snapshot.indexes if i.schema == s}
    attached = [
        i for i in indexes.values() if i.table in ("events_1", "events_2a", "events_2b") and i.name != "events_1_note"
    ]
    assert len(attached) == 3 and indexes["events_kind"].size_bytes == sum(i.size_bytes for i in attached) > 0
    assert result.largest_tables(limit=100).index(tables["events"]) < result.largest_tables(limit=100).index(
        tables["events_1"]
    )

    # One index's page and the rebuild form read it alone: the same size.
    alone = index_report(s, "events_kind").index(s, "events_kind")
    assert alone.size_bytes == indexes["events_kind"].size_bytes
    assert rebuildable_index(f"{s}.events_kind").size_bytes == indexes["events_kind"].size_bytes


def test_a_valid_partitioned_index_is_shown_as_the_statement_that_makes_it_over_every_partition(plant, client_as):
    s = _planted_events(plant)
    dba = client_as("dba")
    page = dba.get(f"/indexes/{s}.events_kind/").content.decode()
    shown = page.split('data-testid="definition"><code>')[1].split("</code>")[0]
    assert shown == f"CREATE INDEX events_kind ON {s}.events USING btree (kind);"  # not ON ONLY: the parent alone
    form = dba.get("/rebuilds/new", {"index": f"{s}.events_kind"}).content.decode()
    shown_now = form.replace("<wbr>", "")  # the places it may wrap on a phone are no part of the text
    assert f"Now: <code>CREATE INDEX events_kind ON {s}.events USING btree (kind)</code>" in shown_now


def test_a_partitioned_index_s_rebuild_estimate_restore_text_and_scans_are_its_partitions(plant):
    s = _planted_events(plant)
    plant.sql("SET enable_seqscan = off")
    for kind in ("a", "b", "a"):
        plant.sql(f"SELECT count(*) FROM {s}.events WHERE kind = %s", [kind])  # noqa: S608 -- planted
    plant.flush_stats()
    result, _ = report(plant)
    indexes = {i.name: i for i in result.snapshot.indexes if i.schema == s}
    leaves = [i for i in indexes.values() if i.partition_of is not None and not i.is_partitioned]
    assert len(leaves) == 3 and sum(leaf.scans for leaf in leaves) > 0
    totals = _with_partitions(result.snapshot)(indexes["events_kind"])
    assert totals == (indexes["events_kind"].size_bytes, {"default": sum(leaf.scans for leaf in leaves)})
    plan = plan_rebuild(f"{s}.events_kind")
    assert plan.size_bytes == indexes["events_kind"].size_bytes > 0
    assert plan.estimate.disk_bytes_needed >= plan.size_bytes


def test_an_unused_partitioned_index_is_restored_over_every_partition(plant):
    s = _planted_events(plant)
    result, _ = report(plant)
    fix = next(f.fix for f in result.findings if f.code == "unused_index" and f.index == "events_kind")
    assert f"-- to restore it: CREATE INDEX events_kind ON {s}.events USING btree (kind);" in fix
    assert "ON ONLY" not in fix


def test_a_partition_another_session_holds_is_not_waited_for_by_the_partitioned_table_s_reads(
    planter, transactional_db
):
    # pg_partition_tree() locks every partition ACCESS SHARE: the rows of a partitioned table (the lint's sizes, the
    # archive's costs) and the indexes below a partitioned index (its page) waited behind one partition's lock.
    from django.db import connection

    from schemaadmin.pg.indexes import index, indexes_below
    from schemaadmin.pg.relations import table_estimates
    from tests.blocking import holding

    s = planter.schema
    planter.sql(f"CREATE TABLE {s}.parted (a int) PARTITION BY RANGE (a)")
    planter.sql(f"CREATE TABLE {s}.parted_low PARTITION OF {s}.parted FOR VALUES FROM (0) TO (10)")
    planter.sql(f"CREATE TABLE {s}.parted_high PARTITION OF {s}.parted FOR VALUES FROM (10) TO (20)")
    planter.sql(f"CREATE INDEX parted_a ON {s}.parted (a)")
    planter.sql(f"INSERT INTO {s}.parted SELECT i FROM generate_series(0, 19) AS i")  # noqa: S608
    planter.sql(f"ANALYZE {s}.parted")
    parent = index(s, "parted_a")
    with holding(f"LOCK TABLE {s}.parted_low IN ACCESS EXCLUSIVE MODE"), connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '2s'")  # the old reads: an error after 2 s, where they waited
        try:
            (estimate,) = table_estimates(["parted"], schema=s)
            below = indexes_below([parent])
        finally:
            cursor.execute("RESET lock_timeout")
    assert estimate.estimated_rows == 20  # both partitions' rows, counted from pg_class without opening either
    assert [i.table for i in below] == ["parted_high"]  # the locked partition's index is left out, as indexes() does
