"""manage.py query_stats: the issue's JSON shape, the live fallback, and bad options as sentences."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from schemaadmin.services.workload.snapshots import take_snapshot

pytestmark = pytest.mark.django_db
STATEMENT_KEYS = {
    "queryid",
    "query",
    "database",
    "role",
    "calls",
    "total_ms",
    "mean_ms",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "temp_blks_written",
}


def run(*args: str) -> str:
    out = StringIO()
    call_command("query_stats", *args, stdout=out)
    return out.getvalue()


def test_without_snapshots_it_reads_the_live_view_and_says_from_null():
    report = json.loads(run("--format", "json", "--limit", "5"))
    assert set(report) == {"available", "reason", "window", "statements"}
    assert report["available"] is True and report["reason"] is None
    assert report["window"]["from"] is None and report["window"]["to"]
    assert 0 < len(report["statements"]) <= 5
    assert all(set(row) == STATEMENT_KEYS for row in report["statements"])


def test_with_snapshots_it_sums_the_window(plant):
    table = plant.table(f"cmd_{uuid.uuid4().hex[:8]}", "id int", rows=10, fill="i")
    take_snapshot(now=timezone.now() - timedelta(minutes=30))
    for _ in range(4):
        plant.sql(f"SELECT count(*) FROM {table} WHERE id > %s", [1])  # noqa: S608 -- a planted table
    take_snapshot(now=timezone.now() - timedelta(minutes=5))
    report = json.loads(run("--since", "1h", "--order", "calls", "--limit", "1000", "--format", "json"))
    assert report["window"]["from"] is not None
    (row,) = [r for r in report["statements"] if table in r["query"]]
    assert row["calls"] == 4 and row["rows"] == 4
    text = run("--since", "1h")
    assert text.startswith("From ")


@pytest.mark.parametrize(
    "args, sentence",
    [
        (("--since", "0h"), "the duration must be more than zero"),
        (("--since", "yesterday"), "is not a duration"),
        (("--since", "99999w"), "longer than ten years"),
        (("--limit", "0"), "--limit must be from 1 to 1,000"),
        (("--limit", "10000000000"), "--limit must be from 1 to 1,000"),
        (("--limit", "ten"), "--limit must be a whole number"),
    ],
)
def test_bad_options_are_sentences(args, sentence):
    with pytest.raises(CommandError, match=sentence):
        run(*args)
