"""The rebuild job's body: tune the session, build concurrently, swap, record progress, clean up after failures.

The build runs on a psycopg connection of its own (autocommit, named for pg_stat_activity so a dead worker's
build can be found and ended). A watcher thread samples pg_stat_progress_create_index every second into the
record, and cancels the build's statement when a cancel was asked for, never during the swap. Claiming, the log,
finishing and recovery are services/jobs.py's; REBUILD adds what recovering a rebuild needs: end the dead
worker's build session, then finish or undo its swap and drop what it left.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from django.db import connections
from django.utils import timezone

from schemaadmin.conf import app_settings
from schemaadmin.models import IndexRebuild, JobState
from schemaadmin.pg.ddl import Statement
from schemaadmin.pg.index_builds import (
    build_settings_in_use,
    cancel_build,
    open_build_connection,
    run_with_lock_retries,
    temporary_index_name,
)
from schemaadmin.pg.indexes import VECTOR_METHODS
from schemaadmin.pg.indexes import index as index_state
from schemaadmin.pg.names import qualify
from schemaadmin.pg.progress import index_build_progress
from schemaadmin.pg.sessions import session_pids, terminate_sessions
from schemaadmin.services import jobs
from schemaadmin.services.jobs import JobLog
from schemaadmin.services.rebuilds.estimate import estimate_rebuild, planned_maintenance_work_mem
from schemaadmin.services.rebuilds.leftovers import clean_leftovers, clean_safely, error_message, unknown_replacement
from schemaadmin.services.rebuilds.plan import REPLACEMENT_NAME_TAKEN, find_index
from schemaadmin.services.rebuilds.script import rebuild_script, script_fingerprint

__all__ = [
    "REBUILD",
    "SWAPPED_IN_BEFORE_STOP",
    "SWAPPED_IN_BY_RECOVERY",
    "WORKER_STOPPED",
    "application_name",
    "run_rebuild",
]

AbortReason = Callable[[], str | None]
WORKER_STOPPED = "The worker stopped mid-build; the old index is untouched and leftovers were dropped. Retry it."
SWAPPED_IN_BY_RECOVERY = (
    "The worker stopped during the swap, after the old index was dropped: recovery swapped the new one in, and it is "
    "in service."
)
SWAPPED_IN_BEFORE_STOP = "The worker stopped after the new index was swapped in: it is in service."
PLAN_CHANGED = (
    "The index changed after this rebuild was reviewed: its statements now differ from the ones confirmed, so nothing "
    "was built. Review the rebuild again from the form."
)


def application_name(rebuild_id: int) -> str:
    """Return the application_name the build session of rebuild rebuild_id connects under."""
    return f"schemaadmin rebuild {rebuild_id}"


class _Watcher(threading.Thread):
    """Save the build's progress row every interval; cancel the build when the record or procrastinate asks."""

    def __init__(self, rebuild: IndexRebuild, pid: int, log: JobLog, abort_reason: AbortReason) -> None:
        super().__init__(name=f"rebuild-{rebuild.pk}-progress", daemon=True)
        self.rebuild_id = rebuild.pk
        self.using = rebuild.database_alias
        self.pid = pid
        self.log = log
        self.abort_reason = abort_reason
        self.interval = float(app_settings()["REBUILD_PROGRESS_INTERVAL_SECONDS"])
        self.swapping = False
        self.cancel_requested: str | None = None  # "user_request" or "shutdown"
        self._stop = threading.Event()
        self._phase = ""
        self._phase_started = ""

    def stop(self) -> None:
        self._stop.set()
        if self.ident is not None:
            self.join(timeout=10)

    def run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.sample()
                except Exception as exc:  # a failed sample must not stop the build; say it and go on
                    self.log.write(f"progress sampling failed: {exc}")
                self._stop.wait(self.interval)
        finally:
            # This thread's own connections: to the index's database, and to the records' for progress and log.
            for alias in {self.using, jobs.records_database(REBUILD)}:
                connections[alias].close()

    def sample(self) -> None:
        row = index_build_progress(self.pid, using=self.using)
        now = timezone.now().isoformat()
        update: dict[str, Any] = {}
        if row is not None:
            if row.phase != self._phase:
                self._phase, self._phase_started = row.phase, now
                self.log.write(f"phase: {row.phase}")
            update["progress"] = {
                **row.as_dict(),
                "percent": row.percent,
                "sampled_at": now,
                "phase_started_at": self._phase_started,
            }
            IndexRebuild.objects.filter(pk=self.rebuild_id).update(**update)
        if self.cancel_requested is None:
            self.cancel_requested = self._cancel_reason()
        if self.cancel_requested and not self.swapping and cancel_build(self.pid, using=self.using):
            self.log.write("cancelling the build's statement")
        self.log.flush()

    def _cancel_reason(self) -> str | None:
        asked = IndexRebuild.objects.filter(pk=self.rebuild_id, cancelled_by__isnull=False).exists()
        return "user_request" if asked else self.abort_reason()


def _cancelled_by(rebuild_id: int) -> Any:
    return IndexRebuild.objects.select_related("cancelled_by").get(pk=rebuild_id).cancelled_by


def run_rebuild(rebuild_id: int, *, abort_reason: AbortReason = lambda: None) -> str:
    """Run one queued rebuild to its end and return the state it ended in."""
    rebuild = IndexRebuild.objects.select_related("requested_by").get(pk=rebuild_id)
    if rebuild.state != JobState.QUEUED:
        return rebuild.state
    using = rebuild.database_alias
    log = JobLog(REBUILD, rebuild.pk, interval=0.5)
    index = qualify(rebuild.schema_name, rebuild.index_name)
    state = index_state(rebuild.schema_name, rebuild.index_name, using=using)
    if state is None:
        log.write(f"{index} no longer exists; nothing to rebuild.")
        log.close()
        _finish(rebuild, JobState.FAILED, expected=(JobState.QUEUED,), error=f"The index {index} no longer exists.")
        return rebuild.state
    conn = open_build_connection(using=using, application_name=application_name(rebuild.pk), on_notice=log.write)
    pid = conn.info.backend_pid
    if not jobs.claim(
        REBUILD,
        rebuild,
        backend_pid=pid,
        table_name=state.table,
        size_before_bytes=state.size_bytes,
        original_oid=state.oid,
    ):  # cancelled while queued, or another worker's
        conn.close()
        log.close()
        rebuild.refresh_from_db()
        return rebuild.state
    watcher = _Watcher(rebuild, pid, log, abort_reason)
    try:
        outcome = _build(rebuild, conn, log, watcher)
    except Exception as exc:  # every failure ends in a recorded outcome and a cleaned-up table
        watcher.stop()
        reason = watcher.cancel_requested or _cancel_reason_now(rebuild.pk, abort_reason)
        message = error_message(exc)
        log.write(f"stopped: {message}")
        cleanup = clean_safely(rebuild, log, conn)
        if cleanup is not None and cleanup.finished_swap:
            # The old index was already dropped (or the swap done): the new one is in its place. That is the outcome.
            stopped = "REINDEX" if rebuild.kind == IndexRebuild.Kind.REINDEX else "The swap"
            late = "The cancel came too late" if reason == "user_request" else f"{stopped} stopped ({message})"
            text = (
                f"{late}: the swap had already finished, so the new index is in service."
                if cleanup.found_swapped
                else f"{late}: the old index was already dropped, so the new one was swapped in and is in service."
            )
            log.write(text)
            log.close()
            after = index_state(rebuild.schema_name, rebuild.index_name, using=using)
            if _finish(rebuild, JobState.SUCCEEDED, error=text, size_after_bytes=after.size_bytes if after else None):
                _start_recall_check(rebuild)
            return rebuild.state
        if reason == "user_request":
            who = _cancelled_by(rebuild.pk)
            text = f"Cancelled by {who.get_username() if who else 'the worker'}."
            log.write(text)
            log.close()
            _finish(rebuild, JobState.CANCELLED, error=text)
            return rebuild.state
        error = "The worker was stopped mid-build; the old index is untouched. Retry it." if reason else message
        log.write(f"FAILED: {error}")
        log.close()
        _finish(rebuild, JobState.FAILED, error=error)
        return rebuild.state
    finally:
        watcher.stop()
        conn.close()
    log.close()
    if _finish(rebuild, JobState.SUCCEEDED, **outcome):
        _start_recall_check(rebuild)
    return rebuild.state


def _cancel_reason_now(rebuild_id: int, abort_reason: AbortReason) -> str | None:
    if IndexRebuild.objects.filter(pk=rebuild_id, cancelled_by__isnull=False).exists():
        return "user_request"
    return abort_reason()


def _build(rebuild: IndexRebuild, conn: psycopg.Connection, log: JobLog, watcher: _Watcher) -> dict[str, Any]:
    """Run the statements of one rebuild on conn; return what to record on success."""
    using, schema, name = rebuild.database_alias, rebuild.schema_name, rebuild.index_name
    clean_leftovers(rebuild, conn, log)
    index = find_index(qualify(schema, name), using=using)
    if rebuild.kind != IndexRebuild.Kind.REINDEX and (taken := unknown_replacement(schema, name, using=using)):
        raise RuntimeError(REPLACEMENT_NAME_TAKEN.format(taken=taken.qualified_name))
    estimate = estimate_rebuild(index, rebuild.method, rebuild.parameters, using=using)
    planned = planned_maintenance_work_mem(
        estimate.graph_memory_bytes, index.size_bytes, estimate.server_maintenance_work_mem_bytes
    )
    # The same statements the review showed, made by the same function from the index as it is now, and run only when
    # they are still the ones confirmed (their fingerprint, with the index's definition).
    script = rebuild_script(
        index,
        kind=rebuild.kind,
        method=rebuild.method,
        parameters=rebuild.parameters,
        maintenance_work_mem_bytes=planned,
    )
    if rebuild.fingerprint and script_fingerprint(index.definition, script) != rebuild.fingerprint:
        # Dropped and made again under its name, its comment changed, ...: these are not the statements confirmed.
        raise RuntimeError(PLAN_CHANGED)
    for statement in script.settings:
        statement.run(conn)
    used = build_settings_in_use(conn)
    IndexRebuild.objects.filter(pk=rebuild.pk).update(settings_used=used)
    log.write(", ".join(f"{key} = {value}" for key, value in used.items()))
    if estimate.graph_memory_bytes is not None:
        log.write(f"estimated build memory {estimate.graph_memory_bytes / 2**20:,.0f} MB for {estimate.rows:,} rows")
    if _cancel_reason_now(rebuild.pk, watcher.abort_reason):  # asked while the leftovers were cleaned up
        raise RuntimeError("cancelled before the build")
    watcher.start()  # from here a cancel stops the build, or its wait for the table's lock
    began = time.monotonic()
    log.write(script.build.text)
    script.build.run(conn)
    if script.swap:
        built = index_state(schema, temporary_index_name(name), using=using)
        rebuild.built_oid = built.oid if built is not None else None
        IndexRebuild.objects.filter(pk=rebuild.pk).update(built_oid=rebuild.built_oid)
        log.write(f"built {temporary_index_name(name)} in {time.monotonic() - began:.1f} s")
        for statement in script.carried:  # what the old index had that CREATE INDEX does not write
            log.write(statement.text)
            statement.run(conn)
        if watcher.cancel_requested or _cancel_reason_now(rebuild.pk, watcher.abort_reason):
            raise RuntimeError("cancelled before the swap")
        watcher.swapping = True
        _swap(conn, script.swap, log)
    log.write(f"done in {time.monotonic() - began:.1f} s")
    after = index_state(schema, name, using=using)
    return {"size_after_bytes": after.size_bytes if after else None}


def _swap(conn: psycopg.Connection, statements: tuple[Statement, ...], log: JobLog) -> None:
    """Run the swap's statements, trying a DROP or RENAME again when its lock_timeout stops it."""
    settings = app_settings()
    for statement in statements:
        log.write(statement.text)
        if not statement.retried:
            statement.run(conn)
            continue
        run_with_lock_retries(
            conn,
            statement,
            attempts=settings["REBUILD_SWAP_ATTEMPTS"],
            lock_timeout_ms=settings["REBUILD_SWAP_LOCK_TIMEOUT_MS"],
            on_retry=lambda attempt, why: log.write(
                f"  attempt {attempt} waited too long for its lock ({why}); retrying"
            ),
        )


def _finish(
    rebuild: IndexRebuild,
    state: str,
    *,
    error: str = "",
    expected: tuple[str, ...] = (JobState.RUNNING,),
    size_after_bytes: int | None = None,
) -> bool:
    """Record the rebuild's outcome (the log was written as it went) and audit it; False if it had already ended."""
    fields: dict[str, Any] = {} if size_after_bytes is None else {"size_after_bytes": size_after_bytes}
    return jobs.finish(REBUILD, rebuild, state, error=error, expected=expected, **fields)


def _outcome(rebuild: IndexRebuild) -> dict[str, Any]:
    return {
        "kind": rebuild.kind,
        "method": rebuild.method,
        "parameters": rebuild.parameters,
        "size_before_bytes": rebuild.size_before_bytes,
        "size_after_bytes": rebuild.size_after_bytes,
    }


def _end_build_session(rebuild: IndexRebuild, log: JobLog) -> None:
    """End the dead worker's build session, and wait (15 s at most) for the server to let go of it."""
    using, name = rebuild.database_alias, application_name(rebuild.pk)
    ended = terminate_sessions(name, using=using)
    if ended:
        log.write(f"recovery: ended the dead worker's build session (pid {', '.join(map(str, ended))})")
    deadline = time.monotonic() + 15
    while session_pids(name, using=using) and time.monotonic() < deadline:
        time.sleep(0.2)


def _recover_build(rebuild: IndexRebuild, log: JobLog) -> jobs.Recovered | None:
    """End the dead worker's build session and clean up after it, before the record is ended: a swap the worker
    finished, or left half done and recovery finished, is a rebuild that succeeded, not one whose old index is
    untouched."""
    _end_build_session(rebuild, log)
    cleanup = clean_safely(rebuild, log)
    if cleanup is not None and cleanup.finished_swap:
        done = SWAPPED_IN_BEFORE_STOP if cleanup.found_swapped else SWAPPED_IN_BY_RECOVERY
        return jobs.Recovered(JobState.SUCCEEDED, done)
    return None


def _after_recovery(rebuild: IndexRebuild, log: JobLog) -> None:
    """Check the recall of an index recovery swapped in, as a rebuild that ends well does."""
    rebuild.refresh_from_db(fields=["state"])
    if rebuild.state == JobState.SUCCEEDED:
        _start_recall_check(rebuild)


REBUILD = jobs.register(
    jobs.JobKind(
        name="rebuild",
        model=IndexRebuild,
        task_name="schemaadmin.rebuild_index",
        key="rebuild",
        actions={
            "requested": "rebuild.requested",
            "cancel_requested": "rebuild.cancel_requested",
            JobState.SUCCEEDED: "rebuild.succeeded",
            JobState.FAILED: "rebuild.failed",
            JobState.CANCELLED: "rebuild.cancelled",
        },
        target=lambda rebuild: qualify(rebuild.schema_name, rebuild.index_name),
        outcome=_outcome,
        worker_stopped=WORKER_STOPPED,
        on_stalled=_recover_build,
        on_recovered=_after_recovery,
    )
)


def _start_recall_check(rebuild: IndexRebuild) -> None:
    """Measure the rebuilt vector index's recall, when the recall service is installed."""
    if rebuild.method not in VECTOR_METHODS:
        return
    from schemaadmin.services.recall import start_recall_check

    try:
        start_recall_check(
            qualify(rebuild.schema_name, rebuild.index_name),
            user=rebuild.requested_by,
            rebuild=rebuild,
            using=rebuild.database_alias,
        )
    except Exception as exc:  # the rebuild succeeded; a recall check that cannot start is only worth a line
        with JobLog(REBUILD, rebuild.pk) as log:
            log.write(f"recall check not started: {exc}")
