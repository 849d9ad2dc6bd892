"""Run EXPLAIN on a connection of its own: read-only, time-limited, as a low-privilege role, always rolled back."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import DatabaseError, transaction
from psycopg import sql

from schemaadmin.pg.connection import connection_params, fetch_one
from schemaadmin.pg.explain_failures import (
    ExplainFailure,
    limit_failure,
    planning_failure,
    stopped_failure,
    withheld,
)
from schemaadmin.pg.explain_role import login_params, ran_as

__all__ = ["EXPLAIN_OPTIONS", "ExplainOutput", "run_explain"]

logger = logging.getLogger(__name__)

# The options a caller may switch on, with the server version (server_version_num) that first knows each.
EXPLAIN_OPTIONS: dict[str, int] = {
    "ANALYZE": 0,
    "BUFFERS": 0,
    "VERBOSE": 0,
    "SETTINGS": 120000,
    "WAL": 130000,
    "GENERIC_PLAN": 160000,
    "SERIALIZE": 170000,
    "MEMORY": 170000,
}

# Once the watchdog has cancelled a run and ended its session, how long it still waits for the server to let go.
STOP_WAIT_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class ExplainOutput:
    plan: Any  # FORMAT JSON: a list holding one object; FORMAT TEXT: the lines joined
    role: str | None  # the role the statement ran as, None when the low-privilege role was not available
    server_version: int
    via: str = ""  # how it came to be that role: "login role X", "SET ROLE X fallback", or the application's own
    temp_file_limit: str | None = None  # set for this run; None: the login role's own (only a superuser may set it)
    # The same statement explained again in the same transaction after then_settings (e.g. enable_seqscan off).
    then_plan: Any = None


class _StatementFailed(Exception):
    """The user's statement (not the setting up around it) failed."""

    def __init__(self, error: psycopg.Error) -> None:
        super().__init__(str(error))
        self.error = error


class _Run:
    """One EXPLAIN on a connection of its own, run on a thread the caller watches."""

    def __init__(
        self,
        statement: str,
        *,
        params: dict[str, Any],
        options: dict[str, bool],
        text_format: bool,
        timeout_ms: int,
        lock_timeout_ms: int,
        role: str | None,
        login: Mapping[str, Any] | None,
        planner_settings: dict[str, str],
        work_mem: str | None,
        temp_file_limit: str | None,
        deadline_ms: int,
        then_settings: dict[str, str] | None = None,
    ) -> None:
        self.statement = statement
        self.params = params
        self.options = options
        self.text_format = text_format
        self.timeout_ms = timeout_ms
        self.lock_timeout_ms = lock_timeout_ms
        self.role = None if login is not None else role  # with a login of its own, never SET ROLE
        self.login = login
        self.planner_settings = planner_settings
        self.then_settings = then_settings or {}
        self.then_rows: list[tuple[Any, ...]] | None = None
        self.work_mem = work_mem
        self.temp_file_limit = temp_file_limit
        self.deadline_ms = deadline_ms
        self.temp_file_limit_set = False
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.conn: psycopg.Connection | None = None
        self.pid: int | None = None
        self.finishing = False
        self.output: ExplainOutput | None = None
        self.failure: BaseException | None = None
        self.started = 0.0
        self.statement_started = 0.0  # when the statement (or its comparison) was sent: how long it ran, if stopped

    def __call__(self) -> None:
        try:
            self.output = self._explain()
        except BaseException as exc:  # handed to the watching thread, which raises it there
            self.failure = exc
        finally:
            self.done.set()

    def stop(self, *, using: str) -> bool:
        """Cancel the statement, then end its session from the application's own connection; return whether ended."""
        with self.lock:
            if self.finishing or self.conn is None or self.pid is None:
                return True
            try:
                self.conn.cancel_safe(timeout=2.0)
            except psycopg.Error:  # a courtesy: the backend is ended next anyway
                logger.warning("EXPLAIN watchdog: the cancel request for backend %s failed", self.pid, exc_info=True)
            try:
                with transaction.atomic(using=using):
                    row = fetch_one("SELECT pg_terminate_backend(%s)", [self.pid], using=using)
            except DatabaseError:
                logger.exception("EXPLAIN watchdog: could not end backend %s", self.pid)
                return False
            return bool(row and row[0])

    def _explain(self) -> ExplainOutput:
        self.started = time.monotonic()
        with psycopg.connect(**self.params, autocommit=True) as conn:
            with self.lock:
                self.conn, self.pid = conn, conn.info.backend_pid
            try:
                return self._explain_on(conn)
            finally:
                with self.lock:
                    self.finishing = True

    def _explain_on(self, conn: psycopg.Connection) -> ExplainOutput:
        if self.login is not None and conn.info.parameter_status("is_superuser") == "on":
            raise ExplainFailure(
                "error",
                f"The console's login role {self.login['user']} is a superuser; it runs no query as one. "
                "Run `manage.py create_explain_role` and set the URL it prints as SCHEMAADMIN_EXPLAIN_DATABASE_URL.",
            )
        version = conn.info.server_version
        wanted = [name for name, on in self.options.items() if on and version >= EXPLAIN_OPTIONS[name]]
        parts = [sql.SQL(name) for name in wanted] + [sql.SQL("FORMAT TEXT" if self.text_format else "FORMAT JSON")]
        prefix = sql.SQL("EXPLAIN ({}) ").format(sql.SQL(", ").join(parts)).as_string(conn)
        try:
            rows = self._attempt(conn, prefix, self.timeout_ms)
        except _StatementFailed as failed:
            raise self._classified(conn, failed.error, statement_offset=len(prefix)) from None
        plan: Any = "\n".join(row[0] for row in rows) if self.text_format else rows[0][0]
        then_plan: Any = None
        if self.then_rows is not None:
            then_plan = "\n".join(row[0] for row in self.then_rows) if self.text_format else self.then_rows[0][0]
        return ExplainOutput(
            then_plan=then_plan,
            plan=plan,
            role=self.login["user"] if self.login is not None else self.role,
            server_version=version,
            via=ran_as(role=self.role, login=self.login),
            temp_file_limit=self.temp_file_limit if self.temp_file_limit_set else None,
        )

    def _attempt(self, conn: psycopg.Connection, prefix: str, timeout_ms: int) -> list[tuple[Any, ...]]:
        """Run prefix + the statement in a READ ONLY transaction set up for it, and roll it back."""
        with conn.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                cur.execute(
                    """
                    SELECT
                        set_config('statement_timeout', %(timeout)s, true),
                        set_config('lock_timeout', %(lock_timeout)s, true),
                        set_config('idle_in_transaction_session_timeout', %(idle)s, true)
                    """,
                    {
                        "timeout": f"{timeout_ms}ms",
                        "lock_timeout": f"{min(self.lock_timeout_ms, timeout_ms)}ms",
                        "idle": f"{timeout_ms + 5000}ms",
                    },
                )
                if self.work_mem:
                    cur.execute("SELECT set_config('work_mem', %s, true)", [self.work_mem])
                if self.temp_file_limit:
                    self._set_temp_file_limit(cur)
                for name, value in self.planner_settings.items():
                    cur.execute("SELECT set_config(%s, %s, true)", [name, value])
                if self.role:
                    cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(self.role)))
                try:
                    # With parameters psycopg would use the extended protocol, which refuses several statements
                    # at once; GENERIC_PLAN queries hold $1 placeholders the server must not try to bind, so
                    # they go through the simple protocol (the parser already made sure of one statement).
                    self.statement_started = time.monotonic()
                    cur.execute(prefix + self.statement, prepare=False)
                    rows = cur.fetchall()
                    if self.then_settings:
                        # The comparison: the same statement, same snapshot and transaction, planner settings
                        # changed only for it (set_config local, undone by the ROLLBACK below with the rest).
                        for name, value in self.then_settings.items():
                            cur.execute("SELECT set_config(%s, %s, true)", [name, value])
                        self.statement_started = time.monotonic()
                        cur.execute(prefix + self.statement, prepare=False)
                        self.then_rows = cur.fetchall()
                    return rows
                except psycopg.Error as exc:
                    raise _StatementFailed(exc) from None
            finally:
                self._roll_back(conn)

    def _roll_back(self, conn: psycopg.Connection) -> None:
        """Roll the run's transaction back; when the ROLLBACK itself fails, close the connection, which ends it."""
        if conn.closed or conn.broken:
            return
        try:
            conn.execute("ROLLBACK")
        except psycopg.Error as exc:
            # Not the statement's failure, which must not replace its result: a cancel still pending when the
            # statement returned (its statement_timeout firing while the server sent or freed a large plan) lands
            # on the ROLLBACK. The transaction is then left aborted, so the connection is never used again.
            logger.info("EXPLAIN: the ROLLBACK on backend %s failed (%s); its connection is closed", self.pid, exc)
            with self.lock:
                conn.close()
                self.conn = None  # closed is ended: nothing left for the watchdog to stop

    def _set_temp_file_limit(self, cur: psycopg.Cursor[Any]) -> None:
        # Only a superuser (or a role granted SET on it) may change temp_file_limit; a console login that may
        # not keeps the limit set on the role itself, which its queries cannot lift either.
        cur.execute("SAVEPOINT temp_file_limit")
        try:
            cur.execute("SELECT set_config('temp_file_limit', %s, true)", [self.temp_file_limit])
        except psycopg.errors.InsufficientPrivilege:
            cur.execute("ROLLBACK TO SAVEPOINT temp_file_limit")
        else:
            self.temp_file_limit_set = True
        cur.execute("RELEASE SAVEPOINT temp_file_limit")

    def _classified(self, conn: psycopg.Connection, exc: psycopg.Error, *, statement_offset: int) -> ExplainFailure:
        """Return a failure whose message shows nothing the statement could have read from the data."""
        state = exc.diag.sqlstate or ""
        stopped = stopped_failure(
            state,
            exc.diag.message_primary or "",
            timeout_ms=self.timeout_ms,
            lock_timeout_ms=self.lock_timeout_ms,
            ran_ms=(time.monotonic() - self.statement_started) * 1000,
        )
        if stopped is not None:
            return stopped
        limit = limit_failure(state, temp_file_limit=self.temp_file_limit if self.temp_file_limit_set else None)
        if limit is not None:
            return limit
        if not self.options.get("ANALYZE"):
            return planning_failure(exc, statement=self.statement, statement_offset=statement_offset)
        if conn.closed or conn.broken:
            return ExplainFailure("error", withheld(state, when="running"), state)
        # The same statement planned but not run, in a fresh rolled-back transaction: if that succeeds, the
        # failure happened while running and its message may hold data; if it fails the same way, it never ran.
        left_ms = self.deadline_ms - int((time.monotonic() - self.started) * 1000) - 1000
        plain = "EXPLAIN "
        try:
            self._attempt(conn, plain, max(100, min(self.timeout_ms, left_ms)))
        except _StatementFailed as failed:
            if failed.error.diag.sqlstate == state:
                return planning_failure(failed.error, statement=self.statement, statement_offset=len(plain))
        except psycopg.Error:
            pass
        return ExplainFailure("error", withheld(state, when="running"), state)


def run_explain(
    statement: str,
    *,
    options: dict[str, bool],
    text_format: bool = False,
    timeout_ms: int,
    lock_timeout_ms: int,
    role: str | None,
    login: Mapping[str, Any] | None = None,
    planner_settings: dict[str, str] | None = None,
    work_mem: str | None = None,
    temp_file_limit: str | None = None,
    grace_ms: int = 5_000,
    using: str = "default",
    then_settings: dict[str, str] | None = None,
) -> ExplainOutput:
    """EXPLAIN one statement on a new connection in a READ ONLY transaction, then roll back and close.

    With then_settings, the statement is explained a second time in the same transaction after those planner
    settings (output.then_plan), each EXPLAIN with its own statement_timeout; the watchdog allows for both.

    With login (psycopg keys of the console's own role) the connection logs in as that role; without, it is the
    alias's own and switches to role with SET LOCAL ROLE. statement must already be known to be a single
    read-only query; this layer adds what the server enforces. A statement still running grace_ms after its
    statement_timeout is cancelled, its session ended, and the run reported as timed out. Every failure,
    setting up included, comes back as an ExplainFailure with a message safe to show.
    """
    unknown = set(options) - set(EXPLAIN_OPTIONS)
    if unknown:
        raise ValueError(f"Unknown EXPLAIN options: {sorted(unknown)}")
    params = login_params(login, using=using) if login is not None else connection_params(using)
    run = _Run(
        statement,
        params=params,
        options=options,
        text_format=text_format,
        timeout_ms=timeout_ms,
        lock_timeout_ms=lock_timeout_ms,
        role=role,
        login=login,
        planner_settings=planner_settings or {},
        work_mem=work_mem,
        temp_file_limit=temp_file_limit,
        deadline_ms=timeout_ms + grace_ms,
        then_settings=then_settings,
    )
    # The statement runs on a thread of its own, so this one can stop waiting: a function that never checks for
    # interrupts outlives statement_timeout, cancel and terminate alike until it returns.
    thread = threading.Thread(target=run, name=f"explain-{id(run):x}", daemon=True)
    thread.start()
    statements = 2 if then_settings else 1
    if not run.done.wait((statements * timeout_ms + grace_ms) / 1000):
        ended = run.stop(using=using)
        run.done.wait(STOP_WAIT_SECONDS)
        raise ExplainFailure(
            "timeout",
            f"The statement ran past its {timeout_ms} ms statement_timeout without stopping (some functions, and "
            "the planner on a very large query, do not check for cancellation); "
            f"{grace_ms / 1000:g} s later it was cancelled and "
            + ("its session ended." if ended else "ending its session failed (see the log)."),
            "57014",
            detail={"backend_pid": run.pid},
        )
    if isinstance(run.failure, ExplainFailure):
        raise run.failure
    if isinstance(run.failure, psycopg.Error):
        # Connecting, BEGIN, the settings or SET ROLE failed: nothing of the user's query ran.
        exc = run.failure
        reason = (exc.diag.message_primary or str(exc) or type(exc).__name__).strip().splitlines()[0]
        raise ExplainFailure("error", f"The run could not be set up: {reason}", exc.diag.sqlstate or "") from None
    if run.failure is not None:
        raise run.failure
    assert run.output is not None
    return run.output
