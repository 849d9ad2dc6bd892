"""Recall checks: numbers that agree with a hand computation, refusals, and the job in a real worker."""

from __future__ import annotations

import math
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from schemaadmin.models import AuditEvent, JobState, RecallCheck
from schemaadmin.pg.recall import attached_index_names, index_target, sample_vectors
from schemaadmin.services import jobs
from schemaadmin.services.recall import (
    RECALL_CHECK,
    WORKER_STOPPED,
    RecallRefused,
    RecallResult,
    latest_recall_check,
    measure_recall,
    run_recall_check,
    start_recall_check,
)
from tests.conftest import make_user
from tests.recall_data import DIMS, plant_items
from tests.worker import recovered_after_kill, wait_for, worker  # noqa: F401


@pytest.fixture
def items(plant):
    return plant_items(plant)


def _parse(text):
    return [float(x) for x in text.strip("[]").split(",")]


def _cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return 1 - dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def _l2(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def _hand_recall(planter, queries, *, k, key, distance, setting, value):
    """Recall worked out in Python: exact ids from distances over every row, index ids from our own SQL."""
    table = {
        row_id: _parse(text)
        for row_id, text in planter.sql(f"SELECT id, ({key})::text FROM {planter.schema}.items")  # noqa: S608 -- a test schema name
    }
    operator = "<=>" if distance is _cosine else "<->"
    cast = f"halfvec({DIMS})" if "halfvec" in key else f"vector({DIMS})"
    planter.sql("SET enable_seqscan = off")
    planter.sql(f"SET {setting} = {int(value)}")
    try:
        found = 0
        for text in queries:
            query = _parse(text)
            exact = sorted(table, key=lambda row_id: distance(query, table[row_id]))[:k]
            rows = planter.conn.execute(
                f"SELECT id FROM {planter.schema}.items ORDER BY ({key}) {operator} %s::{cast} LIMIT {k}",  # noqa: S608 -- a test schema name
                [text],
                prepare=False,
            ).fetchall()
            found += len({row_id for (row_id,) in rows} & set(exact))
        return found / (k * len(queries))
    finally:
        planter.sql(f"RESET {setting}")
        planter.sql("RESET enable_seqscan")


def test_recall_numbers_agree_with_a_hand_computation(items):
    k, samples = 10, 40
    result = measure_recall(f"{items.schema}.items_ivf", k=k, samples=samples, target=0.9)
    assert (result.method, result.setting, result.current_value) == ("ivfflat", "ivfflat.probes", 1)
    assert result.samples_used == samples and result.uses_index and result.plan_note == ""
    queries = sample_vectors(index_target(items.schema, "items_ivf"), samples, seed=result.seed)
    hand = {
        probes: _hand_recall(items, queries, k=k, key="embedding", distance=_l2, setting="ivfflat.probes", value=probes)
        for probes in (1, 2, 4, 8, 16, 20)
    }
    assert result.recall == pytest.approx(hand[1], abs=1e-9)
    assert hand[1] < 0.9  # one list of twenty misses neighbours: the check is not trivially 1
    assert [step.value for step in result.ladder] == [1, 2, 4, 8, 16, 20]
    assert [step.recall for step in result.ladder] == pytest.approx([hand[v] for v in (1, 2, 4, 8, 16, 20)])
    assert hand[20] == 1.0  # probing every list is exhaustive
    assert result.recommended == min(v for v, r in hand.items() if r >= 0.9)
    assert f"ivfflat.probes = {result.recommended}" in result.recommendation
    # Timed for real (no ratio between mean and p95 is asserted: one slow probe on a busy machine skews the mean).
    assert all(step.mean_ms > 0 and step.p95_ms > 0 for step in result.ladder)
    assert result.exact_mean_ms > 0 and result.ann_p95_ms > 0
    # The session's own value is measured once: its ladder step is that measurement, the same times beside it.
    assert (result.ladder[0].mean_ms, result.ladder[0].p95_ms) == (result.ann_mean_ms, result.ann_p95_ms)


def test_hnsw_recall_on_the_halfvec_expression_agrees_with_a_hand_computation(items):
    k, samples = 10, 30
    result = measure_recall(f"{items.schema}.items_hnsw", k=k, samples=samples, ladder=[10, 40])
    assert (result.setting, result.current_value, result.uses_index) == ("hnsw.ef_search", 40, True)
    queries = sample_vectors(index_target(items.schema, "items_hnsw"), samples, seed=result.seed)
    key = f"embedding::halfvec({DIMS})"
    for step in result.ladder:
        hand = _hand_recall(items, queries, k=k, key=key, distance=_cosine, setting="hnsw.ef_search", value=step.value)
        assert step.recall == pytest.approx(hand, abs=1e-9), step
    assert result.recall == result.ladder[1].recall  # ef_search 40 is the session's value


def test_the_default_ladder_skips_ef_search_below_k_and_json_round_trips(items):
    result = measure_recall(f"{items.schema}.items_hnsw", k=30, samples=5)
    assert [step.value for step in result.ladder] == [40, 80, 160, 320, 640]
    assert RecallResult.from_json(result.to_json()) == result


def test_no_value_reaching_the_target_is_said_in_a_sentence(items):
    result = measure_recall(f"{items.schema}.items_ivf", k=10, samples=20, target=1.0, ladder=[1])
    assert result.recommended is None
    assert result.recommendation.startswith("No probes value tried reaches recall 1.00")


def test_the_target_defaults_to_the_setting(items, role_user, settings):
    settings.SCHEMAADMIN = {"RECALL_TARGET": 1.0}
    result = measure_recall(f"{items.schema}.items_ivf", k=10, samples=20, ladder=[1])
    assert result.recommendation.startswith("No probes value tried reaches recall 1.00")
    check = start_recall_check(f"{items.schema}.items_ivf", user=role_user("dba"))
    assert check.target_recall == 1.0


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("nope", {}, "There is no index {schema}.nope."),
        ("items_pkey", {}, "{schema}.items_pkey is a btree index; recall is measured for approximate"),
        ("items_hnsw", {"k": 0}, "k must be between 1 and 100 (got 0)."),
        ("items_hnsw", {"samples": 10**9}, "The number of samples must be between 1 and 1000"),
        ("items_hnsw", {"target": 2}, "The target recall must be above 0 and at most 1"),
        ("items_hnsw", {"target": float("nan")}, "The target recall must be above 0 and at most 1"),
    ],
)
def test_bad_input_is_refused_with_a_sentence(items, name, kwargs, message):
    with pytest.raises(RecallRefused) as refused:
        measure_recall(f"{items.schema}.{name}", **kwargs)
    assert str(refused.value).startswith(message.format(schema=items.schema))


def test_a_name_without_schema_an_empty_table_and_an_invalid_index_are_refused(plant, superuser_sql):
    with pytest.raises(RecallRefused, match="schema.name"):
        measure_recall("items_hnsw")
    empty = plant.table("empty", "embedding vector(3)")
    plant.sql(f"CREATE INDEX empty_hnsw ON {empty} USING hnsw (embedding vector_l2_ops)")
    with pytest.raises(RecallRefused, match="has no rows the index covers"):
        measure_recall(f"{plant.schema}.empty_hnsw")
    # What a failed CREATE INDEX CONCURRENTLY leaves; only a superuser may write the catalog.
    superuser_sql(
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [f"{plant.schema}.empty_hnsw"]
    )
    with pytest.raises(RecallRefused, match="is invalid"):
        measure_recall(f"{plant.schema}.empty_hnsw")


def test_start_refuses_before_recording_anything_but_the_audited_refusal(items, role_user):
    dba = role_user("dba")
    with pytest.raises(RecallRefused) as refused:
        start_recall_check(f"{items.schema}.items_pkey", user=dba)
    assert not RecallCheck.objects.exists()
    event = AuditEvent.objects.get(action="recall.check_refused")
    assert (event.actor, event.target) == (dba, f"{items.schema}.items_pkey")
    assert event.detail["reason"] == str(refused.value)


def test_the_job_body_records_the_result_log_and_audit(items, role_user):
    dba = role_user("dba")
    check = start_recall_check(f"{items.schema}.items_ivf", user=dba, k=5, samples=10)
    assert check.state == JobState.QUEUED and check.job_id
    assert AuditEvent.objects.filter(action="recall.check_requested", actor=dba, detail__check=check.pk).exists()
    assert run_recall_check(check.pk) == JobState.SUCCEEDED
    check.refresh_from_db()
    result = RecallResult.from_json(check.result)
    assert result.k == 5 and result.samples_used == 10 and 0 < result.recall <= 1
    assert check.started_at and check.finished_at and check.backend_pid
    assert "Sampled 10 vectors" in check.log and "ivfflat.probes = 20" in check.log
    # Each value of the ladder measured is logged once, the current one too (its step is the first measurement).
    measured = re.findall(r"At ivfflat\.probes = (\d+):", check.log)
    assert measured and len(measured) == len(set(measured)) == len(result.ladder), check.log
    assert AuditEvent.objects.filter(action="recall.checked", actor=dba, detail__check=check.pk).exists()
    assert latest_recall_check(items.schema, "items_ivf") == check
    assert latest_recall_check(items.schema, "items_hnsw") is None
    # A second run of the same job changes nothing.
    assert run_recall_check(check.pk) == JobState.SUCCEEDED


def test_a_check_whose_index_vanished_fails_with_the_reason(items, role_user):
    check = start_recall_check(f"{items.schema}.items_hnsw", user=role_user("dba"), samples=5)
    items.sql(f"DROP INDEX {items.schema}.items_hnsw")
    assert run_recall_check(check.pk) == JobState.FAILED
    check.refresh_from_db()
    assert check.error == f"There is no index {items.schema}.items_hnsw." and check.result is None
    assert "FAILED: There is no index" in check.log
    assert AuditEvent.objects.filter(action="recall.check_failed", detail__check=check.pk).exists()


def test_a_partitioned_index_is_walked_through_its_partitions_indexes(plant, superuser_sql):
    """The plan of a partitioned table names each partition's index, never the partitioned one: the check said "the
    planner did not walk" the index it had just measured."""
    s = plant.schema
    plant.sql(f"CREATE TABLE {s}.parts (id int, embedding vector(3)) PARTITION BY RANGE (id)")
    plant.sql(f"CREATE TABLE {s}.parts_low PARTITION OF {s}.parts FOR VALUES FROM (0) TO (500)")
    plant.sql(f"CREATE TABLE {s}.parts_high PARTITION OF {s}.parts FOR VALUES FROM (500) TO (1000)")
    plant.sql(f"INSERT INTO {s}.parts SELECT i, ARRAY[random(), random(), random()] FROM generate_series(0, 999) i")  # noqa: S608 -- a test schema name
    plant.sql(f"CREATE INDEX parts_hnsw ON {s}.parts USING hnsw (embedding vector_l2_ops)")
    plant.sql(f"ANALYZE {s}.parts")
    result = measure_recall(f"{s}.parts_hnsw", k=5, samples=10, target=0.5)
    assert result.uses_index and result.plan_note == "", result.plan_note
    attached = attached_index_names(index_target(s, "parts_hnsw"))
    assert attached == {"parts_low_embedding_idx", "parts_high_embedding_idx"}
    # One partition's index the planner cannot use: that partition is read exactly, and the check says so.
    superuser_sql(
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [f"{s}.parts_high_embedding_idx"]
    )
    partly = measure_recall(f"{s}.parts_hnsw", k=5, samples=10, target=0.5)
    assert not partly.uses_index
    assert "on some partitions only (not through parts_high_embedding_idx)" in partly.plan_note, partly.plan_note
    # Figures that mix exact answers in recommend no setting (the index page showed one, with no caveat).
    assert partly.recommended is None
    assert partly.recommendation.startswith("No hnsw.ef_search value is recommended: The planner walked")


@pytest.fixture
def committed_items(planter, transactional_db):
    return plant_items(planter)


def test_the_worker_runs_a_requested_check(committed_items, worker):  # noqa: F811 -- the fixture
    dba = make_user("dba-recall")
    check = start_recall_check(f"{committed_items.schema}.items_hnsw", user=dba, k=10, samples=20)

    def ended():
        check.refresh_from_db()
        return not check.is_active

    wait_for(ended, timeout=60, what="the recall check to end")
    assert check.state == JobState.SUCCEEDED, check.error + worker.output()[-3000:]
    result = RecallResult.from_json(check.result)
    assert result.index == f"{committed_items.schema}.items_hnsw" and result.uses_index
    assert result.ladder and result.recommendation
    # procrastinate's row of a job that succeeded goes (PROCRASTINATE_WORKER_DEFAULTS' delete_jobs): the record stays.
    wait_for(lambda: not _job_row(check.job_id), timeout=30, what="the succeeded job's row to go")


def _job_row(job_id: int | None) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT FROM procrastinate_jobs WHERE id = %s)", [job_id])
        return cur.fetchone()[0]


def test_a_check_whose_worker_died_is_recovered_as_failed(committed_items, worker, short_stall):  # noqa: F811
    dba = make_user("dba-recall-crash")
    # The largest check this table allows: thousands of queries, seconds of work to interrupt.
    check = start_recall_check(f"{committed_items.schema}.items_hnsw", user=dba, k=100, samples=1000)

    def running():
        check.refresh_from_db()
        return check.state == JobState.RUNNING

    wait_for(running, timeout=60, what="the check to start")
    assert jobs.recover(RECALL_CHECK) == []  # a live worker's check is left alone
    recovered = recovered_after_kill(worker, RECALL_CHECK)
    assert [r.pk for r in recovered] == [check.pk]
    check.refresh_from_db()
    assert check.state == JobState.FAILED and check.error == WORKER_STOPPED and check.finished_at
    assert "recovery:" in check.log
    assert AuditEvent.objects.filter(action="recall.check_failed", detail__check=check.pk, actor=dba).exists()
    assert jobs.recover(RECALL_CHECK) == []


def test_an_index_on_a_table_this_role_may_not_read_is_refused_with_the_grant_it_needs(plant, superuser_sql):
    s = plant.schema
    superuser_sql(f"CREATE TABLE {s}.secret (embedding vector(3))")
    superuser_sql(f"INSERT INTO {s}.secret SELECT ARRAY[i, 1, 1]::vector FROM generate_series(1, 20) AS i")  # noqa: S608
    superuser_sql(f"CREATE INDEX secret_hnsw ON {s}.secret USING hnsw (embedding vector_l2_ops)")
    role = connection.settings_dict["USER"]
    with pytest.raises(RecallRefused, match=f"Role {role} may not read table {s}.secret") as refused:
        measure_recall(f"{s}.secret_hnsw")
    assert "SELECT on the table" in str(refused.value)
    out = StringIO()
    with pytest.raises(CommandError, match="may not read table"):
        call_command("recall_check", f"{s}.secret_hnsw", stdout=out, stderr=out)


def test_an_index_whose_columns_this_role_may_read_is_checked_though_the_table_is_not_granted(plant, superuser_sql):
    s = plant.schema
    role = connection.settings_dict["USER"]
    superuser_sql(f"CREATE TABLE {s}.partly (id int, secret text, kept bool, embedding vector(3))")
    rows = "SELECT i, 'x', true, ARRAY[i, 1, 1]::vector FROM generate_series(1, 20) AS i"
    superuser_sql(f"INSERT INTO {s}.partly {rows}")
    superuser_sql(f"CREATE INDEX partly_hnsw ON {s}.partly USING hnsw (embedding vector_l2_ops) WHERE kept")
    superuser_sql(f"GRANT SELECT (embedding) ON {s}.partly TO {role}")
    # Its predicate reads a column this role may not read.
    with pytest.raises(RecallRefused, match=f"Role {role} may not read table {s}.partly"):
        measure_recall(f"{s}.partly_hnsw", k=5, samples=5)
    superuser_sql(f"GRANT SELECT (kept) ON {s}.partly TO {role}")
    with pytest.raises(RecallRefused, match="the columns the index reads and ctid"):
        measure_recall(f"{s}.partly_hnsw", k=5, samples=5)
    superuser_sql(f"GRANT SELECT (ctid) ON {s}.partly TO {role}")
    result = measure_recall(f"{s}.partly_hnsw", k=5, samples=5)
    assert result.recall is not None and 0 <= result.recall <= 1
