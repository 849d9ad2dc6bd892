"""A window's statements with their series: each statement's time per bin, summed in SQL from the roll-ups."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from schemaadmin.models import QueryText
from schemaadmin.services.workload.query_stats import SERIES_POINTS, query_stats
from schemaadmin.services.workload.snapshots import take_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def statement(plant):
    """run(n): a planted statement n times; .queryid once a snapshot stored it."""
    table = plant.table(f"tickets_{uuid.uuid4().hex[:8]}", "id int, state int", rows=20, fill="i, i % 3")

    def run(times: int) -> None:
        for i in range(times):
            plant.sql(f"SELECT id FROM {table} WHERE state = %s", [i % 3])  # noqa: S608 -- a planted table

    run.queryid = lambda: QueryText.objects.get(query__contains=f"{table} WHERE state").queryid
    return run


@pytest.mark.parametrize(
    "window, hours_ago, bins",
    [(timedelta(days=1), (5, 3), 25), (timedelta(days=7), (50, 26), -(-169 // -(-169 // SERIES_POINTS)))],
    ids=["a day: one bin per hour", "a week: runs of hours"],
)
def test_a_series_puts_each_snapshots_time_in_the_bin_of_its_hour(statement, window, hours_ago, bins):
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    take_snapshot(now=now - timedelta(hours=hours_ago[0], minutes=10))
    calls = {}
    for hours, times in zip(hours_ago, (2, 5), strict=True):
        statement(times)
        calls[hours] = times
        take_snapshot(now=now - timedelta(hours=hours))

    stats = query_stats(now - window, now, order="calls", limit=100)
    row = next(r for r in stats.statements if r.queryid == statement.queryid())
    assert stats.span == "hour" and len(row.series) == len(stats.buckets) == bins <= SERIES_POINTS
    assert sum(row.series) == pytest.approx(row.total_ms) and row.calls == 7
    # Each snapshot's time lands in the bin that starts at or before it and ends after it.
    for hours in hours_ago:
        taken = now - timedelta(hours=hours)
        position = max(i for i, start in enumerate(stats.buckets) if start <= taken)
        assert row.series[position] > 0, f"the snapshot {hours} h ago"
    assert sum(1 for value in row.series if value) == 2
