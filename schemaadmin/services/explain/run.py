"""EXPLAIN a user's query safely: one service for the page and the command, every run recorded.

Defence in depth, each layer on its own:
1. PostgreSQL's own parser (pglast): exactly one SELECT / VALUES / TABLE / WITH without data-modifying parts, no
   NUL bytes, nested no deeper than the checks can walk (services/explain/statement.py).
2. A function allowlist (explain_allowlist): set_config, functions that run SQL text of their own (ts_stat,
   query_to_xml…), file, lock and sequence functions, volatile ones and casts of data to reg* types are refused.
3. A login role of the console's own (settings.SCHEMAADMIN_EXPLAIN_LOGIN) that may only read the product's
   tables, so nothing a query does (a role reset included) reaches further. Without one, the fallback: SET LOCAL
   ROLE to the NOLOGIN role from the application's connection, which a query could undo; the page says so.
4. A READ ONLY transaction on a connection of its own, with statement, lock and idle timeouts, work_mem and
   (where the role may) temp_file_limit, always rolled back and closed (pg.explain).
5. Time bounded twice: statement_timeout capped so that a run ends inside the web server's request timeout, and a
   watchdog that cancels a statement still running past it and ends its session.
6. Errors carry no data: a statement that fails while running shows only its condition name and SQLSTATE.
7. Limits on input size and concurrent runs per user; an ExplainRun and an AuditEvent written before the query
   runs and completed after it, so a run whose process dies stays on record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction

from schemaadmin.audit import record, record_refusal
from schemaadmin.conf import app_settings
from schemaadmin.models import AuditEvent, ExplainRun
from schemaadmin.pg.connection import server_version, validated_alias
from schemaadmin.pg.explain import EXPLAIN_OPTIONS, run_explain
from schemaadmin.pg.explain_failures import ExplainFailure
from schemaadmin.pg.explain_role import explain_role_state, ran_as
from schemaadmin.pg.run_slots import release_run_slot, take_run_slot
from schemaadmin.services.explain.allowlist import function_refusal
from schemaadmin.services.explain.plan_size import plan_size_refusal
from schemaadmin.services.explain.statement import (
    GENERIC_PLAN_FROM,
    NEEDS_VALUES,
    TOO_DEEP,
    Refused,
    marked_position,
    parsed_statement,
)
from schemaadmin.services.explain.summary import PlanSummary, plan_summary

__all__ = [
    "COMPARISONS",
    "FALLBACK_WARNING",
    "GENERIC_PLAN_NOTE",
    "MIN_TIMEOUT_MS",
    "ExplainResult",
    "explain",
    "explain_login",
    "max_timeout_ms",
    "refuse_unrun",
    "storable_text",
]

logger = logging.getLogger(__name__)

# What the page and the command say while the console has no login role of its own.
FALLBACK_WARNING = (
    "The EXPLAIN console has no login role of its own: queries run from the application's connection after "
    "SET ROLE, which a query could undo; only the function allowlist stands in the way. No temp-file limit holds "
    "either (a role's own applies at login): a run may fill the server's disk with temporary files until its "
    "timeout. As a role administrator "
    "run `manage.py create_explain_role` and set SCHEMAADMIN_EXPLAIN_DATABASE_URL to the URL it prints."
)

# Room a request needs beyond the run itself: the records before and after, the page, and the watchdog's own
# cancel and terminate.
REQUEST_MARGIN_MS = 10_000

# One-click comparisons: key -> the planner settings the statement is explained again under, in the same
# transaction. Only these; a console user never names a setting (set_config is refused in queries too).
COMPARISONS: dict[str, dict[str, str]] = {
    "seqscan_off": {"enable_seqscan": "off"},
}


# How a run that failed is recorded, by ExplainFailure.kind; any other kind is an error.
_FAILURE_OUTCOMES = {"timeout": ExplainRun.Outcome.TIMEOUT, "cancelled": ExplainRun.Outcome.CANCELLED}


@dataclass(slots=True)
class ExplainResult:
    run: ExplainRun
    outcome: str
    plan: Any = None
    summary: PlanSummary | None = None
    message: str = ""
    marked: str = ""  # the statement's line with a caret under the error position
    options: dict[str, bool] = field(default_factory=dict)  # the options the run used
    then_plan: Any = None  # the plan under the comparison's settings, from the same rolled-back transaction
    compared: ExplainRun | None = None  # that plan's own record (settings in its options, compared_to: run.pk)
    compared_summary: PlanSummary | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == ExplainRun.Outcome.OK


def explain_login() -> dict[str, Any] | None:
    """Return the psycopg keys of the console's own login role, or None when it runs through SET ROLE."""
    return getattr(settings, "SCHEMAADMIN_EXPLAIN_LOGIN", None)


# Said where ANALYZE was asked for a query with $1 placeholders: it is planned for any values, and not run.
GENERIC_PLAN_NOTE = (
    "A generic plan (EXPLAIN GENERIC_PLAN): a query with $1 placeholders is planned for any values and not run, "
    "so without ANALYZE. Put values in their place for times."
)

MIN_TIMEOUT_MS = 100  # the shortest statement_timeout a run may ask for: less stops even the plan


def max_timeout_ms() -> int:
    """Return the longest statement_timeout a run may have: the setting, kept inside the request timeout."""
    conf = app_settings()
    request_ms = int(getattr(settings, "SCHEMAADMIN_REQUEST_TIMEOUT_SECONDS", 90)) * 1000
    inside = request_ms - conf["EXPLAIN_WATCHDOG_GRACE_MS"] - REQUEST_MARGIN_MS
    return max(MIN_TIMEOUT_MS, min(conf["EXPLAIN_MAX_TIMEOUT_MS"], inside))


def storable_text(text: str) -> str:
    """Return text as PostgreSQL can store it: NUL shown as ␀, unpaired surrogates replaced."""
    return text.replace("\x00", "\u2400").encode("utf-8", "replace").decode("utf-8")


# How much of a query an audit event keeps (its run's record keeps up to EXPLAIN_MAX_SQL_CHARS).
AUDIT_SQL_CHARS = 500


def refuse_unrun(text: str, reason: str, *, request: Any, database: str = "") -> None:
    """Audit a query the console's form refused before a run was recorded (explain.run_refused): the reason, how
    long the text was and its first AUDIT_SQL_CHARS characters as PostgreSQL can store them."""
    record_refusal(
        request,
        "explain.run_refused",
        database or "default",
        reason,
        sql=storable_text(text[:AUDIT_SQL_CHARS]),
        sql_chars=len(text),
    )


def explain(
    text: str,
    *,
    user: Any = None,
    request: Any = None,
    as_username: str = "",
    options: dict[str, bool] | None = None,
    timeout_ms: int | None = None,
    using: str = "default",
    text_format: bool = False,
    ef_search: int | None = None,
    compare: str | None = None,
) -> ExplainResult:
    """Check, run and record one EXPLAIN; refusals and failures come back as a result, never an exception.

    The run and its audit event are written as "running" before anything runs, and completed afterwards. With
    compare (a key of COMPARISONS) the statement is explained again in the same rolled-back transaction under
    that comparison's planner settings, each EXPLAIN with half the timeout, and the second plan is recorded as
    a run of its own that names the first (compared_to).
    """
    conf = app_settings()
    using = validated_alias(using)
    options = {name: bool(on) for name, on in (options or {}).items() if name in EXPLAIN_OPTIONS}
    timeout_ms = min(int(timeout_ms or conf["EXPLAIN_TIMEOUT_MS"]), max_timeout_ms())
    user = user if user is not None else getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    planner_settings = {"hnsw.ef_search": str(int(ef_search))} if ef_search else {}
    then_settings = dict(COMPARISONS[compare]) if compare else {}
    if then_settings:
        timeout_ms = max(100, timeout_ms // 2)
    login = explain_login()
    stored = storable_text(text)
    recorded: dict[str, Any] = {**{k: v for k, v in options.items() if v}, "timeout_ms": timeout_ms}
    recorded.update(planner_settings)
    run = ExplainRun.objects.create(
        user=user,
        database_alias=using,
        sql=stored[: conf["EXPLAIN_MAX_SQL_CHARS"]],
        options=recorded,
        outcome=ExplainRun.Outcome.RUNNING,
    )
    event = record(
        request,
        "explain.run",
        f"explain:{run.pk}",
        actor=user,
        as_username=as_username,
        outcome=ExplainRun.Outcome.RUNNING,
        database=using,
        sql=stored[:AUDIT_SQL_CHARS],
    )
    try:
        result = _outcome(
            text, run, user, options, timeout_ms, using, text_format, conf, planner_settings, login, then_settings
        )
    except KeyboardInterrupt:  # Ctrl-C at a command line: psycopg cancelled the statement; the record says so
        result = ExplainResult(run=run, outcome=ExplainRun.Outcome.ERROR, options=options)
        result.message = "Interrupted (Ctrl-C) before it finished; the statement was cancelled."
        _finish(run, event, result, text_format)
        raise
    except Exception as exc:  # recorded, logged and said; never a page without a record
        logger.exception("EXPLAIN run %s failed inside SchemaAdmin", run.pk)
        result = ExplainResult(run=run, outcome=ExplainRun.Outcome.ERROR, options=options)
        result.message = f"The run failed inside SchemaAdmin ({type(exc).__name__}); the failure is logged."
    _finish(run, event, result, text_format)
    if result.ok and result.then_plan is not None and not text_format:
        _record_comparison(run, event, result, then_settings, conf)
    return result


def _record_comparison(
    run: ExplainRun, event: AuditEvent, result: ExplainResult, then_settings: dict[str, str], conf: dict[str, Any]
) -> None:
    """Record the plan under the comparison's settings as a run of its own, linked both ways."""
    summary = plan_summary(result.then_plan, large_table_rows=conf["SEQUENTIAL_SCAN_MIN_ROWS"])
    compared = ExplainRun.objects.create(
        user=run.user,
        database_alias=run.database_alias,
        sql=run.sql,
        options={**run.options, **then_settings, "compared_to": run.pk},
        outcome=ExplainRun.Outcome.OK,
        plan=result.then_plan,
        duration_ms=summary.execution_ms,
    )
    run.options = {**run.options, "compared_with": compared.pk}
    run.save(update_fields=["options"])
    event.detail = {**event.detail, "compared_with": f"explain:{compared.pk}"}
    event.save(update_fields=["detail"])
    result.compared, result.compared_summary = compared, summary


def _finish(run: ExplainRun, event: AuditEvent, result: ExplainResult, text_format: bool) -> None:
    """Complete the run's record and its audit event with how it ended."""
    # The options the run ended up using (a $1 query loses ANALYZE), beside what was recorded before it ran.
    recorded = {key: value for key, value in run.options.items() if key not in EXPLAIN_OPTIONS}
    recorded.update({name: True for name, on in result.options.items() if on})
    run.options = recorded
    run.outcome = result.outcome
    run.plan = result.plan if not text_format else {"text": result.plan}
    run.error = result.message if not result.ok else ""
    run.duration_ms = result.summary.execution_ms if result.summary else None
    try:
        with transaction.atomic():
            run.save(update_fields=["options", "outcome", "plan", "error", "duration_ms"])
    except (DatabaseError, RecursionError, ValueError) as exc:
        logger.exception("EXPLAIN run %s: its plan could not be stored", run.pk)
        run.plan = None
        if result.ok:
            result.outcome = run.outcome = ExplainRun.Outcome.ERROR
            result.message = run.error = f"The plan could not be stored ({type(exc).__name__}); the failure is logged."
        run.save(update_fields=["options", "outcome", "plan", "error", "duration_ms"])
    event.detail = {**event.detail, "outcome": result.outcome}
    if not result.ok:
        event.detail["reason"] = result.message[:300]
    event.save(update_fields=["detail"])


def _outcome(
    text: str,
    run: ExplainRun,
    user: Any,
    options: dict[str, bool],
    timeout_ms: int,
    using: str,
    text_format: bool,
    conf: dict[str, Any],
    planner_settings: dict[str, str],
    login: dict[str, Any] | None,
    then_settings: dict[str, str],
) -> ExplainResult:
    result = ExplainResult(run=run, outcome=ExplainRun.Outcome.REFUSED, options=options)
    try:
        statement, has_parameters, node = parsed_statement(text, max_chars=conf["EXPLAIN_MAX_SQL_CHARS"])
        try:
            refusal = plan_size_refusal(node) or function_refusal(node, using=using)
        except RecursionError:
            refusal = TOO_DEEP
        if refusal:
            raise Refused(refusal)
    except Refused as exc:
        result.message = str(exc)
        result.marked = marked_position(text, exc.position)
        return result
    if has_parameters and server_version(using) < GENERIC_PLAN_FROM:
        result.message = NEEDS_VALUES
        return result
    if has_parameters:
        # $1-style queries can only be planned generically; GENERIC_PLAN cannot be combined with ANALYZE.
        options = {**options, "GENERIC_PLAN": True, "ANALYZE": False, "WAL": False, "SERIALIZE": False}
    elif options.get("GENERIC_PLAN"):
        options = {**options, "GENERIC_PLAN": False}
    if not options.get("ANALYZE"):
        options = {**options, "WAL": False, "SERIALIZE": False}
    result.options = options
    role_name: str | None = conf["EXPLAIN_ROLE"]
    if login is None:
        role = explain_role_state(conf["EXPLAIN_ROLE"], using=using)
        if not role.usable:
            # Never with the application's own rights: those read password hashes and sessions, and may write.
            result.message = (
                f"The console runs no query: it has no login role of its own, and its low-privilege role "
                f"{role.name!r} "
                + ("exists, but this connection may not switch to it" if role.exists else "does not exist")
                + ". As a role administrator run `manage.py create_explain_role` and set "
                "SCHEMAADMIN_EXPLAIN_DATABASE_URL to the URL it prints."
            )
            return result
    run.options = {**run.options, "ran_as": ran_as(role=role_name, login=login)}
    run.save(update_fields=["options"])
    slot = None
    if user is not None:
        limit = conf["EXPLAIN_CONCURRENT_RUNS_PER_USER"]
        slot = take_run_slot(user.pk, limit)
        if slot is None:
            result.message = f"You already have {limit} EXPLAIN runs in progress; wait for one to finish."
            return result
    offset = text.find(statement)
    try:
        output = run_explain(
            statement,
            options=options,
            text_format=text_format,
            timeout_ms=timeout_ms,
            lock_timeout_ms=min(conf["EXPLAIN_LOCK_TIMEOUT_MS"], timeout_ms),
            role=role_name,
            login=login,
            planner_settings=planner_settings,
            then_settings=then_settings,
            work_mem=conf["EXPLAIN_WORK_MEM"],
            temp_file_limit=conf["EXPLAIN_TEMP_FILE_LIMIT"],
            grace_ms=conf["EXPLAIN_WATCHDOG_GRACE_MS"],
            using=using,
        )
    except ExplainFailure as failure:
        result.outcome = _FAILURE_OUTCOMES.get(failure.kind, ExplainRun.Outcome.ERROR)
        result.message = failure.message
        if failure.position:
            result.marked = marked_position(text, failure.position + max(offset, 0))
        return result
    finally:
        if slot is not None:
            release_run_slot(slot)
    result.outcome = ExplainRun.Outcome.OK
    result.plan = output.plan
    result.then_plan = output.then_plan
    if not text_format:
        result.summary = plan_summary(output.plan, large_table_rows=conf["SEQUENTIAL_SCAN_MIN_ROWS"])
    return result
