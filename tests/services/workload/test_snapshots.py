"""Snapshots of pg_stat_statements on the real embedded server, with a workload the tests run themselves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from schemaadmin.models import QuerySnapshot, QueryStatDelta, QueryStatRollup, QueryText
from schemaadmin.pg.query_history import _PAST_CUTOFF, ROLLUPS, prune_before
from schemaadmin.services.workload.snapshots import prune, snapshot_and_prune, take_snapshot
from tests.versions import skip_below
from tests.worker import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(plant):
    """A planted table and a statement on it that only this test runs; run(n) runs it n times, returns its rows."""
    # PostgreSQL 18 identifies a statement by table names, not oids: a name of its own keeps other tests' apart.
    table = plant.table(f"orders_{uuid.uuid4().hex[:8]}", "id int PRIMARY KEY, amount int", rows=70, fill="i, i % 7")
    statement = f"SELECT id FROM {table} WHERE amount = %s"  # noqa: S608 -- a planted table

    def run(times: int) -> int:
        return sum(len(plant.sql(statement, [i % 7])) for i in range(times))

    run.table = table
    return run


def delta_of(snapshot: QuerySnapshot, table: str) -> QueryStatDelta | None:
    texts = QueryText.objects.filter(query__contains=f"{table} WHERE amount = $1")
    return QueryStatDelta.objects.filter(snapshot=snapshot, queryid__in=texts.values("queryid")).first()


def test_the_first_snapshot_is_a_baseline_and_the_next_stores_exactly_what_ran_between(orders):
    orders(3)
    first = take_snapshot()
    assert first.previous_taken_at is None
    assert not QueryStatDelta.objects.filter(snapshot=first).exists()

    rows = orders(5)
    second = take_snapshot()
    delta = delta_of(second, orders.table)
    assert delta is not None, "the statement run between the snapshots has a delta and a stored text"
    assert (delta.calls, delta.rows) == (5, rows) and rows == 50
    assert delta.total_ms > 0 and delta.shared_blks_hit + delta.shared_blks_read > 0
    assert second.previous_taken_at == first.taken_at and not second.reset
    assert second.statements_kept == QueryStatDelta.objects.filter(snapshot=second).count() >= 1

    # A third snapshot with nothing run on the table stores nothing for it.
    third = take_snapshot()
    assert delta_of(third, orders.table) is None
    # The roll-ups of the hour and day hold the sum of the deltas.
    hour = QueryStatRollup.objects.get(span="hour", queryid=delta.queryid, dbid=delta.dbid, userid=delta.userid)
    assert hour.calls == 5 and hour.bucket <= second.taken_at < hour.bucket + timedelta(hours=1)


def test_a_full_reset_is_detected_and_gives_the_counters_since_it_not_a_negative_delta(orders, superuser_sql):
    orders(6)
    take_snapshot()
    superuser_sql("SELECT pg_stat_statements_reset()")
    orders(2)
    after = take_snapshot()
    assert after.reset
    delta = delta_of(after, orders.table)
    assert delta is not None and delta.calls == 2 and delta.rows == 20
    assert not QueryStatDelta.objects.filter(calls__lt=0).exists()
    assert not QueryStatDelta.objects.filter(total_ms__lt=0).exists()


def test_an_entry_evicted_and_back_counts_from_zero_even_with_more_calls_than_before(orders, superuser_sql):
    skip_below(170000, "stats_since tells a returning entry apart from PostgreSQL 17 (the page says so before)")
    orders(2)
    take_snapshot()
    delta_text = QueryText.objects.filter(query__contains=orders.table)
    assert not delta_text.exists()  # nothing stored yet: the first snapshot is a baseline
    orders(1)
    second = take_snapshot()
    queryid = delta_of(second, orders.table).queryid
    # Removing the one entry is what an eviction does: it comes back counting from zero, reset not announced.
    superuser_sql("SELECT pg_stat_statements_reset(0, 0, %s)", [queryid])
    orders(4)  # more calls than the 3 the baseline holds: only the entry's stats_since tells
    third = take_snapshot()
    assert not third.reset
    assert delta_of(third, orders.table).calls == 4


def test_only_the_costliest_statements_are_kept_when_more_moved(orders, settings):
    take_snapshot()
    orders(3)
    settings.SCHEMAADMIN = {"QUERY_STATS_MAX_STATEMENTS_PER_SNAPSHOT": 1}
    snapshot = take_snapshot()
    assert snapshot.statements_changed > 1 and snapshot.statements_kept == 1
    (kept,) = QueryStatDelta.objects.filter(snapshot=snapshot)
    assert kept.total_ms == max(kept.total_ms, *(d.total_ms for d in QueryStatDelta.objects.filter(snapshot=snapshot)))


def test_calls_left_out_of_one_snapshot_are_counted_by_the_next_that_keeps_them(orders, settings, plant):
    """Past QUERY_STATS_MAX_STATEMENTS_PER_SNAPSHOT a statement's delta is not stored: its baseline stays, so the
    next snapshot that keeps it counts those calls too. The baseline moved on for every statement, and they were
    lost for good (29 of 306 calls of a cheap statement shown)."""
    take_snapshot()
    orders(5)
    take_snapshot()  # kept: 5 calls
    orders(7)
    plant.sql("SELECT pg_sleep(0.05)")  # a costlier statement takes the one place
    settings.SCHEMAADMIN = {"QUERY_STATS_MAX_STATEMENTS_PER_SNAPSHOT": 1}
    left_out = take_snapshot()
    assert delta_of(left_out, orders.table) is None
    settings.SCHEMAADMIN = {}
    caught_up = take_snapshot()
    assert delta_of(caught_up, orders.table).calls == 7  # none of the 7 lost


def test_pruning_drops_snapshots_their_deltas_and_rollups_past_the_retention(orders):
    now = timezone.now()
    take_snapshot(now=now - timedelta(days=16))
    orders(2)
    old = take_snapshot(now=now - timedelta(days=15))
    take_snapshot(now=now - timedelta(hours=2))
    orders(2)
    recent = take_snapshot(now=now - timedelta(hours=1))
    old_queryid = delta_of(old, orders.table).queryid
    assert prune(now=now) == 2
    assert set(QuerySnapshot.objects.values_list("pk", flat=True)) >= {recent.pk}
    assert not QuerySnapshot.objects.filter(taken_at__lt=now - timedelta(days=14)).exists()
    assert not QueryStatDelta.objects.filter(snapshot_id=old.pk).exists()
    assert not QueryStatRollup.objects.filter(bucket__lt=now - timedelta(days=15)).exists()
    assert QueryStatDelta.objects.filter(snapshot=recent, queryid=old_queryid).exists()
    assert QueryText.objects.filter(queryid=old_queryid).exists(), "a text still referenced stays"


def test_the_periodic_task_says_what_it_did():
    first = snapshot_and_prune()
    assert first.snapshot is not None and "baseline" in first.message
    second = snapshot_and_prune()
    assert "statements changed" in second.message


def test_the_task_is_periodic_on_the_configured_cron():
    from procrastinate.contrib.django import app

    import schemaadmin.tasks  # noqa: F401 -- registers the tasks

    (periodic,) = [p for key, p in app.periodic_registry.periodic_tasks.items() if key[1] == "query_stats_snapshot"]
    assert periodic.task.name == "schemaadmin.query_stats_snapshot" and periodic.cron == "*/5 * * * *"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_snapshot_task(worker):
    from procrastinate.contrib.django import app

    app.configure_task("schemaadmin.query_stats_snapshot").defer(timestamp=0)
    wait_for(lambda: QuerySnapshot.objects.exists(), timeout=120, what="the worker's snapshot")
    # The worker's periodic deferral may add a second one when a five-minute mark passes meanwhile.
    assert QuerySnapshot.objects.order_by("taken_at").first().previous_taken_at is None


@pytest.mark.parametrize("rows_per_probe", [0, 10**9], ids=["running totals", "summed deltas"])
def test_a_window_sums_exactly_the_snapshots_taken_in_it_even_after_pruning(orders, monkeypatch, rows_per_probe):
    from schemaadmin.pg import query_windows
    from schemaadmin.pg.query_windows import window_totals

    monkeypatch.setattr(query_windows, "ROWS_PER_PROBE", rows_per_probe)

    now = timezone.now()
    take_snapshot(now=now - timedelta(minutes=50))
    for minutes, times in ((40, 2), (30, 3), (20, 4)):
        orders(times)
        take_snapshot(now=now - timedelta(minutes=minutes))
    queryid = QueryText.objects.get(query__contains=f"{orders.table} WHERE amount = $1").queryid

    def calls(start_minutes: int, end_minutes: int) -> int:
        start, end = now - timedelta(minutes=start_minutes), now - timedelta(minutes=end_minutes)
        ranked = [row for row in window_totals("default", start, end, limit=1000) if row.queryid == queryid]
        alone = window_totals("default", start, end, queryid=queryid)  # a statement's page: always probed
        # Running totals less running totals, or deltas summed: the same figures, up to float rounding.
        assert [(r.calls, r.rows) for r in alone] == [(r.calls, r.rows) for r in ranked]
        assert [r.total_ms for r in alone] == pytest.approx([r.total_ms for r in ranked])
        # Its share of the window's time is the same, read from the snapshots' totals instead of every statement.
        assert [r.share for r in alone] == pytest.approx([r.share for r in ranked])
        return sum(row.calls for row in ranked)

    assert calls(35, 0) == 3 + 4
    assert calls(45, 25) == 2 + 3
    assert calls(60, 0) == 2 + 3 + 4
    assert calls(15, 0) == 0
    # The running totals go on counting from what was pruned: a window after it still sums only its own.
    QuerySnapshot.objects.filter(taken_at__lte=now - timedelta(minutes=40)).delete()
    assert calls(35, 0) == 3 + 4 and calls(60, 0) == 3 + 4


def test_a_summed_window_never_counts_another_alias_snapshots(orders, monkeypatch):
    from schemaadmin.pg import query_windows

    monkeypatch.setattr(query_windows, "ROWS_PER_PROBE", 10**9)  # the summed path whenever it may
    now = timezone.now()
    take_snapshot(now=now - timedelta(minutes=30))
    orders(2)
    delta = delta_of(take_snapshot(now=now - timedelta(minutes=20)), orders.table)
    # Another alias's snapshot between ours, with a delta of the same key: its id falls inside our range.
    other = QuerySnapshot.objects.create(
        database_alias="elsewhere", taken_at=now - timedelta(minutes=15), stats_reset=now, dealloc=0
    )
    counters = dict.fromkeys(("total_ms", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written"), 0)
    QueryStatDelta.objects.create(
        snapshot=other, dbid=delta.dbid, userid=delta.userid, queryid=delta.queryid, calls=100, **counters
    )
    orders(3)
    take_snapshot(now=now - timedelta(minutes=10))
    rows = query_windows.window_totals("default", now - timedelta(hours=1), now, limit=1000)
    assert sum(row.calls for row in rows if row.queryid == delta.queryid) == 2 + 3


ZEROS = dict.fromkeys(("calls", "total_ms", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written"), 0)


def test_a_rollup_goes_when_its_whole_hour_or_day_is_past_the_cutoff_and_the_delete_walks_the_key():
    cutoff = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
    kept_and_gone = {
        ("hour", cutoff - timedelta(hours=1)): False,  # ended at the cutoff
        ("hour", cutoff - timedelta(minutes=30)): True,  # an odd start, as a changed time zone could leave
        ("hour", cutoff): True,
        ("day", cutoff - timedelta(days=1)): False,
        ("day", cutoff - timedelta(hours=23)): True,
    }
    QueryStatRollup.objects.bulk_create(
        QueryStatRollup(database_alias="default", span=span, bucket=bucket, dbid=1, userid=1, queryid=7, **ZEROS)
        for span, bucket in kept_and_gone
    )
    prune_before("default", cutoff)
    left = set(QueryStatRollup.objects.filter(queryid=7).values_list("span", "bucket"))
    assert left == {key for key, kept in kept_and_gone.items() if kept}

    conditions = [sql for table, sql in _PAST_CUTOFF if table == ROLLUPS]
    assert len(conditions) == 2
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        for condition in conditions:
            cur.execute(
                f"EXPLAIN DELETE FROM {ROLLUPS} WHERE database_alias = %(alias)s AND {condition}",  # noqa: S608
                {"alias": "default", "cutoff": cutoff},
            )
            plan = "\n".join(row[0] for row in cur.fetchall())
            # Each span's delete is a range of the primary key (alias, span, bucket, ...), not a filter over all of it.
            (index_condition,) = [line for line in plan.splitlines() if "Index Cond" in line]
            assert "bucket" in index_condition and "span" in index_condition, plan


def test_a_text_goes_with_its_statement_s_last_day_rollup_and_not_before():
    cutoff = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
    rollups = {
        7: [("hour", cutoff - timedelta(hours=2)), ("day", cutoff - timedelta(days=2))],  # both past the cutoff
        8: [("hour", cutoff - timedelta(hours=2)), ("day", cutoff - timedelta(hours=12))],  # its day is not over
    }
    QueryStatRollup.objects.bulk_create(
        QueryStatRollup(database_alias="default", span=span, bucket=bucket, dbid=1, userid=1, queryid=queryid, **ZEROS)
        for queryid, buckets in rollups.items()
        for span, bucket in buckets
    )
    QueryText.objects.bulk_create(QueryText(queryid=q, query=f"SELECT {q}", first_seen=cutoff) for q in rollups)
    prune_before("default", cutoff)
    assert list(QueryText.objects.filter(queryid__in=rollups).values_list("queryid", flat=True)) == [8]
