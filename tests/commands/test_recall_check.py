"""manage.py recall_check: the table, the JSON, and refusals as CommandError sentences."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from schemaadmin.models import RecallCheck
from tests.blocking import holding
from tests.recall_data import plant_items


@pytest.fixture
def items(plant):
    return plant_items(plant)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("recall_check", *args, stdout=out)
    return out.getvalue()


def test_json_has_the_recall_latency_ladder_and_recommendation(items):
    data = json.loads(run(f"{items.schema}.items_ivf", "--k", "5", "--samples", "20", "--format", "json"))
    assert data["index"] == f"{items.schema}.items_ivf" and data["k"] == 5 and data["samples_used"] == 20
    assert [step["value"] for step in data["ladder"]] == [1, 2, 4, 8, 16, 20]
    assert data["ladder"][-1]["recall"] == 1.0  # every list probed: exhaustive
    assert data["recommended"] == min(s["value"] for s in data["ladder"] if s["recall"] >= 0.95)
    assert data["recall"] == data["ladder"][0]["recall"]  # the session's probes is 1
    assert data["exact_mean_ms"] > 0 and data["ann_p95_ms"] > 0
    # It measures directly: no job, no record.
    assert not RecallCheck.objects.exists()


def test_text_is_a_table_with_the_recommendation(items):
    output = run(f"{items.schema}.items_hnsw", "--samples", "10", "--target", "0.5")
    assert output.startswith(f"Recall@10 of {items.schema}.items_hnsw (hnsw) over 10 sampled vectors")
    assert "ef_search   recall   mean ms    p95 ms" in output
    assert "10  " in output and "<- recommended" in output
    assert output.rstrip().endswith("ms per query on average).")
    assert "Set hnsw.ef_search = 10" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{s}.nope"], "There is no index {s}.nope."),
        (["{s}.items_pkey"], "{s}.items_pkey is a btree index"),
        (["{s}.items_hnsw", "--k", "0"], "k must be between 1 and 100 (got 0)."),
        (["{s}.items_hnsw", "--samples", "1000000000"], "The number of samples must be between 1 and 1000"),
        (["{s}.items_hnsw", "--target", "2"], "The target recall must be above 0 and at most 1"),
        (["{s}.items_hnsw", "--database", "elsewhere"], "No database is configured under the alias 'elsewhere'."),
    ],
)
def test_refusals_are_command_errors_with_the_sentence(items, args, message):
    with pytest.raises(CommandError) as refused:
        run(*(a.format(s=items.schema) for a in args))
    assert str(refused.value).startswith(message.format(s=items.schema))


@pytest.mark.django_db(transaction=True)
def test_a_locked_table_is_said_after_a_while_not_waited_on_for_ever(planter, monkeypatch):
    items = plant_items(planter)
    monkeypatch.setattr("schemaadmin.management.locks.COMMAND_LOCK_TIMEOUT_MS", 300)
    with holding(f"LOCK TABLE {items.schema}.items IN ACCESS EXCLUSIVE MODE"):
        with pytest.raises(CommandError, match="locked by another session, still after 0.3 s") as refused:
            run(f"{items.schema}.items_hnsw", "--samples", "5")
    assert refused.value.returncode == 1
    assert not RecallCheck.objects.exists()
