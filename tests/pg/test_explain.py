"""The server's layers of the EXPLAIN console on their own: what PostgreSQL enforces, with the parser left out."""

# ruff: noqa: S608 -- the SQL names tables planted by the test itself

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from schemaadmin.embedded import EMBEDDED_SUPERUSER
from schemaadmin.pg.connection import connection_params
from schemaadmin.pg.explain import run_explain
from schemaadmin.pg.explain_failures import ExplainFailure
from schemaadmin.pg.explain_role import explain_role_state
from schemaadmin.pg.run_slots import RUN_SLOT_NAMESPACE, release_run_slot, run_slot_key, take_run_slot
from tests.worker import wait_for

ROLE = "schemaadmin_explain"

# A 10 MB string per row (repeat(), just under the console's 10 MiB cap: milliseconds, and it checks for interrupts),
# then case-mapped 48 times: upper() and lower() loop without checking for interrupts (PostgreSQL 18), and nothing
# checks between calls in one expression. A row takes about 3 s here (3.5-4.9 s beside two busy loops), so the
# 600 ms timeout lands inside the first row however busy the machine is, and cancel and terminate both wait for that
# row to end (about 2.4 s later).
UNINTERRUPTIBLE_MS = 600
UNINTERRUPTIBLE = (
    "SELECT 'watchdog test' AS marker, length("
    + "upper(lower(" * 24
    + f"repeat('{'x' * 1000}' || g, 10000)"
    + "))" * 24
    + ") FROM generate_series(1, 2) AS g"
)
# How long the watchdog waits past the timeout, and the least overrun that leaves the test room to see the statement
# still running after the caller got its answer: the grace, then a second for the caller to return and look.
WATCHDOG_GRACE_MS = 200
LEAST_OVERRUN_S = WATCHDOG_GRACE_MS / 1000 + 1.0


@pytest.fixture
def login() -> dict:
    """Return the console's own login role, as settings name it."""
    if getattr(settings, "SCHEMAADMIN_EXPLAIN_LOGIN", None) is None:
        pytest.skip("no SCHEMAADMIN_EXPLAIN_LOGIN on this server")
    return dict(settings.SCHEMAADMIN_EXPLAIN_LOGIN)


def _run(statement: str, *, role: str | None = ROLE, timeout_ms: int = 5_000, **options: bool):
    """Run as the role: through SET ROLE where the application's role may switch to it (the embedded server, or
    create_explain_role), else logged in as it (docker/initdb.sh grants no SET ROLE: the console logs in)."""
    way = _as_role() if role == ROLE else {"role": role, "login": None}
    return run_explain(statement, options=options, timeout_ms=timeout_ms, lock_timeout_ms=500, **way)


def _as_role() -> dict:
    """Return run_explain's role and login arguments that run as ROLE on this server (see _run)."""
    if explain_role_state(ROLE).usable:
        return {"role": ROLE, "login": None}
    login = getattr(settings, "SCHEMAADMIN_EXPLAIN_LOGIN", None) or pytest.skip("no way to run as the role here")
    return {"role": ROLE, "login": login}


def _other_connection() -> psycopg.Connection:
    return psycopg.connect(**connection_params("default"), autocommit=True)


def uninterruptible_overrun() -> float:
    """Run UNINTERRUPTIBLE under its statement_timeout on a connection of its own; return how long it ran past it."""
    with _other_connection() as conn:
        conn.execute(f"SET statement_timeout = {UNINTERRUPTIBLE_MS}")
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(UNINTERRUPTIBLE)
        return time.monotonic() - started - UNINTERRUPTIBLE_MS / 1000


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


# What the Activity page's Cancel and Terminate send, by the server functions they call.
SIGNALS = {
    "cancel": "SELECT pg_cancel_backend(%s)",
    "terminate": "SELECT pg_terminate_backend(%s)",
}


@contextmanager
def signalled_once_running(marker: str, signal: str) -> Iterator[None]:
    """Send signal ("cancel" or "terminate") from another session to the backend running a statement that holds
    marker, once it runs, while the block waits for that statement."""
    params = connection_params("default")
    sent = threading.Event()

    def send() -> None:
        with psycopg.connect(**params, autocommit=True) as conn:
            deadline = time.monotonic() + 30
            while not sent.is_set() and time.monotonic() < deadline:
                found = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s "
                    "AND pid <> pg_backend_pid()",
                    [f"%{marker}%"],
                ).fetchone()
                if found:
                    conn.execute(SIGNALS[signal], found)
                    sent.set()
                conn.execute("SELECT pg_stat_clear_snapshot()")

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        yield
    finally:
        sender.join()
    assert sent.is_set(), f"the statement holding {marker!r} was never seen running"


# A cancel or terminate from another session (the Activity page's buttons) is neither the statement's timeout nor a
# failure whose message could hold data: the run says who stopped it.
@pytest.mark.django_db
@pytest.mark.parametrize(
    "signal,says",
    [
        ("cancel", "cancelled by another session (pg_cancel_backend, e.g. from the Activity page)"),
        ("terminate", "session was terminated (pg_terminate_backend from another session, e.g. from the Activity"),
    ],
)
def test_a_run_another_session_stops_says_so(signal, says):
    statement = "SELECT pg_sleep(30), 'signal test' AS marker"
    way = _as_role()
    with pytest.raises(ExplainFailure) as stopped, signalled_once_running("'signal test' AS marker", signal):
        run_explain(statement, options={"ANALYZE": True}, timeout_ms=60_000, lock_timeout_ms=500, **way)
    assert stopped.value.kind == "cancelled" and says in stopped.value.message
    assert "statement_timeout" not in stopped.value.message and "withheld" not in stopped.value.message


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
        # The run's connection is closed; its server process releases the lock as it exits, a moment later (on a
        # busy machine, after this check had looked). A lock kept by a pooled session would never go.
        held = "SELECT count(*) = 0 FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242"
        wait_for(lambda: conn.execute(held).fetchone()[0], what="the run's session to release its advisory lock")
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
    with connection.cursor() as cur:  # the test's own transaction is idle in it: not a run's
        cur.execute("SELECT pg_backend_pid()")
        (test_pid,) = cur.fetchone()
    with _other_connection() as conn:
        lingering = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid() "
            "AND pid <> %s AND datname = current_database() AND state LIKE 'idle in transaction%%'",
            [test_pid],
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
        planner_settings={"hnsw.ef_search": "77"},
        **_as_role(),
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
        run_explain("SELECT 1", options={}, timeout_ms=5_000, lock_timeout_ms=500, role=ROLE)
    assert no_server.value.message.startswith("The run could not be set up: connection")


# A cancel still pending when the statement returned (its statement_timeout firing while the server sent or freed a
# large plan) lands on the clean-up ROLLBACK: the statement's own result, or failure, is what the run says.
@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement,ends",
    [("SELECT 1 AS one", "with its plan"), ("SELECT 1/0", "with its own failure")],
)
def test_a_failed_clean_up_rollback_leaves_the_statements_outcome_and_closes_the_connection(
    monkeypatch, statement, ends
):
    execute = psycopg.Connection.execute
    console_pids: list[int] = []

    def failing_rollback(conn, query, *args, **kwargs):
        if query == "ROLLBACK" and not console_pids:
            console_pids.append(conn.info.backend_pid)
            # In the ROLLBACK's place, a statement the server fails: one its statement timer cancels, as the
            # pending cancel did the ROLLBACK; in a transaction the statement's failure aborted, any at all.
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
                execute(conn, "SET LOCAL statement_timeout = 1")
            execute(conn, "SELECT pg_sleep(60)")
        return execute(conn, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", failing_rollback)
    if ends == "with its plan":
        assert _run(statement).plan[0]["Plan"]["Node Type"] == "Result"
    else:
        with pytest.raises(ExplainFailure) as failed:
            _run(statement)
        assert "division_by_zero (SQLSTATE 22012)" in failed.value.message
    monkeypatch.undo()
    assert console_pids, "the run's clean-up ROLLBACK was not reached"
    with _other_connection() as conn:
        # Its transaction was left aborted: the connection is closed, not used again.
        _wait_until_gone(conn, console_pids[0])


# The console's own login role: no SET ROLE, so nothing in a query can switch back to a stronger role.
@pytest.mark.django_db
def test_with_a_login_the_run_logs_in_as_it_and_never_switches_role(login):
    user, database = login["user"], connection.settings_dict["NAME"]
    checks = (
        f"session_user = '{user}' AND current_user = '{user}' AND current_setting('is_superuser') = 'off' "
        f"AND current_database() = '{database}' AND current_setting('transaction_read_only') = 'on'"
    )
    output = run_explain(
        f"SELECT 1 WHERE {checks}",
        options={"ANALYZE": True},
        timeout_ms=5_000,
        lock_timeout_ms=500,
        role=ROLE,  # ignored: a login of its own never switches role
        login={**login, "dbname": "postgres"},  # the database stays the alias's own
    )
    assert output.plan[0]["Plan"]["Actual Rows"] == 1
    assert output.via == f"login role {login['user']}" and output.role == login["user"]


@pytest.mark.django_db
def test_with_a_login_resetting_the_role_gains_nothing(login):
    # The hole of the SET ROLE fallback: set_config('role', 'none', true) goes back to the session's own role.
    output = run_explain(
        "SELECT 1 WHERE set_config('role', 'none', true) = 'none' AND current_user = session_user "
        f"AND session_user = '{login['user']}' AND current_setting('is_superuser') = 'off'",
        options={"ANALYZE": True},
        timeout_ms=5_000,
        lock_timeout_ms=500,
        role=None,
        login=login,
    )
    assert output.plan[0]["Plan"]["Actual Rows"] == 1
    with pytest.raises(ExplainFailure) as refused:
        run_explain(
            "SELECT set_config('role', 'none', true), pg_read_file('/etc/passwd')",
            options={"ANALYZE": True},
            timeout_ms=5_000,
            lock_timeout_ms=500,
            role=None,
            login=login,
        )
    assert refused.value.sqlstate == "42501"


@pytest.mark.django_db
def test_a_login_that_is_a_superuser_runs_nothing(login):
    if settings.EMBEDDED_PGDATA is None:
        pytest.skip("needs the embedded server's superuser")
    with pytest.raises(ExplainFailure, match="is a superuser; it runs no query as one"):
        run_explain(
            "SELECT 1",
            options={},
            timeout_ms=5_000,
            lock_timeout_ms=500,
            role=None,
            login={**login, "user": EMBEDDED_SUPERUSER},
        )


@pytest.mark.django_db
def test_work_mem_is_set_for_the_run(login):
    for way in ({"login": login, "role": None}, _as_role()):
        output = run_explain(
            "SELECT 1 WHERE current_setting('work_mem') = '3MB'",
            options={"ANALYZE": True},
            timeout_ms=5_000,
            lock_timeout_ms=500,
            work_mem="3MB",
            **way,
        )
        assert output.plan[0]["Plan"]["Actual Rows"] == 1, way


@pytest.mark.django_db
def test_temp_file_limit_is_set_where_the_role_may_and_skipped_where_it_may_not(login, superuser_sql):
    query = "SELECT 1 WHERE current_setting('temp_file_limit') = '7MB'"
    # The console's login may not set it (superuser only): the run goes on under the role's own limit.
    output = run_explain(
        query, options={"ANALYZE": True}, timeout_ms=5_000, lock_timeout_ms=500, role=None, login=login,
        temp_file_limit="7MB",
    )  # fmt: skip
    assert output.temp_file_limit is None and output.plan[0]["Plan"]["Actual Rows"] == 0
    # A connecting role granted SET on it (as a superuser is) sets it for the run, before switching role.
    app_role = connection.settings_dict["USER"]
    superuser_sql(f'GRANT SET ON PARAMETER temp_file_limit TO "{app_role}"')
    try:
        output = run_explain(
            query, options={"ANALYZE": True}, timeout_ms=5_000, lock_timeout_ms=500, role=ROLE, temp_file_limit="7MB"
        )
    finally:
        superuser_sql(f'REVOKE SET ON PARAMETER temp_file_limit FROM "{app_role}"')
    assert output.temp_file_limit == "7MB" and output.plan[0]["Plan"]["Actual Rows"] == 1


@pytest.mark.django_db
def test_a_run_stopped_by_a_server_limit_says_which_and_what_to_change(login, superuser_sql):
    # A bare "configuration_limit_exceeded (SQLSTATE 53400)", its message withheld, said nothing of temp_file_limit.
    app_role = connection.settings_dict["USER"]
    superuser_sql(f'GRANT SET ON PARAMETER temp_file_limit TO "{app_role}"')
    try:
        with pytest.raises(ExplainFailure) as spilled:
            run_explain(
                "SELECT count(*) FROM (SELECT g FROM generate_series(1, 3000000) AS g ORDER BY g DESC) AS s",
                options={"ANALYZE": True}, timeout_ms=20_000, lock_timeout_ms=500, role=ROLE, work_mem="64kB",
                temp_file_limit="1MB",
            )  # fmt: skip
    finally:
        superuser_sql(f'REVOKE SET ON PARAMETER temp_file_limit FROM "{app_role}"')
    assert spilled.value.sqlstate == "53400"
    assert "more temporary files than the console allows (temp_file_limit 1MB)" in spilled.value.message
    with pytest.raises(ExplainFailure) as too_big:
        run_explain(
            "SELECT array_fill(1, ARRAY[200000000])", options={"ANALYZE": True}, timeout_ms=5_000,
            lock_timeout_ms=500, role=None, login=login,
        )  # fmt: skip
    assert too_big.value.sqlstate == "54000" and "larger than it can hold" in too_big.value.message
    assert "Narrow it" in too_big.value.message
    # The same SQLSTATE for a NUL character: said among the limits it may be, not as a value too large alone.
    for options in ({"ANALYZE": True}, {}):
        with pytest.raises(ExplainFailure) as nul:
            run_explain("SELECT chr(0)", options=options, timeout_ms=5_000, lock_timeout_ms=500, role=None, login=login)
        assert nul.value.sqlstate == "54000" and "a NUL character (chr(0))" in nul.value.message, options


# Errors cannot carry data: a failure while running shows its condition, never the server's message.
@pytest.mark.django_db
def test_a_value_cast_to_regclass_while_running_is_not_shown(plant, login):
    table = plant.table("people", "email text", rows=1, fill="'alice@example.test'")
    with pytest.raises(ExplainFailure) as failed:
        run_explain(
            f"SELECT quote_ident((SELECT email FROM {table} LIMIT 1))::regclass",
            options={"ANALYZE": True},
            timeout_ms=5_000,
            lock_timeout_ms=500,
            role=None,
            login=login,
        )
    assert failed.value.message == (
        "The query failed while running: undefined_table (SQLSTATE 42P01). The server's message is withheld "
        "because it can contain values read from the data."
    )
    assert failed.value.position is None and failed.value.sqlstate == "42P01"


@pytest.mark.django_db
def test_a_statement_that_fails_while_planning_shows_what_the_user_wrote(login):
    for options in ({"ANALYZE": True}, {}):
        with pytest.raises(ExplainFailure) as failed:
            run_explain(
                "SELECT no_such_column FROM pg_class",
                options=options,
                timeout_ms=5_000,
                lock_timeout_ms=500,
                role=None,
                login=login,
            )
        assert failed.value.message == 'column "no_such_column" does not exist', options
        assert failed.value.position == 8


@pytest.mark.django_db
def test_a_planning_error_naming_something_not_written_is_withheld(login):
    # The planner evaluates stable expressions to estimate selectivity: the setting's value reaches regclass's
    # input function at plan time, and its error names the value, which the user never wrote.
    with pytest.raises(ExplainFailure) as failed:
        run_explain(
            "SELECT relname FROM pg_class WHERE oid = current_setting('myapp.secret')::regclass",
            options={},
            timeout_ms=5_000,
            lock_timeout_ms=500,
            role=None,
            login=login,
            planner_settings={"myapp.secret": "hunter2"},
        )
    assert "hunter2" not in failed.value.message
    assert failed.value.message.startswith("The query failed while being planned: undefined_table (SQLSTATE 42P01)")


# Time: a statement that ignores cancellation is stopped by the watchdog, and the caller does not wait for it.
@pytest.mark.django_db
def test_the_watchdog_stops_waiting_for_a_statement_that_ignores_its_timeout(login):
    # The premise: run directly, the statement overruns its statement_timeout by far.
    overrun = uninterruptible_overrun()
    assert overrun > LEAST_OVERRUN_S, f"the statement stopped {overrun:.2f} s after its timeout: pick a slower one"

    with pytest.raises(ExplainFailure) as stopped:
        run_explain(
            UNINTERRUPTIBLE,
            options={"ANALYZE": True},
            timeout_ms=UNINTERRUPTIBLE_MS,
            lock_timeout_ms=100,
            role=None,
            login=login,
            grace_ms=WATCHDOG_GRACE_MS,
        )
    message = stopped.value.message
    assert stopped.value.kind == "timeout" and f"ran past its {UNINTERRUPTIBLE_MS} ms statement_timeout" in message
    assert "its session ended" in message
    pid = stopped.value.detail["backend_pid"]
    with _other_connection() as conn:
        # The caller got its answer while the statement still ran: the watchdog did not wait for it.
        assert conn.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone() == ("active",)
        # And the backend goes as soon as the function returns: terminated, not left to finish the query.
        _wait_until_gone(conn, pid)


def _wait_until_gone(conn: psycopg.Connection, pid: int) -> None:
    deadline = time.monotonic() + 30
    while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone() != (0,):
        assert time.monotonic() < deadline, f"backend {pid} outlived the watchdog"
        conn.execute("SELECT pg_stat_clear_snapshot()")
