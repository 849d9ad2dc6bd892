"""Apply pending migrations from the schema page: in the worker, one run per database, with timeouts.

The page shows a plan; the DBA confirms that plan (its fingerprint travels with the form), and the job refuses
to run if the pending migrations changed in between. The job sets lock_timeout and statement_timeout for its
own session, runs Django's `migrate`, and streams every statement to the record's log through a connection of
its own (services/jobs.JobLog with apart=True), so the log survives a migration rolled back. A failure names
the migration and the statement.
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.commands import migrate
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.http import HttpRequest

from schemaadmin.audit import record_refusal
from schemaadmin.conf import app_settings
from schemaadmin.models import JobState, MigrationApply
from schemaadmin.pg.jobs import backend_pid, reset_session_timeouts, set_session_timeouts
from schemaadmin.services import jobs
from schemaadmin.services.jobs import JobLog
from schemaadmin.services.schema.apply_plan import (
    ApplyPlan,
    PlannedMigration,
    apply_plan,
    critical_lint,
    destroyed,
)
from schemaadmin.services.schema.archive import Archived, archive_drops, may_drop, migration_drops
from schemaadmin.services.schema.migrations import reread_migration_files
from schemaadmin.services.schema.sql import migration_label, migration_loader
from schemaadmin.services.schema.states import MigrationStates

__all__ = [
    "APPLY",
    "WORKER_STOPPED",
    "ApplyAlreadyActive",
    "ApplyPlan",
    "ApplyRefused",
    "TargetNotTyped",
    "PlannedMigration",
    "active_apply",
    "apply_plan",
    "critical_lint",
    "destroyed",
    "refuse_apply",
    "run_apply",
    "start_apply",
]

WORKER_STOPPED = (
    "The worker stopped while applying. PostgreSQL rolled back the atomic migration under way; the ones before "
    "it stay applied, and a non-atomic one may be partly applied: compare the log with the migration list."
)
STATEMENT_LOG_CHARS = 2_000
# How Django's MigrationRecorder marks a migration applied (MigrationRecorder.record_applied, a plain create()).
_RECORDER_INSERT = 'INSERT INTO "django_migrations"'


class ApplyRefused(ValueError):
    """The apply cannot start; the message says why."""


class TargetNotTyped(ApplyRefused):
    """A plan that destroys data or has critical lint, confirmed without its target typed."""


class ApplyAlreadyActive(ApplyRefused):
    """Another apply on the same database is queued or running."""

    def __init__(self, apply: MigrationApply) -> None:
        super().__init__(f"Migrations are already being applied to this database (run {apply.pk}, {apply.state}).")
        self.apply = apply


def active_apply(*, using: str = "default") -> MigrationApply | None:
    """Return the queued or running apply on this database, if any."""
    return jobs.active(APPLY, database_alias=using)


def _outcome(apply: MigrationApply) -> dict[str, Any]:
    # "applied" is what the run says it applied; recovery cannot know it and says none.
    return {"applied": [], "failed_migration": apply.failed_migration}


APPLY = jobs.register(
    jobs.JobKind(
        name="migration apply",
        model=MigrationApply,
        task_name="schemaadmin.apply_migrations",
        key="apply",
        actions={
            "requested": "migrations.apply_requested",
            JobState.SUCCEEDED: "migrations.applied",
            JobState.FAILED: "migrations.apply_failed",
        },
        target=lambda apply: apply.target,
        outcome=_outcome,
        worker_stopped=WORKER_STOPPED,
    )
)


def start_apply(
    plan: ApplyPlan,
    *,
    user: Any,
    fingerprint: str,
    typed_target: str = "",
    lock_timeout_ms: int | None = None,
    statement_timeout_ms: int | None = None,
    request: HttpRequest | None = None,
    using: str = "default",
) -> MigrationApply:
    """Record the apply, audit it and queue the job; refuse a stale plan, a missing confirmation or a second run,
    each refusal audited (migrations.apply_refused) with its sentence."""
    refusal = _refusal(plan, fingerprint=fingerprint, typed_target=typed_target, using=using)
    if refusal is not None:
        refuse_apply(plan, str(refusal), user=user, request=request, fingerprint=fingerprint, using=using)
        raise refusal
    settings = app_settings()
    try:
        return jobs.start(
            APPLY,
            user=user,
            request=request,
            queueing_lock=f"schemaadmin.migrate:{using}",
            # The worker's queue holds a migrate job this table no longer knows about.
            refused="The worker already has a migrate job queued for this database.",
            detail={"plan": plan.labels},
            database_alias=using,
            plan=plan.labels,
            fingerprint=plan.fingerprint,
            target=plan.target,
            lock_timeout_ms=lock_timeout_ms or settings["MIGRATION_LOCK_TIMEOUT_MS"],
            statement_timeout_ms=(
                statement_timeout_ms if statement_timeout_ms is not None else settings["MIGRATION_STATEMENT_TIMEOUT_MS"]
            ),
        )
    except jobs.JobAlreadyActive as active:
        already = ApplyAlreadyActive(active.record)
        refuse_apply(plan, str(already), user=user, request=request, fingerprint=fingerprint, using=using)
        raise already from None
    except jobs.JobRefused:
        # Its record was written, audited as requested and failed with the reason: no second event.
        raise ApplyRefused(
            "The worker already has a migrate job queued for this database; wait for it or clear it in the admin."
        ) from None


def _refusal(plan: ApplyPlan, *, fingerprint: str, typed_target: str, using: str) -> ApplyRefused | None:
    """Return why this confirmation of the plan cannot start an apply, or None."""
    if not plan.migrations:
        return ApplyRefused("There are no pending migrations to apply.")
    if plan.conflicts:
        return ApplyRefused(plan.conflicts_message)
    if fingerprint != plan.fingerprint:
        return ApplyRefused("The pending migrations changed since this page was loaded. Review the new plan.")
    if typed_target.strip() != plan.target and (plan.destructive or critical_lint(plan, using=using)):
        return TargetNotTyped(f"Type {plan.target} to confirm: this plan needs it.")
    return None


def refuse_apply(
    plan: ApplyPlan,
    reason: str,
    *,
    user: Any,
    request: HttpRequest | None = None,
    fingerprint: str = "",
    using: str = "default",
) -> None:
    """Audit an apply of the plan that was asked for and refused (migrations.apply_refused), with the reason."""
    record_refusal(
        request,
        "migrations.apply_refused",
        plan.target,
        reason,
        actor=user,
        plan=plan.labels,
        fingerprint=fingerprint[:64],
        database_alias=using,
    )


class _Progress:
    """What the run has done so far: applied migrations, the one under way, the statement that failed, archives."""

    def __init__(self, log: JobLog, apply: MigrationApply) -> None:
        self.log = log
        self.apply = apply
        self.applied: list[str] = []
        self.archived: list[Archived] = []
        self.current = ""
        # The last statement that raised, and its error: named as the failure only if that error ended the run (a
        # migration may catch one and go on, or fail later for another reason).
        self._failed: tuple[str, BaseException] | None = None
        self._states: tuple[MigrationLoader, MigrationStates] | None = None  # the plan's states, walked as it runs

    def migration(self, action: str, migration: Any = None) -> None:
        if action == "apply_start":
            self.current = migration_label(migration)
            self.log.write(f"Applying {self.current}")
            label, self.current = self.current, ""  # the archive's catalog reads stay out of the log: one line each
            try:
                self.archive(migration, label)
            finally:
                self.current = label
        elif action == "apply_success":
            self.applied.append(self.current)
            self.log.write(f"Applied {self.current}")
            self.current = ""

    def archive(self, migration: Any, label: str) -> None:
        """Copy what the migration drops into the archive schema, committed before its transaction starts."""
        using = self.apply.database_alias
        if self._states is None:
            if not may_drop(migration):
                return  # the walk starts at the plan's first migration that may drop something
            loader = migration_loader(using=using)
            self._states = (loader, MigrationStates(loader))
        loader, states = self._states
        # Every migration's start state is walked from its parent's, so a dropping one late in a long plan does not
        # replay the history again (the node of the loader that walks them: the executor's is another object).
        node = loader.graph.nodes.get((migration.app_label, migration.name), migration)
        start = states.start(node) if node is not migration else None
        try:
            drops = migration_drops(loader, node, start=start.plain if start else None) if may_drop(node) else []
        finally:
            if start is not None:
                states.ended(node, start, sql_written=False)
        if not drops:
            return
        if not app_settings()["ARCHIVE_BEFORE_DROP"]:
            self.log.write(f"  Archiving is off (ARCHIVE_BEFORE_DROP): {', '.join(d.label for d in drops)} not kept.")
            return
        for done in archive_drops(drops, apply_id=self.apply.pk, migration=label, using=using):
            if isinstance(done, str):
                self.log.write(f"  {done}")
                continue
            self.archived.append(done)
            self.log.write(f"  Archived {done.drop.label} ({done.rows:,} rows) into {done.where}.")
            self.log.write(f"  To restore: {done.restore}")

    def detail(self) -> dict[str, Any]:
        """Return the outcome for the audit log: what was applied and where each dropped thing was archived."""
        return {"applied": self.applied, "archived": [a.as_json() for a in self.archived]}

    def statement(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        # Not the recorder's own INSERT into django_migrations: the migration's "applied" line says it. A statement's
        # values stay out of the log (a data migration's may be anyone's data): how many there were is said instead.
        if self.current and not sql.startswith(_RECORDER_INSERT):
            values = len(params) if isinstance(params, (list, tuple, dict)) and not many else 0
            shown = sql[:STATEMENT_LOG_CHARS]
            self.log.write(f"  {shown}" + (f"  -- with {values} value{'s' if values != 1 else ''}" if values else ""))
        try:
            return execute(sql, params, many, context)
        except Exception as error:
            self._failed = (sql, error)
            raise

    def failed_statement(self, ended_by: BaseException) -> str:
        """Return the statement whose error ended the run (itself, or the cause it was raised from), or ""."""
        if self._failed is None:
            return ""
        sql, error = self._failed
        return sql if error is ended_by or error is ended_by.__cause__ else ""


class _Migrate(migrate.Command):
    """Django's migrate, telling us where it is."""

    def __init__(self, progress: _Progress) -> None:
        super().__init__()
        self.progress = progress

    def migration_progress_callback(self, action: str, migration: Any = None, fake: bool = False) -> None:
        self.progress.migration(action, migration)


class _Discard:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def run_apply(apply_id: int) -> None:
    """Run one confirmed apply (the job's body): check the plan is unchanged, migrate, record the outcome."""
    apply = MigrationApply.objects.select_related("requested_by").get(pk=apply_id)
    if apply.state != JobState.QUEUED:
        return
    using = apply.database_alias
    # The files as they are now: this worker may have imported them for an earlier job, and an edit since would
    # run the old text. (Only here: in a web process another request may be importing them at this moment.)
    reread_migration_files()
    current = apply_plan(using=using)
    if current.labels != apply.plan or apply.fingerprint and current.fingerprint != apply.fingerprint:
        what = "changed" if current.labels != apply.plan else "are the same, but a file of theirs was edited,"
        jobs.finish(
            APPLY,
            apply,
            JobState.FAILED,
            expected=(JobState.QUEUED,),
            error=f"The pending migrations {what} after the plan was confirmed; nothing ran. Review the new plan.",
        )
        return
    if not jobs.claim(APPLY, apply, backend_pid=backend_pid(using=using)):
        return
    # A connection of its own: the migrations run in transactions on this thread's connection, maybe to `default`.
    log = JobLog(APPLY, apply.pk, interval=0.5, apart=True)
    progress = _Progress(log, apply)
    log.write(f"lock_timeout = {apply.lock_timeout_ms} ms, statement_timeout = {apply.statement_timeout_ms} ms")
    connection = connections[using]
    try:
        set_session_timeouts(
            lock_timeout_ms=apply.lock_timeout_ms, statement_timeout_ms=apply.statement_timeout_ms, using=using
        )
        with connection.execute_wrapper(progress.statement):
            call_command(_Migrate(progress), database=using, interactive=False, verbosity=1, stdout=_Discard())
    except Exception as exc:  # any failure is the outcome we record
        message = str(exc).strip() or type(exc).__name__
        log.write(f"FAILED in {progress.current or 'the migrate command'}: {message}")
        log.close()
        jobs.finish(
            APPLY,
            apply,
            JobState.FAILED,
            error=message,
            failed_migration=progress.current,
            failed_statement=progress.failed_statement(exc),
            detail=progress.detail(),
        )
    else:
        log.write(f"Done: {len(progress.applied)} migration(s) applied.")
        log.close()
        jobs.finish(APPLY, apply, JobState.SUCCEEDED, detail=progress.detail())
    finally:
        if connection.in_atomic_block or connection.needs_rollback:
            connection.close()
        else:
            reset_session_timeouts(using=using)
