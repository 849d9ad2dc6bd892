"""Layers 2-4 of the EXPLAIN console on their own: what the server enforces, with the parser left out."""

# ruff: noqa: S608 -- the SQL names tables planted by the test itself

from __future__ import annotations

import psycopg
import pytest

from schemaadmin.pg.connection import connection_params
from schemaadmin.pg.explain import (
    RUN_SLOT_NAMESPACE,
    ExplainFailure,
    explain_role_state,
    release_run_slot,
    run_explain,
    run_slot_key,
    take_run_slot,
)

ROLE = "schemaadmin_explain"


def _run(statement: str, *, role: str | None = ROLE, timeout_ms: int = 5_000, **options: bool):
    return run_explain(statement, options=options, timeout_ms=timeout_ms, lock_timeout_ms=500, role=role)


def _other_connection() -> psycopg.Connection:
    return psycopg.connect(**connection_params("default"), autocommit=True)


@pytest.mark.django_db
def test_the_migration_made_the_role_and_it_is_usable():
    state = explain_role_state(ROLE)
    assert state.exists and state.usable
    with _other_connection() as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolinherit, pg_has_role(%(r)s, 'pg_read_all_data', 'MEMBER'), "
            "pg_has_role(%(r)s, 'pg_read_all_stats', 'MEMBER') FROM pg_roles WHERE rolname = %(r)s",
            {"r": ROLE},
        ).fetchone()
    assert row == (False, False, True, False, True)


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["users", "conversation_messages", "knowledge_base_chunks"])
def test_the_role_reads_the_product_tables(table):
    assert "Plan" in _run(f"SELECT * FROM {table}").plan[0]


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["django_session", "auth_user", "schemaadmin_auditevent", "procrastinate_jobs"])
def test_the_role_cannot_read_sessions_accounts_or_our_own_records(table):
    # EXPLAIN ANALYZE shows no rows, but success or failure of `1/0 when <secret condition>` leaks one bit a
    # run: a session key could be rebuilt in a few hundred runs. So these tables are not readable at all.
    with pytest.raises(ExplainFailure, match="permission denied"):
        _run(f"SELECT 1 / (CASE WHEN count(*) > 0 THEN 0 ELSE 1 END) FROM {table}", ANALYZE=True)


@pytest.mark.django_db
def test_a_plan_comes_back_as_json(plant):
    table = plant.table("t", "id int PRIMARY KEY, v text", rows=100, fill="i, 'x' || i")
    output = _run(f"SELECT * FROM {table} WHERE id = 5", ANALYZE=True, BUFFERS=True)
    plan = output.plan[0]
    assert plan["Plan"]["Node Type"] in {"Index Scan", "Seq Scan", "Bitmap Heap Scan"}
    assert "Execution Time" in plan and output.role == ROLE


# Layer 2: the transaction is READ ONLY and always rolled back.
@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {t} VALUES (999, 'x')",
        "UPDATE {t} SET v = 'changed'",
        "DELETE FROM {t}",
        "SELECT nextval('{s}')",
    ],
)
def test_writes_are_refused_by_the_read_only_transaction(plant, statement):
    table = plant.table("t", "id int, v text", rows=3, fill="i, 'x'")
    plant.sql(f"CREATE SEQUENCE {plant.schema}.s")
    # Run as the application's superuser, so only READ ONLY stands in the way.
    with pytest.raises(ExplainFailure) as refused:
        _run(statement.format(t=table, s=f"{plant.schema}.s"), role=None, ANALYZE=True)
    assert refused.value.sqlstate == "25006", refused.value.message
    assert plant.sql(f"SELECT count(*), min(v) FROM {table}") == [(3, "x")]
    assert plant.sql(f"SELECT last_value, is_called FROM {plant.schema}.s") == [(1, False)]


@pytest.mark.django_db
def test_statement_timeout_cancels_and_says_after_how_long():
    with pytest.raises(ExplainFailure) as cancelled:
        _run("SELECT pg_sleep(5)", timeout_ms=200, ANALYZE=True)
    assert cancelled.value.kind == "timeout"
    assert "cancelled after 200 ms" in cancelled.value.message


@pytest.mark.django_db
def test_lock_timeout_gives_up_waiting(plant):
    table = plant.table("t", "id int", rows=1, fill="i")
    plant.sql("BEGIN")
    plant.sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    try:
        with pytest.raises(ExplainFailure) as cancelled:
            _run(f"SELECT * FROM {table}", ANALYZE=True)
    finally:
        plant.sql("ROLLBACK")
    assert cancelled.value.kind == "timeout" and "for a lock" in cancelled.value.message


@pytest.mark.django_db
def test_the_run_is_read_only_time_limited_and_runs_as_the_role():
    checks = (
        "current_setting('statement_timeout') = '1234ms' AND current_setting('lock_timeout') = '500ms' "
        "AND current_setting('idle_in_transaction_session_timeout') = '6234ms' "
        "AND current_setting('transaction_read_only') = 'on' AND current_user = 'schemaadmin_explain'"
    )
    output = _run(f"SELECT 1 WHERE {checks}", timeout_ms=1234, ANALYZE=True)
    assert output.plan[0]["Plan"]["Actual Rows"] == 1
    output = _run("SELECT 1 WHERE current_user = 'schemaadmin_explain'", role=None, ANALYZE=True)
    assert output.plan[0]["Plan"]["Actual Rows"] == 0


# Layer 3: the low-privilege role makes the server refuse what only a superuser may do.
@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT * FROM pg_ls_dir('.')",
        "SELECT pg_reload_conf()",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
        "SELECT lo_import('/etc/passwd')",
        "SELECT pg_read_binary_file('postgresql.conf')",
        "SELECT * FROM pg_stat_file('postgresql.conf')",
        "SELECT pg_rotate_logfile()",
    ],
)
def test_superuser_only_functions_are_refused_as_the_role(statement):
    with pytest.raises(ExplainFailure) as refused:
        _run(statement, ANALYZE=True)
    assert refused.value.sqlstate in {"42501", "25006"}, refused.value.message


@pytest.mark.django_db
def test_the_role_can_read_data(plant):
    table = plant.table("t", "id int", rows=10, fill="i")
    output = _run(f"SELECT count(*) FROM {table}", ANALYZE=True)
    assert output.plan[0]["Plan"]["Actual Rows"] == 1


# Layer 4: nothing a run does to its session survives it.
@pytest.mark.django_db
def test_an_advisory_lock_taken_in_one_run_is_gone_for_the_next():
    _run("SELECT pg_advisory_lock(424242)", ANALYZE=True)
    with _other_connection() as conn:
        held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242").fetchone()
        assert held == (0,)
        assert conn.execute("SELECT pg_try_advisory_lock(424242)").fetchone() == (True,)


@pytest.mark.django_db
def test_a_setting_made_in_one_run_is_gone_for_the_next():
    _run("SELECT set_config('work_mem', '77kB', false), set_config('myapp.marker', 'leaked', false)", ANALYZE=True)
    output = _run("SELECT 1 WHERE current_setting('myapp.marker', true) IS NULL", ANALYZE=True)
    # The filter is constant-folded at plan time: a One-Time Filter that passed returns the row.
    assert output.plan[0]["Plan"]["Actual Rows"] == 1
    output = _run("SELECT 1 WHERE current_setting('work_mem') = '77kB'", ANALYZE=True)
    assert output.plan[0]["Plan"]["Actual Rows"] == 0


@pytest.mark.django_db
def test_each_run_has_a_connection_of_its_own():
    def backend_pid() -> int:
        output = _run("SELECT 1 WHERE pg_backend_pid() = pg_backend_pid()", ANALYZE=True)
        return output.plan[0]["Plan"]["Actual Rows"]

    assert backend_pid() == 1
    with _other_connection() as conn:
        lingering = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid() "
            "AND state LIKE 'idle in transaction%%'"
        ).fetchone()
    assert lingering == (0,)


@pytest.mark.django_db
def test_data_in_error_messages_is_withheld(plant):
    table = plant.table("secrets", "token text", rows=1, fill="'hunter2-secret'")
    with pytest.raises(ExplainFailure) as failed:
        _run(f"SELECT token::int FROM {table}", ANALYZE=True)
    assert "hunter2" not in failed.value.message
    assert "withheld" in failed.value.message


@pytest.mark.django_db
def test_run_slots_limit_concurrent_runs():
    with _other_connection() as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_SLOT_NAMESPACE, run_slot_key(7, 0)])
        key = take_run_slot(7, 2)
        assert key == run_slot_key(7, 1)
        assert take_run_slot(7, 1) is None
    release_run_slot(key)


@pytest.mark.django_db
def test_planner_settings_apply_to_the_run_only():
    output = run_explain(
        "SELECT 1 WHERE current_setting('hnsw.ef_search') = '77'",
        options={"ANALYZE": True},
        timeout_ms=5_000,
        lock_timeout_ms=500,
        role=ROLE,
        planner_settings={"hnsw.ef_search": "77"},
    )
    assert output.plan[0]["Plan"]["Actual Rows"] == 1


@pytest.mark.django_db
def test_a_run_that_cannot_be_set_up_is_a_failure_not_a_traceback(monkeypatch):
    with pytest.raises(ExplainFailure) as no_role:
        _run("SELECT 1", role="no_such_role")
    assert no_role.value.message == 'The run could not be set up: role "no_such_role" does not exist'
    params = {**connection_params("default"), "port": 1, "host": "/nonexistent", "connect_timeout": 1}
    monkeypatch.setattr("schemaadmin.pg.explain.connection_params", lambda using: params)
    with pytest.raises(ExplainFailure) as no_server:
        _run("SELECT 1")
    assert no_server.value.message.startswith("The run could not be set up: connection")
