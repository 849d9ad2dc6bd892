"""The EXPLAIN service: the parser's layer, the limits, the records, and a hostile corpus through all layers."""

# ruff: noqa: S608 -- the SQL names tables planted by the test itself

from __future__ import annotations

import time

import pglast
import psycopg
import pytest

from schemaadmin.checks import explain_role_problems
from schemaadmin.models import AuditEvent, ExplainRun
from schemaadmin.pg.connection import connection_params
from schemaadmin.pg.explain_role import RoleState
from schemaadmin.pg.run_slots import RUN_SLOT_NAMESPACE, run_slot_key
from schemaadmin.services.explain import run as explain_service
from schemaadmin.services.explain.plan_size import MAX_PLANNED_NODES, inlined_size, plan_size_refusal
from schemaadmin.services.explain.run import explain, max_timeout_ms
from schemaadmin.services.explain.summary import plan_summary, plan_text
from tests.pg.test_explain import (
    LEAST_OVERRUN_S,
    UNINTERRUPTIBLE,
    UNINTERRUPTIBLE_MS,
    WATCHDOG_GRACE_MS,
    signalled_once_running,
    uninterruptible_overrun,
)
from tests.services.explain.test_statement import nested_query
from tests.versions import skip_below, skip_without_set_role_fallback

SECRET = "hunter2-secret-token"

# Every input is refused or fails, or (side effects only) succeeds without anything surviving it. FAILED inputs
# pass the parser; the function allowlist refuses most of them, the server stops the rest.
REFUSED, FAILED, HARMLESS = "refused", "failed", "harmless"
HOSTILE: list[tuple[str, str]] = [
    # writes and DDL
    ("INSERT INTO {t} VALUES (2, 'x')", REFUSED),
    ("UPDATE {t} SET token = 'x'", REFUSED),
    ("DELETE FROM {t}", REFUSED),
    ("MERGE INTO {t} USING (SELECT 1 AS id) s ON {t}.id = s.id WHEN MATCHED THEN DELETE", REFUSED),
    ("TRUNCATE {t}", REFUSED),
    ("DROP TABLE {t}", REFUSED),
    ("CREATE TABLE {schema}.evil (id int)", REFUSED),
    ("CREATE TABLE {schema}.evil AS SELECT * FROM {t}", REFUSED),
    ("SELECT * INTO {schema}.evil FROM {t}", REFUSED),
    ("ALTER TABLE {t} ADD COLUMN x int", REFUSED),
    ("CREATE INDEX ON {t} (id)", REFUSED),
    ("GRANT ALL ON {t} TO PUBLIC", REFUSED),
    ("CREATE ROLE evil SUPERUSER LOGIN", REFUSED),
    ("VACUUM {t}", REFUSED),
    ("ANALYZE {t}", REFUSED),
    ("CREATE FUNCTION {schema}.f() RETURNS int LANGUAGE sql AS 'SELECT 1'", REFUSED),
    # several statements
    ("SELECT 1; DELETE FROM {t}", REFUSED),
    ("SELECT 1; SELECT 2", REFUSED),
    ("SELECT 1;; COMMIT; DROP TABLE {t}", REFUSED),
    # data-modifying CTEs, nested too
    ("WITH d AS (DELETE FROM {t} RETURNING *) SELECT * FROM d", REFUSED),
    ("WITH u AS (UPDATE {t} SET token = 'x' RETURNING 1) SELECT 1", REFUSED),
    ("WITH a AS (SELECT 1), i AS (INSERT INTO {t} VALUES (3, 'y') RETURNING 1) SELECT * FROM a", REFUSED),
    ("SELECT * FROM (WITH d AS (DELETE FROM {t} RETURNING 1) SELECT 1) s", REFUSED),
    # COPY, DO, CALL, transaction control, session state, locks
    ("COPY {t} TO '/tmp/leak.csv'", REFUSED),
    ("COPY (SELECT * FROM {t}) TO PROGRAM 'cat > /tmp/x'", REFUSED),
    ("COPY {t} FROM '/etc/passwd'", REFUSED),
    ("DO $$ BEGIN DELETE FROM {t}; END $$", REFUSED),
    ("CALL {schema}.p()", REFUSED),
    ("COMMIT", REFUSED),
    ("ROLLBACK; DELETE FROM {t}", REFUSED),
    ("SET TRANSACTION READ WRITE", REFUSED),
    ("BEGIN READ WRITE", REFUSED),
    ("SET ROLE postgres", REFUSED),
    ("RESET ROLE", REFUSED),
    ("SET SESSION AUTHORIZATION postgres", REFUSED),
    ("LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE", REFUSED),
    ("SELECT * FROM {t} FOR UPDATE", REFUSED),
    ("SELECT * FROM {t} FOR SHARE NOWAIT", REFUSED),
    ("PREPARE p AS SELECT 1", REFUSED),
    ("LISTEN x", REFUSED),
    ("NOTIFY x, 'hello'", REFUSED),
    ("EXPLAIN ANALYZE DELETE FROM {t}", REFUSED),
    ("LOAD 'plpgsql'", REFUSED),
    ("CHECKPOINT", REFUSED),
    # side-effecting and superuser-only functions: let through by the parser, stopped by the server
    ("SELECT nextval('{schema}.s')", FAILED),
    ("SELECT setval('{schema}.s', 100)", FAILED),
    ("SELECT pg_read_file('/etc/passwd')", FAILED),
    ("SELECT * FROM pg_ls_dir('.')", FAILED),
    ("SELECT lo_import('/etc/passwd')", FAILED),
    ("SELECT lo_unlink(1)", FAILED),
    ("SELECT pg_reload_conf()", FAILED),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()", FAILED),
    ("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()", FAILED),
    ("SELECT pg_sleep(3)", FAILED),
    ("SELECT count(*) FROM generate_series(1, 100000000000)", FAILED),
    # error-message exfiltration
    ("SELECT token::int FROM {t}", FAILED),
    ("SELECT 1 / (CASE WHEN token LIKE 'hunter%%' THEN 0 ELSE 1 END) FROM {t}", FAILED),
    ("SELECT to_date(token, 'YYYY') FROM {t}", FAILED),
    ("SELECT token::json FROM {t}", FAILED),
    ("SELECT ('{{\"a\":' || token || '}}')::jsonb FROM {t}", FAILED),
    # session state that must not survive
    ("SELECT pg_advisory_lock(4242)", HARMLESS),
    ("SELECT pg_advisory_xact_lock(4243)", HARMLESS),
    ("SELECT set_config('work_mem', '64kB', false)", HARMLESS),
    ("SELECT set_config('search_path', 'evil', false)", HARMLESS),
]


@pytest.fixture
def sentinel(plant):
    table = plant.table("secrets", "id int PRIMARY KEY, token text", rows=1, fill=f"i, '{SECRET}'")
    plant.sql(f"CREATE SEQUENCE {plant.schema}.s")
    return {"t": table, "schema": plant.schema}


def _other() -> psycopg.Connection:
    return psycopg.connect(**connection_params("default"), autocommit=True)


def test_the_corpus_is_large_enough():
    assert len(HOSTILE) >= 40


@pytest.mark.django_db
@pytest.mark.parametrize("statement,expected", HOSTILE, ids=[s[:40] for s, _ in HOSTILE])
def test_hostile_input(sentinel, plant, role_user, statement, expected):
    user = role_user("dba")
    text = statement.format(**sentinel)
    # 2 s: a harmless statement is not stopped by a busy machine, and pg_sleep(3) and the endless count still are.
    result = explain(text, user=user, options={"ANALYZE": True}, timeout_ms=2_000)

    if expected == REFUSED:
        assert result.outcome == "refused", (text, result.outcome, result.message)
    elif expected == FAILED:
        assert result.outcome in {"refused", "error", "timeout"}, (text, result.outcome, result.message)
    else:
        assert result.outcome in {"ok", "refused", "error"}, (text, result.message)
    assert result.message or result.ok
    assert SECRET not in result.message and "hunter2" not in result.message and "Traceback" not in result.message
    # Nothing changed.
    assert plant.sql(f"SELECT id, token FROM {sentinel['t']}") == [(1, SECRET)]
    assert plant.sql(f"SELECT last_value, is_called FROM {sentinel['schema']}.s") == [(1, False)]
    assert plant.sql(
        "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace ORDER BY relname", [sentinel["schema"]]
    ) == [("s",), ("secrets",), ("secrets_pkey",)]
    assert plant.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'evil'") == [(0,)]
    # Nothing lingered: no advisory lock, no session of the run left behind.
    with _other() as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid <> %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",  # not another run's
            [RUN_SLOT_NAMESPACE],
        ).fetchone() == (0,)
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND state LIKE 'idle in transaction%%' AND backend_type = 'client backend' "
                "AND query NOT LIKE '%%pg_advisory%%' AND query NOT LIKE 'SAVEPOINT%%'"
            ).fetchone()[0]
            <= 1
        )  # the test's own transaction
    # Recorded, refused or not.
    run = ExplainRun.objects.get(pk=result.run.pk)
    assert run.user == user and run.sql == text and run.outcome == result.outcome
    event = AuditEvent.objects.get(action="explain.run", target=f"explain:{run.pk}")
    assert event.actor == user and event.detail["outcome"] == result.outcome


@pytest.mark.django_db
def test_too_many_concurrent_runs_are_refused_and_recorded(role_user, settings):
    settings.SCHEMAADMIN = {"EXPLAIN_CONCURRENT_RUNS_PER_USER": 1}
    user = role_user("dba")
    with _other() as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_SLOT_NAMESPACE, run_slot_key(user.pk, 0)])
        result = explain("SELECT 1", user=user)
    assert result.outcome == "refused" and "1 EXPLAIN runs in progress" in result.message
    assert ExplainRun.objects.filter(user=user, outcome="refused").count() == 1
    assert explain("SELECT 1", user=user).ok  # the slot is free again


@pytest.mark.django_db
def test_a_server_error_position_is_marked_in_the_users_text(role_user):
    result = explain("SELECT no_such_column\nFROM pg_class", user=role_user("dba"))
    assert result.outcome == "error" and "no_such_column" in result.message
    assert result.marked.splitlines()[0] == "line 1: SELECT no_such_column"


@pytest.mark.django_db
def test_timeout_is_capped_and_reported(role_user, settings):
    settings.SCHEMAADMIN = {"EXPLAIN_MAX_TIMEOUT_MS": 150}
    result = explain("SELECT pg_sleep(2)", user=role_user("dba"), options={"ANALYZE": True}, timeout_ms=60_000)
    assert result.outcome == "timeout" and result.message == (
        "The statement was cancelled after 150 ms (statement_timeout)."
    )
    assert result.run.options["timeout_ms"] == 150


@pytest.mark.django_db
def test_parameters_get_a_generic_plan(role_user):
    skip_below(160000, "EXPLAIN GENERIC_PLAN is PostgreSQL 16's")
    result = explain("SELECT * FROM pg_class WHERE oid = $1", user=role_user("dba"), options={"ANALYZE": True})
    assert result.ok, result.message
    assert result.run.options.get("GENERIC_PLAN") is True and "ANALYZE" not in result.run.options
    assert result.summary is not None and not result.summary.analyzed


@pytest.mark.django_db
def test_without_a_low_privilege_role_to_run_as_the_console_refuses_instead_of_running_as_the_application(
    role_user, settings
):
    """No login of its own and no role to SET ROLE to: the query would run with the application's rights, which
    read password hashes (a yes/no oracle through EXPLAIN ANALYZE's row counts). It is refused, and says the fix."""
    settings.SCHEMAADMIN_EXPLAIN_LOGIN = None  # the SET ROLE fallback
    settings.SCHEMAADMIN = {"EXPLAIN_ROLE": "no_such_role"}
    result = explain(
        "SELECT 1 FROM auth_user WHERE password LIKE 'pbkdf2%'", user=role_user("dba"), options={"ANALYZE": True}
    )
    assert result.outcome == "refused" and result.plan is None
    assert "'no_such_role' does not exist" in result.message and "create_explain_role" in result.message
    assert ExplainRun.objects.get(pk=result.run.pk).outcome == "refused"


def test_the_system_check_warns_when_the_role_is_missing():
    assert explain_role_problems("default", RoleState("schemaadmin_explain", True, True)) == []
    (warning,) = explain_role_problems("default", RoleState("schemaadmin_explain", False, False))
    assert warning.id == "schemaadmin.W010" and "does not exist" in warning.msg


@pytest.mark.django_db
def test_the_summary_reads_a_real_plan(plant, role_user):
    table = plant.table("big", "id int, v int", rows=20_000, fill="i, i % 10")
    plant.sql(f"ANALYZE {table}")
    result = explain(
        f"SELECT v, count(*) FROM {table} WHERE v = 3 OR id > 0 GROUP BY v ORDER BY 2",
        user=role_user("dba"),
        options={"ANALYZE": True, "BUFFERS": True},
    )
    assert result.ok, result.message
    summary = result.summary
    assert summary.analyzed and summary.execution_ms > 0 and summary.planning_ms is not None
    assert summary.slowest and summary.slowest[0].exclusive_ms >= 0
    assert any("Seq Scan on big" in s for s in summary.seq_scans)
    assert summary.buffer_hit_ratio is not None
    assert summary.vector_order is None
    assert "Seq Scan on big" in plan_text(result.plan)


def test_the_summary_says_why_a_vector_order_missed_the_index():
    sort = {
        "Plan": {
            "Node Type": "Limit",
            "Plans": [
                {
                    "Node Type": "Sort",
                    "Sort Key": ["(embedding <=> '[1,2]'::vector)"],
                    "Plans": [{"Node Type": "Seq Scan", "Relation Name": "knowledge_base_chunks", "Plan Rows": 5}],
                }
            ],
        }
    }
    summary = plan_summary([sort])
    assert summary.vector_index_used is False and "same cast" in summary.vector_order
    index = {
        "Plan": {
            "Node Type": "Index Scan",
            "Index Name": "chunk_embedding_hnsw",
            "Order By": "((embedding)::halfvec(3072) <=> '[1,2]'::halfvec)",
        }
    }
    summary = plan_summary([index])
    assert summary.vector_index_used is True and "chunk_embedding_hnsw" in summary.vector_order


def test_row_misses_and_disk_spills_are_found():
    plan = {
        "Plan": {
            "Node Type": "Sort",
            "Sort Method": "external merge",
            "Sort Space Type": "Disk",
            "Sort Space Used": 2048,
            "Actual Total Time": 10.0,
            "Actual Loops": 1,
            "Plan Rows": 10,
            "Actual Rows": 5000,
            "Plans": [
                {"Node Type": "Hash", "Hash Batches": 4, "Actual Total Time": 4.0, "Actual Loops": 1, "Plan Rows": 1}
            ],
        },
        "Execution Time": 10.0,
    }
    summary = plan_summary([plan])
    assert summary.row_misses[0].factor == 500
    assert len(summary.disk_spills) == 2
    assert summary.slowest[0].label == "Sort" and summary.slowest[0].exclusive_ms == 6.0


def test_rows_a_limit_never_asked_for_are_not_a_miss():
    # SELECT … ORDER BY … LIMIT 5: the Sort is estimated at 2,000 rows and hands over 5 because the Limit stops it.
    plan = {
        "Plan": {
            "Node Type": "Limit",
            "Actual Total Time": 4.1,
            "Actual Loops": 1,
            "Plan Rows": 5,
            "Actual Rows": 5,
            "Plans": [
                {
                    "Node Type": "Sort",
                    "Actual Total Time": 4.1,
                    "Actual Loops": 1,
                    "Plan Rows": 2000,
                    "Actual Rows": 5,
                    "Plans": [
                        {
                            "Node Type": "Seq Scan",
                            "Relation Name": "conversations",
                            "Actual Total Time": 3.9,
                            "Actual Loops": 1,
                            "Plan Rows": 20,
                            "Actual Rows": 2000,
                        }
                    ],
                }
            ],
        },
        "Execution Time": 4.2,
    }
    misses = plan_summary([plan]).row_misses
    # The underestimate below the Limit is still a real miss; the Sort stopped early is not.
    assert [m.label for m in misses] == ["Seq Scan on conversations"]


@pytest.mark.django_db
def test_parameters_before_postgresql_16_are_refused_with_a_reason(role_user, monkeypatch):
    monkeypatch.setattr("schemaadmin.services.explain.run.server_version", lambda using: 150004)
    result = explain("SELECT * FROM pg_class WHERE oid = $1", user=role_user("dba"))
    assert result.outcome == "refused" and "PostgreSQL 16 or newer" in result.message


@pytest.mark.parametrize(
    "order_by,used,says",
    [
        ("(embedding::halfvec(3072)) <=> $1::halfvec(3072)", True, "chunks_embedding_hnsw"),
        ("embedding <=> $1::vector(3072)", False, "order by the same cast"),
        ("(embedding::halfvec(3072)) <-> $1::halfvec(3072)", False, "operator class"),
    ],
)
def test_the_summary_tells_whether_the_knn_used_the_hnsw_index(plant, role_user, order_by, used, says):
    # A generic plan of the product's kNN query over a table shaped like knowledge_base_chunks, with its halfvec
    # index, never analyzed. (The product table itself carries whatever statistics earlier tests left: ANALYZE
    # writes a table's size in place, and a rolled-back test keeps it.)
    skip_below(160000, "a $1 query's plan is EXPLAIN GENERIC_PLAN's, PostgreSQL 16's")
    table = plant.table("chunks", "id bigint PRIMARY KEY, embedding vector(3072)")
    plant.sql(
        f"CREATE INDEX chunks_embedding_hnsw ON {table} USING hnsw ((embedding::halfvec(3072)) halfvec_cosine_ops)"
    )
    result = explain(
        f"SELECT id FROM {table} WHERE embedding IS NOT NULL ORDER BY {order_by} LIMIT 10",
        user=role_user("dba"),
    )
    assert result.ok, result.message
    assert result.summary.vector_index_used is used, (result.summary.vector_order, result.plan)
    assert says in result.summary.vector_order


@pytest.mark.django_db
def test_a_thousand_deep_plan_is_run_summarised_and_recorded(role_user, settings):
    settings.SCHEMAADMIN = {"EXPLAIN_MAX_SQL_CHARS": 100_000}
    result = explain(nested_query(1000, "scalar"), user=role_user("dba"), options={"ANALYZE": True}, timeout_ms=30_000)
    assert result.ok, result.message
    assert result.summary.analyzed and len(plan_text(result.plan).splitlines()) > 1000
    run = ExplainRun.objects.get(pk=result.run.pk)
    assert run.outcome == "ok" and run.plan[0]["Plan"]["Node Type"] == "Result"


@pytest.mark.django_db
def test_a_nul_byte_run_is_recorded_with_the_nul_shown(role_user):
    user = role_user("dba")
    result = explain("SELECT 'a\x00b'", user=user, options={"ANALYZE": True})
    assert result.outcome == "refused" and "NUL character" in result.message
    run = ExplainRun.objects.get(pk=result.run.pk)
    assert run.sql == "SELECT 'a\u2400b'" and run.outcome == "refused"
    event = AuditEvent.objects.get(action="explain.run", target=f"explain:{run.pk}")
    assert event.detail["sql"] == "SELECT 'a\u2400b'" and event.detail["outcome"] == "refused"


# The record is written before the query runs, and completed after.
@pytest.mark.django_db
def test_the_run_and_its_audit_event_are_on_record_while_the_query_runs(role_user, monkeypatch):
    user = role_user("dba")
    seen = []
    real = explain_service.run_explain

    def observed(*args, **kwargs):
        run = ExplainRun.objects.get(user=user)
        event = AuditEvent.objects.get(action="explain.run", target=f"explain:{run.pk}")
        seen.append((run.outcome, run.sql, event.detail["outcome"], run.options["ran_as"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(explain_service, "run_explain", observed)
    result = explain("SELECT 1", user=user)
    assert seen == [("running", "SELECT 1", "running", "login role schemaadmin_explain")]
    run = ExplainRun.objects.get(pk=result.run.pk)
    assert run.outcome == "ok" and run.plan
    event = AuditEvent.objects.get(action="explain.run", target=f"explain:{run.pk}")
    assert event.detail["outcome"] == "ok"


@pytest.mark.django_db
def test_a_run_whose_process_dies_stays_running_on_record(role_user, monkeypatch):
    user = role_user("dba")

    def killed(*args, **kwargs):
        raise SystemExit("the worker was killed")  # not an Exception: nothing in the service may catch it

    monkeypatch.setattr(explain_service, "run_explain", killed)
    with pytest.raises(SystemExit):
        explain("SELECT 1", user=user)
    run = ExplainRun.objects.get(user=user)
    assert run.outcome == "running" and not run.interrupted  # until long past any run's end
    ExplainRun.objects.filter(pk=run.pk).update(created_at=run.created_at.replace(year=2000))
    assert ExplainRun.objects.get(pk=run.pk).interrupted


@pytest.mark.django_db
def test_a_failure_inside_the_service_is_recorded_and_said(role_user, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug in the summary")

    monkeypatch.setattr(explain_service, "plan_summary", broken)
    result = explain("SELECT 1", user=role_user("dba"))
    assert result.outcome == "error"
    assert result.message == "The run failed inside SchemaAdmin (ValueError); the failure is logged."
    run = ExplainRun.objects.get(pk=result.run.pk)
    assert run.outcome == "error" and run.error == result.message
    event = AuditEvent.objects.get(action="explain.run", target=f"explain:{run.pk}")
    assert event.detail["reason"] == result.message


# Errors carry no data, on the page, in the run's record and in the audit log.
@pytest.mark.django_db
def test_a_value_in_an_error_while_running_is_withheld_everywhere(plant, role_user):
    table = plant.table("searches", "q text", rows=1, fill="'hunter2 secret'")
    # tsquery's input function puts the whole value in a syntax error (class 42): "syntax error in tsquery: ..."
    result = explain(f"SELECT q::tsquery FROM {table}", user=role_user("dba"), options={"ANALYZE": True})
    expected = (
        "The query failed while running: syntax_error (SQLSTATE 42601). The server's message is withheld "
        "because it can contain values read from the data."
    )
    assert result.outcome == "error" and result.message == expected and result.marked == ""
    run = ExplainRun.objects.get(pk=result.run.pk)
    assert run.error == expected
    event = AuditEvent.objects.get(action="explain.run", target=f"explain:{run.pk}")
    assert event.detail["reason"] == expected and "hunter2" not in str(event.detail)


# A cancel from another session (the Activity page's) is recorded as one, in the run and its audit event alike.
@pytest.mark.django_db
def test_a_run_cancelled_by_another_session_is_recorded_as_cancelled(role_user):
    with signalled_once_running("'cancelled run' AS marker", "cancel"):
        result = explain(
            "SELECT pg_sleep(30), 'cancelled run' AS marker",
            user=role_user("dba"),
            options={"ANALYZE": True},
            timeout_ms=60_000,
        )
    assert result.outcome == "cancelled" and "cancelled by another session" in result.message
    run = ExplainRun.objects.get(pk=result.run.pk)
    assert run.outcome == "cancelled" and run.get_outcome_display() == "Cancelled" and run.error == result.message
    event = AuditEvent.objects.get(action="explain.run", target=f"explain:{run.pk}")
    assert event.detail["outcome"] == "cancelled" and "cancelled by another session" in event.detail["reason"]


# Time: the timeout fits inside the web server's request timeout, and a statement that ignores it is stopped.
@pytest.mark.django_db
def test_the_timeout_is_capped_inside_the_request_timeout(role_user, settings):
    settings.SCHEMAADMIN_REQUEST_TIMEOUT_SECONDS = 20
    settings.SCHEMAADMIN = {"EXPLAIN_WATCHDOG_GRACE_MS": 4_000}
    assert max_timeout_ms() == 20_000 - 4_000 - explain_service.REQUEST_MARGIN_MS
    result = explain("SELECT 1", user=role_user("dba"), timeout_ms=60_000)
    assert result.run.options["timeout_ms"] == 6_000


@pytest.mark.django_db
def test_a_statement_that_ignores_its_timeout_is_stopped_and_recorded_as_timed_out(role_user, settings):
    # The premise, as tests/pg/test_explain.py checks it: the statement overruns its timeout by more than the grace
    # and the time to look, or "still ran" below could fail on a fast machine, or pass without proving anything.
    overrun = uninterruptible_overrun()
    assert overrun > LEAST_OVERRUN_S, f"the statement stopped {overrun:.2f} s after its timeout: pick a slower one"
    settings.SCHEMAADMIN = {"EXPLAIN_WATCHDOG_GRACE_MS": WATCHDOG_GRACE_MS}
    result = explain(UNINTERRUPTIBLE, user=role_user("dba"), options={"ANALYZE": True}, timeout_ms=UNINTERRUPTIBLE_MS)
    assert result.outcome == "timeout", result.message
    assert f"ran past its {UNINTERRUPTIBLE_MS} ms statement_timeout" in result.message
    run = ExplainRun.objects.get(pk=result.run.pk)
    assert run.outcome == "timeout" and run.error == result.message
    with _other() as conn:
        running = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
            ["%'watchdog test' AS marker%"],
        ).fetchall()
        assert len(running) == 1  # the service answered while the statement still ran
        deadline = time.monotonic() + 30
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", running[0]).fetchone() != (0,):
            assert time.monotonic() < deadline, "the run's backend outlived the watchdog"
            conn.execute("SELECT pg_stat_clear_snapshot()")


# Which way the run got its privileges is on record.
@pytest.mark.django_db
def test_the_record_says_whether_the_run_logged_in_or_fell_back_to_set_role(role_user, settings):
    user = role_user("dba")
    assert explain("SELECT 1", user=user).run.options["ran_as"] == "login role schemaadmin_explain"
    skip_without_set_role_fallback()
    settings.SCHEMAADMIN_EXPLAIN_LOGIN = None
    assert explain("SELECT 1", user=user).run.options["ran_as"] == "SET ROLE schemaadmin_explain fallback"


def _cte_levels(levels: int, materialized: str = "NOT MATERIALIZED") -> str:
    """A query whose every level uses the one below ten times: 10**levels copies when each is written in."""
    parts = [f"l0 AS {materialized} (SELECT 1 AS x)"]
    for level in range(1, levels + 1):
        uses = " UNION ALL ".join([f"SELECT x FROM l{level - 1}"] * 10)
        parts.append(f"l{level} AS {materialized} ({uses})")
    return f"WITH {', '.join(parts)} SELECT x FROM l{levels}"


@pytest.mark.django_db
def test_a_query_whose_ctes_multiply_in_the_planner_is_refused_before_it_runs(role_user):
    """Five levels of NOT MATERIALIZED CTEs, 1,490 characters, held 6.7 GB of planner memory past the timeout."""
    dba = role_user("dba")
    result = explain(_cte_levels(5), user=dba)
    assert result.outcome == "refused" and "copied into every place that uses them" in result.message
    assert result.run.outcome == "refused" and result.plan is None
    # The same query with its CTEs planned once each, and a shallower one, are explained.
    for text in (_cte_levels(5, "MATERIALIZED"), _cte_levels(3)):
        assert explain(text, user=dba).ok


def _nested_same_name(levels: int, materialized: str = "NOT MATERIALIZED") -> str:
    """WITH a AS (WITH a AS (…) SELECT … FROM a a0, …, a a9) SELECT … FROM a a0, …: each inner a hides the outer
    one, and the planner copies each level into its ten uses (4 levels, 435 characters: 7.3 s of planning)."""
    query = "SELECT 1 AS x"
    for _ in range(levels):
        query = f"WITH a AS {materialized} ({query}) SELECT a0.x FROM " + ", ".join(f"a a{i}" for i in range(10))
    return query


@pytest.mark.parametrize(
    "text",
    [
        _nested_same_name(5),  # names resolved by scope: an inner WITH's a is another CTE than the outer's
        _cte_levels(5, ""),  # unmarked: counted at each use (PostgreSQL copies one used once)
        "WITH a AS (SELECT 1 AS x), "
        + _cte_levels(5).removeprefix("WITH ").replace("(SELECT 1 AS x)", "(SELECT x FROM a)", 1),
        # WITH RECURSIVE: a CTE sees the later ones too; each level names the next
        "WITH RECURSIVE "
        + ", ".join(
            f"l{i} AS NOT MATERIALIZED (" + " UNION ALL ".join([f"SELECT x FROM l{i + 1}"] * 10) + ")" for i in range(5)
        )
        + ", l5 AS NOT MATERIALIZED (SELECT 1 AS x) SELECT x FROM l0",
    ],
    ids=["nested same name", "unmarked", "unmarked used once", "recursive forward"],
)
def test_copies_hidden_by_scopes_and_marks_are_counted_too(text):
    assert "copied into every place that uses them" in (plan_size_refusal(parse(text)) or "")


def test_a_recursive_cte_and_materialized_levels_are_planned_once():
    assert plan_size_refusal(parse(_nested_same_name(5, "MATERIALIZED"))) is None
    recursive = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 10) SELECT * FROM t, t t2"
    assert plan_size_refusal(parse(recursive)) is None


def test_counting_a_hostile_query_stops_at_the_limit():
    """19,000 characters of nested same-named CTEs (6.2 s to count before): the walk stops just past the limit,
    each use walking its copy, so it never walks more than MAX_PLANNED_NODES nodes."""
    query = "SELECT 1"
    while len(query) < 19_000:
        query = f"WITH a AS NOT MATERIALIZED ({query}) SELECT * FROM a"
    assert inlined_size(parse(query), limit=MAX_PLANNED_NODES) == MAX_PLANNED_NODES + 1


def parse(text: str):
    return pglast.parse_sql(text)[0].stmt
