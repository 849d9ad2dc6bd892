"""The job lifecycle itself (services/jobs.py) against the real database: races, recovery, the log, queueing by name.

A "dead worker" here is a row in procrastinate_workers whose heartbeat is an hour old, holding a job it took with
procrastinate's own fetch_job: what a worker killed with -9 leaves behind (tests/services/test_rebuilds.py kills a
real one). Races are made real by holding the record's row lock until every contender waits for it.
"""

from __future__ import annotations

import ast
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import Client
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.exceptions import TaskNotFound
from procrastinate.jobs import Status

from schemaadmin.models import AuditEvent, DriftCheck, IndexRebuild, JobState, MigrationApply, RecallCheck
from schemaadmin.pg.connection import connection_params, own_connection
from schemaadmin.pg.indexes import index as index_state
from schemaadmin.pg.shadow import create_database, drop_database, may_create_databases
from schemaadmin.services import jobs
from schemaadmin.services.rebuilds import plan_rebuild, run_rebuild, start_rebuild
from schemaadmin.services.rebuilds.run import REBUILD, SWAPPED_IN_BEFORE_STOP, SWAPPED_IN_BY_RECOVERY, WORKER_STOPPED
from schemaadmin.services.recall import RECALL_CHECK
from schemaadmin.services.schema.apply import APPLY
from schemaadmin.services.schema.drift_checks import DRIFT_CHECK
from tests.conftest import make_user
from tests.planting import plant, planter  # noqa: F401 -- fixtures
from tests.worker import clear_jobs, wait_for

GONE_JOB = 2**40  # a job id procrastinate never handed out: the job row is gone

KIND_OF = {RecallCheck: RECALL_CHECK, IndexRebuild: REBUILD, MigrationApply: APPLY, DriftCheck: DRIFT_CHECK}


def _record(model: type, state: str = JobState.QUEUED, **fields: Any):
    """Create a record of model in state; the fields each model needs are filled in."""
    needs: dict[type, dict[str, Any]] = {
        RecallCheck: {"index_name": "items_hnsw"},
        IndexRebuild: {"index_name": f"idx_{uuid.uuid4().hex[:8]}", "method": "btree"},
        MigrationApply: {"plan": ["app.0002_x"], "target": "app.0002_x", "database_alias": uuid.uuid4().hex},
        DriftCheck: {"database_alias": uuid.uuid4().hex},
    }
    return model.objects.create(state=state, **{**needs[model], **fields})


def _outcomes(kind: jobs.JobKind, record) -> list[str]:
    finals = {kind.actions.get(state) for state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)}
    events = AuditEvent.objects.filter(action__in=finals, **{f"detail__{kind.key}": record.pk})
    return list(events.order_by("id").values_list("action", flat=True))


@contextmanager
def _row_held(record) -> Iterator[Callable[[int], None]]:
    """Hold the record's row lock on a connection of its own; yield wait(n), which returns once n sessions wait."""
    table = type(record)._meta.db_table
    with psycopg.connect(**connection_params("default")) as holder:
        holder.execute(f'SELECT id FROM "{table}" WHERE id = %s FOR UPDATE', [record.pk])  # noqa: S608 -- a model's table

        def wait(waiting: int) -> None:
            def count() -> bool:
                with own_connection("default") as conn:
                    # The first waits for the holder's transaction, the next ones for the first (a tuple lock).
                    row = conn.execute(
                        "SELECT count(DISTINCT pid) AS waiting FROM pg_locks WHERE NOT granted"
                    ).fetchone()
                return row is not None and row[0] >= waiting

            wait_for(count, timeout=30, interval=0.05, what=f"{waiting} sessions waiting for the row")

        yield wait
        holder.rollback()


def _in_threads(*calls: Callable[[], Any]) -> tuple[list[threading.Thread], list[Any]]:
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            results[i] = call()
        except BaseException as exc:  # reported by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    return threads, results


# --- claim and finish race --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_claimers_race_and_exactly_one_wins():
    check = _record(RecallCheck)
    with _row_held(check) as wait:
        claimers = [
            lambda pid=pid: jobs.claim(RECALL_CHECK, RecallCheck.objects.get(pk=check.pk), backend_pid=pid)
            for pid in (101, 202)
        ]
        threads, results = _in_threads(*claimers)
        wait(2)  # both UPDATEs have read the row as queued and wait for it
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True], results
    check.refresh_from_db()
    winner = (101, 202)[results.index(True)]
    assert check.state == JobState.RUNNING and check.backend_pid == winner and check.started_at


@pytest.mark.django_db(transaction=True)
def test_a_finish_and_a_recovery_that_race_end_the_record_once():
    check = _record(RecallCheck, JobState.RUNNING, job_id=GONE_JOB, requested_by=make_user("racer"))
    with _row_held(check) as wait:
        threads, results = _in_threads(
            lambda: jobs.finish(RECALL_CHECK, RecallCheck.objects.get(pk=check.pk), JobState.SUCCEEDED),
            lambda: [c.pk for c in jobs.recover(RECALL_CHECK)],
        )
        wait(2)
    for thread in threads:
        thread.join()
    finished, recovered = results
    assert (finished, recovered) in ((True, []), (False, [check.pk])), results
    check.refresh_from_db()
    assert check.state == (JobState.SUCCEEDED if finished else JobState.FAILED)
    assert len(_outcomes(RECALL_CHECK, check)) == 1


def test_a_finish_after_recovery_does_not_overwrite_it(db):
    dba = make_user("late-finisher")
    check = _record(RecallCheck, JobState.RUNNING, job_id=GONE_JOB, requested_by=dba)
    stale = RecallCheck.objects.get(pk=check.pk)  # what the job's body holds
    assert [c.pk for c in jobs.recover(RECALL_CHECK)] == [check.pk]
    assert not jobs.finish(RECALL_CHECK, stale, JobState.SUCCEEDED, result={"recall": 1.0, "recommended": 40})
    check.refresh_from_db()
    assert check.state == JobState.FAILED and check.error == RECALL_CHECK.worker_stopped and check.result is None
    assert stale.state == JobState.FAILED  # the body's copy now says how the job really ended
    assert _outcomes(RECALL_CHECK, check) == ["recall.check_failed"]
    event = AuditEvent.objects.get(action="recall.check_failed", detail__check=check.pk)
    assert event.actor == dba and event.detail["recovered"] is True


def test_a_recovery_after_finish_does_not_overwrite_it(db):
    check = _record(RecallCheck, JobState.RUNNING, job_id=GONE_JOB)
    assert jobs.finish(RECALL_CHECK, check, JobState.SUCCEEDED, result={"recall": 0.97, "recommended": None})
    assert jobs.recover(RECALL_CHECK) == []
    check.refresh_from_db()
    assert check.state == JobState.SUCCEEDED and check.error == "" and check.result["recall"] == 0.97
    assert _outcomes(RECALL_CHECK, check) == ["recall.checked"]


def test_claim_refuses_a_record_no_longer_queued(db):
    cancelled = _record(IndexRebuild, JobState.CANCELLED)
    assert not jobs.claim(REBUILD, cancelled, backend_pid=1)
    cancelled.refresh_from_db()
    assert cancelled.state == JobState.CANCELLED and cancelled.started_at is None and cancelled.backend_pid is None


# --- recovery of each state -------------------------------------------------------------------------------------


class _FakeWorkers:
    """Workers that take jobs with procrastinate's own fetch_job and never run them."""

    def __init__(self) -> None:
        self.manager = app.job_manager

    def register(self, *, dead: bool) -> int:
        worker_id = async_to_sync(self.manager.register_worker)()
        if dead:
            with connection.cursor() as cur:
                cur.execute(
                    "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' WHERE id = %s",
                    [worker_id],
                )
        return worker_id

    def queue(self, kind: jobs.JobKind, record) -> int:
        job_id = app.configure_task(kind.task_name, lock=f"test:{kind.name}:{record.pk}").defer(
            **{f"{kind.key}_id": record.pk}
        )
        type(record).objects.filter(pk=record.pk).update(job_id=job_id)
        return job_id

    def take(self, worker_id: int, job_id: int) -> None:
        job = async_to_sync(self.manager.fetch_job)(queues=None, worker_id=worker_id)
        assert job is not None and job.id == job_id

    def status(self, job_id: int) -> str:
        return ProcrastinateJob.objects.get(id=job_id).status


def test_a_job_that_ends_while_recovery_looks_at_it_is_left_alone(plant, monkeypatch):  # noqa: F811
    """Recovery read the running records, then asked for each one's job: a job that ended between the two (its body
    finished the record, then its row went, as succeeded jobs' rows do) was taken for an orphan, and its clean-up
    ran: here it dropped the valid replacement a newer rebuild of the index had just built, before its swap. The
    worker now runs recovery beside its jobs, so this window is met in service."""
    clear_jobs()
    table = plant.table("t", "v int", rows=20, fill="i")
    plant.sql(f"CREATE INDEX t_v ON {table} (v)")
    plant.sql(f"CREATE INDEX t_v_sa_new ON {table} (v) WITH (fillfactor = 70)")  # the newer rebuild's, built
    record = _record(
        IndexRebuild, JobState.RUNNING, job_id=GONE_JOB, schema_name=plant.schema, index_name="t_v", table_name="t"
    )

    def ends_meanwhile(job_id):
        assert jobs.finish(REBUILD, record, JobState.SUCCEEDED)
        return None  # and its row is gone

    monkeypatch.setattr(jobs, "_job_status", ends_meanwhile)
    assert jobs.recover(REBUILD) == []
    record.refresh_from_db()
    assert record.state == JobState.SUCCEEDED and "recovery" not in record.log, record.log
    assert index_state(plant.schema, "t_v_sa_new") is not None


def test_recovery_fails_a_dead_worker_s_periodic_task_and_leaves_a_live_one_s(db):
    """A worker killed in a periodic task (a snapshot) left its row `doing` for ever; it is failed like the jobs of
    the four kinds, while the same task at work in a live worker is left alone."""
    clear_jobs()
    fake = _FakeWorkers()
    dead, live = fake.register(dead=True), fake.register(dead=False)
    held = []
    for worker in (dead, live):
        job_id = app.configure_task("schemaadmin.query_stats_snapshot").defer(timestamp=0)
        fake.take(worker, job_id)
        held.append(job_id)
    jobs.recover_stalled_jobs()
    assert [fake.status(job_id) for job_id in held] == ["failed", "doing"]


def test_recovery_of_each_state(db):
    clear_jobs()
    fake = _FakeWorkers()
    dead, live = fake.register(dead=True), fake.register(dead=False)

    def held(state: str, worker: int | None) -> tuple[RecallCheck, int]:
        record = _record(RecallCheck, state)
        job_id = fake.queue(RECALL_CHECK, record)
        if worker is not None:
            fake.take(worker, job_id)
        return record, job_id

    taken_by_dead, taken_job = held(JobState.QUEUED, dead)  # the worker died between taking and claiming
    running_dead, running_dead_job = held(JobState.RUNNING, dead)  # the worker died mid-job
    running_live, running_live_job = held(JobState.RUNNING, live)  # at work
    ended_job_record, ended_job = held(JobState.RUNNING, live)  # the job ended without finishing the record
    async_to_sync(fake.manager.finish_job_by_id_async)(job_id=ended_job, status=Status.FAILED, delete_job=False)
    row_gone = _record(RecallCheck, JobState.RUNNING, job_id=GONE_JOB)  # its job row was deleted
    finished = {state: held(state, dead)[0] for state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)}
    waiting, waiting_job = held(JobState.QUEUED, None)  # no worker has taken it yet (queued last: none would)

    recovered = jobs.recover(RECALL_CHECK)

    expected = {taken_by_dead.pk, running_dead.pk, ended_job_record.pk, row_gone.pk}
    assert sorted(r.pk for r in recovered) == sorted(expected)
    for record in (taken_by_dead, running_dead, ended_job_record, row_gone):
        record.refresh_from_db()
        assert record.state == JobState.FAILED and record.error == RECALL_CHECK.worker_stopped, record.pk
        assert record.finished_at and f"recovery: {RECALL_CHECK.worker_stopped}" in record.log
        assert _outcomes(RECALL_CHECK, record) == ["recall.check_failed"]
    # The dead worker's jobs are failed in procrastinate's queue too, so a restarted worker does not take them up.
    assert fake.status(taken_job) == fake.status(running_dead_job) == "failed"
    for record, state in (
        (waiting, JobState.QUEUED),
        (running_live, JobState.RUNNING),
        *((record, state) for state, record in finished.items()),
    ):
        record.refresh_from_db()
        assert record.state == state and record.log == "" and _outcomes(RECALL_CHECK, record) == [], record.pk
    assert fake.status(waiting_job) == "todo" and fake.status(running_live_job) == "doing"
    assert jobs.recover(RECALL_CHECK) == []  # nothing is recovered twice


def test_a_queued_record_whose_job_ended_without_beginning_it_is_failed_not_left_queued(db):
    """A body that raised before its claim left its record queued for good, and every later start answered with
    it: a drift check whose migrations could not be read blocked every "Compare again"."""
    clear_jobs()
    fake = _FakeWorkers()
    ended = _record(DriftCheck)
    async_to_sync(fake.manager.finish_job_by_id_async)(
        job_id=fake.queue(DRIFT_CHECK, ended), status=Status.FAILED, delete_job=False
    )
    row_gone = _record(DriftCheck, job_id=GONE_JOB)
    waiting = _record(DriftCheck)
    waiting_job = fake.queue(DRIFT_CHECK, waiting)

    assert sorted(r.pk for r in jobs.recover(DRIFT_CHECK)) == sorted([ended.pk, row_gone.pk])
    for record in (ended, row_gone):
        record.refresh_from_db()
        assert record.state == JobState.FAILED and record.error == jobs.NEVER_STARTED
        assert _outcomes(DRIFT_CHECK, record) == ["drift.check_failed"]
    waiting.refresh_from_db()
    assert waiting.state == JobState.QUEUED and fake.status(waiting_job) == "todo"


def test_recover_stalled_jobs_covers_every_kind_and_audits_drift_too(db):
    orphans = {model: _record(model, JobState.RUNNING, job_id=GONE_JOB) for model in KIND_OF}
    assert set(jobs.KINDS.values()) == set(KIND_OF.values())
    assert jobs.recover_stalled_jobs() == len(KIND_OF)
    for model, record in orphans.items():
        kind = KIND_OF[model]
        record.refresh_from_db()
        assert record.state == JobState.FAILED and record.error == kind.worker_stopped
        assert _outcomes(kind, record) == [kind.actions[JobState.FAILED]]
    assert AuditEvent.objects.filter(action="drift.check_failed", detail__recovered=True).count() == 1
    assert jobs.recover_stalled_jobs() == 0


# --- start and cancel -------------------------------------------------------------------------------------------


def test_start_queues_by_task_name_keeps_the_job_id_and_reports_a_refused_duplicate(db):
    dba = make_user("starter")
    with transaction.atomic():  # the caller's own transaction survives the refusal
        first = jobs.start(RECALL_CHECK, user=dba, queueing_lock="test:same", index_name="a", detail={"k": 5})
        with pytest.raises(jobs.JobRefused) as refused:
            jobs.start(RECALL_CHECK, user=dba, queueing_lock="test:same", refused="Twice.", index_name="b")
        assert RecallCheck.objects.count() == 2
    job = ProcrastinateJob.objects.get(id=first.job_id)
    assert (job.task_name, job.args, job.lock, job.queueing_lock) == (
        "schemaadmin.recall_check",
        {"check_id": first.pk},
        "schemaadmin.database:default",  # every kind's job, one at a time per database
        "test:same",
    )
    assert RecallCheck.objects.get(pk=first.pk).job_id == first.job_id and first.state == JobState.QUEUED
    second = refused.value.record
    assert second.state == JobState.FAILED and second.error == "Twice." and second.job_id is None
    requested = AuditEvent.objects.get(action="recall.check_requested", detail__check=first.pk)
    assert requested.actor == dba and requested.detail["k"] == 5 and requested.target == "public.a"
    assert _outcomes(RECALL_CHECK, second) == ["recall.check_failed"]


def test_start_names_the_active_record_the_constraint_found(db):
    first = jobs.start(DRIFT_CHECK, user=None, database_alias="default")
    with pytest.raises(jobs.JobAlreadyActive) as refused:
        jobs.start(DRIFT_CHECK, user=None, database_alias="default")
    assert refused.value.record == first and DriftCheck.objects.count() == 1


def test_a_kind_whose_task_does_not_exist_cannot_leave_a_record_queued(db):
    typo = jobs.JobKind(**{**_fields(RECALL_CHECK), "task_name": "schemaadmin.no_such_task"})
    with pytest.raises(TaskNotFound):
        jobs.start(typo, user=None, index_name="x")
    record = RecallCheck.objects.get()
    assert record.state == JobState.FAILED and record.error.startswith("Could not queue the job")


def _fields(kind: jobs.JobKind) -> dict[str, Any]:
    return {name: getattr(kind, name) for name in jobs.JobKind.__dataclass_fields__}


def test_cancel_ends_a_queued_job_at_once_and_asks_a_running_one_to_abort(db):
    clear_jobs()
    dba = make_user("canceller")
    queued = jobs.start(REBUILD, user=None, index_name="q_idx", method="btree")
    assert jobs.cancel(REBUILD, queued, user=dba)
    assert (
        queued.state == JobState.CANCELLED and queued.error == "Cancelled by canceller." and queued.cancelled_by == dba
    )
    assert ProcrastinateJob.objects.get(id=queued.job_id).status == "cancelled"
    actions = AuditEvent.objects.filter(detail__rebuild=queued.pk).order_by("id").values_list("action", "actor")
    assert list(actions) == [
        ("rebuild.requested", None),
        ("rebuild.cancel_requested", dba.pk),
        ("rebuild.cancelled", dba.pk),
    ]

    fake = _FakeWorkers()
    running = jobs.start(REBUILD, user=None, index_name="r_idx", method="btree")
    fake.take(fake.register(dead=False), running.job_id)
    assert jobs.claim(REBUILD, running, backend_pid=1)
    assert jobs.cancel(REBUILD, running, user=dba)
    assert running.state == JobState.RUNNING and running.cancelled_by == dba  # the body records the end
    assert ProcrastinateJob.objects.get(id=running.job_id).abort_requested
    assert jobs.finish(REBUILD, running, JobState.CANCELLED, error="Cancelled by canceller.")
    assert not jobs.cancel(REBUILD, running, user=dba)  # ended: nothing to cancel
    assert _outcomes(REBUILD, running) == ["rebuild.cancelled"]


# --- the log ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_log_apart_outlives_a_rolled_back_transaction_and_two_threads_lose_no_line():
    check = _record(RecallCheck)
    assert jobs.records_database(RECALL_CHECK) == "default"
    apart = jobs.JobLog(RECALL_CHECK, check.pk, apart=True)
    with pytest.raises(RuntimeError), transaction.atomic():  # as a migration that fails, on the same database
        apart.write("written during the migration")
        RecallCheck.objects.filter(pk=check.pk).update(error="rolled back")
        raise RuntimeError("the migration failed")
    apart.close()
    check.refresh_from_db()
    assert "written during the migration" in check.log and check.error == ""

    shared = jobs.JobLog(RECALL_CHECK, check.pk, interval=0.05)
    threads, results = _in_threads(
        *(lambda name=name: [shared.write(f"{name} {i}") for i in range(100)] for name in ("main", "watcher"))
    )
    for thread in threads:
        thread.join()
    shared.close()
    assert not any(isinstance(result, BaseException) for result in results), results
    check.refresh_from_db()
    lines = check.log.splitlines()
    assert len(lines) == 201 and all(
        any(f"{n} {i}" in line for line in lines) for n in ("main", "watcher") for i in (0, 99)
    )


@pytest.fixture(scope="module")
def elsewhere(django_db_setup, django_db_blocker) -> Iterator[str]:
    """A second alias, `elsewhere`, for a database of its own on the same server: no job record lives there.

    It holds one table with a btree index, for jobs that work on it.
    """
    with django_db_blocker.unblock():
        if settings.EMBEDDED_PGDATA is None and not may_create_databases():
            pytest.skip("the test role may not create databases")
        name = f"schemaadmin_elsewhere_{uuid.uuid4().hex[:8]}"
        create_database(name)
        connections.settings["elsewhere"] = {**connections.settings["default"], "NAME": name}
        try:
            with own_connection("elsewhere") as conn:
                conn.execute("CREATE TABLE public.t (id int PRIMARY KEY, v int)")
                conn.execute("INSERT INTO public.t SELECT i, i % 10 FROM generate_series(1, 1000) AS i")
                conn.execute("CREATE INDEX t_v ON public.t (v)")
                conn.execute("ANALYZE public.t")
            yield "elsewhere"
        finally:
            connections["elsewhere"].close()
            del connections["elsewhere"]
            del connections.settings["elsewhere"]
            drop_database(name)
            clear_jobs()


@pytest.mark.django_db(transaction=True, databases=["default", "elsewhere"])
def test_the_log_goes_to_the_records_database_when_the_job_works_on_another(elsewhere):
    # This failed before services/jobs.py: the rebuild's log writer sent its UPDATE to `elsewhere`.
    with own_connection(elsewhere) as conn:
        assert conn.execute("SELECT to_regclass('schemaadmin_indexrebuild') AS found").fetchone() == (None,)
    rebuild = start_rebuild(plan_rebuild("public.t_v", using=elsewhere), user=None)
    assert rebuild.database_alias == elsewhere
    assert run_rebuild(rebuild.pk) == JobState.SUCCEEDED
    rebuild.refresh_from_db()
    assert "REINDEX INDEX CONCURRENTLY public.t_v" in rebuild.log, rebuild.log
    assert rebuild.size_after_bytes and rebuild.backend_pid

    # Recovery of a rebuild there logs here too, and cleans up there.
    orphan = _record(IndexRebuild, JobState.RUNNING, job_id=GONE_JOB, database_alias=elsewhere, index_name="t_v")
    assert [r.pk for r in jobs.recover(REBUILD)] == [orphan.pk]
    orphan.refresh_from_db()
    assert f"recovery: {REBUILD.worker_stopped}" in orphan.log


# --- layering ---------------------------------------------------------------------------------------------------


def _imports_of_tasks(path: Path) -> list[str]:
    """Return where a module imports schemaadmin.tasks, at its top or inside a function, or names it to import."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        if any(name == "schemaadmin.tasks" or name.endswith("..tasks") for name in names):
            found.append(f"{path.name}:{node.lineno}")
    return found


def test_no_service_imports_tasks_and_every_kind_s_task_is_registered_under_its_name():
    services = Path(jobs.__file__).parent
    offenders = [where for path in sorted(services.rglob("*.py")) for where in _imports_of_tasks(path)]
    assert offenders == []
    assert _imports_of_tasks(Path(jobs.__file__).parent.parent / "views" / "schema_live.py") == []
    for kind in jobs.KINDS.values():
        assert kind.task_name in app.tasks, kind.task_name


def test_a_rebuild_whose_swap_recovery_finished_is_recorded_as_succeeded_not_as_untouched(plant, superuser_sql):  # noqa: F811
    """The worker died in the swap after DROP INDEX CONCURRENTLY had marked the old index INVALID: recovery drops it
    and renames the new one into its place. The record says so (succeeded), not "the old index is untouched"."""
    table = plant.table("t", "v int", rows=20, fill="i")
    schema = plant.schema
    plant.sql(f"CREATE INDEX t_v ON {table} (v)")
    plant.sql(f"CREATE INDEX t_v_sa_new ON {table} (v) WITH (fillfactor = 70)")  # the rebuilt copy, valid
    built = index_state(schema, "t_v_sa_new").oid  # the job records it before its swap
    superuser_sql(
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [f'"{schema}".t_v']
    )  # as the first phase of DROP INDEX CONCURRENTLY leaves it
    rebuild = _record(
        IndexRebuild,
        JobState.RUNNING,
        job_id=GONE_JOB,
        schema_name=schema,
        index_name="t_v",
        table_name="t",
        kind=IndexRebuild.Kind.REPLACE,
        built_oid=built,
    )
    assert [r.pk for r in jobs.recover(REBUILD)] == [rebuild.pk]
    rebuild.refresh_from_db()
    assert rebuild.state == JobState.SUCCEEDED and rebuild.error == SWAPPED_IN_BY_RECOVERY
    assert "renaming t_v_sa_new to t_v" in rebuild.log
    swapped = index_state(schema, "t_v")
    assert swapped.is_valid and swapped.options == {"fillfactor": "70"}
    assert index_state(schema, "t_v_sa_new") is None
    assert _outcomes(REBUILD, rebuild) == ["rebuild.succeeded"]


def test_recovery_of_a_partitioned_index_s_reindex_drops_each_partition_s_leftover(plant, superuser_sql):  # noqa: F811
    """REINDEX INDEX CONCURRENTLY of a partitioned index rebuilds each partition's index in turn: a stop leaves
    INVALID name_ccnew indexes on the partitions, which recovery looked for only on the partitioned table."""
    s = plant.schema
    plant.sql(f"CREATE TABLE {s}.parts (id int, v int) PARTITION BY RANGE (id)")
    plant.sql(f"CREATE TABLE {s}.parts_low PARTITION OF {s}.parts FOR VALUES FROM (0) TO (10)")
    plant.sql(f"CREATE TABLE {s}.parts_high PARTITION OF {s}.parts FOR VALUES FROM (10) TO (20)")
    plant.sql(f"CREATE INDEX parts_v ON {s}.parts (v)")
    for leftover, table in [("parts_low_v_idx_ccnew", "parts_low"), ("parts_high_v_idx_ccold", "parts_high")]:
        plant.sql(f"CREATE INDEX {leftover} ON {s}.{table} (v)")  # as REINDEX's copy, then marked INVALID
    plant.sql(f"CREATE INDEX unrelated_ccnew ON {s}.parts_low (id)")  # someone else's INVALID index: left alone
    for name in ("parts_low_v_idx_ccnew", "parts_high_v_idx_ccold", "unrelated_ccnew"):
        superuser_sql("UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [f'"{s}".{name}'])
    rebuild = _record(
        IndexRebuild, JobState.RUNNING, job_id=GONE_JOB, schema_name=s, index_name="parts_v", table_name="parts"
    )
    assert [r.pk for r in jobs.recover(REBUILD)] == [rebuild.pk]
    rebuild.refresh_from_db()
    assert f"dropping INVALID leftover {s}.parts_low_v_idx_ccnew" in rebuild.log, rebuild.log
    assert index_state(s, "parts_low_v_idx_ccnew") is None and index_state(s, "parts_high_v_idx_ccold") is None
    assert index_state(s, "unrelated_ccnew") is not None
    assert index_state(s, "parts_low_v_idx").is_valid and index_state(s, "parts_v").is_valid


def _plant_hnsw(plant) -> str:  # noqa: F811
    """Plant table v with an HNSW index v_hnsw (m = 8) over 50 rows; return the table's qualified name."""
    table = plant.table("v", "id int, embedding vector(3)", rows=50, fill="i, ARRAY[i, i % 7, 1]::real[]::vector(3)")
    plant.sql(f"CREATE INDEX v_hnsw ON {table} USING hnsw (embedding vector_l2_ops) WITH (m = 8)")
    return table


def _run_queued(plant, plan) -> IndexRebuild:  # noqa: F811
    """Queue the rebuild of v_hnsw that plan describes, run it in this process, and return its record as it ended."""
    rebuild = IndexRebuild.objects.create(
        state=JobState.QUEUED,
        schema_name=plant.schema,
        index_name="v_hnsw",
        table_name="v",
        kind=plan.kind,
        method=plan.target_method,
        parameters=plan.parameters,
    )
    run_rebuild(rebuild.pk)
    rebuild.refresh_from_db()
    return rebuild


def _recovered_t_v(plant, **fields: Any) -> IndexRebuild:  # noqa: F811
    """Record a running rebuild of t_v whose worker is gone, recover it, and return the record as recovery left it."""
    rebuild = _record(
        IndexRebuild,
        JobState.RUNNING,
        job_id=GONE_JOB,
        schema_name=plant.schema,
        index_name="t_v",
        table_name="t",
        **fields,
    )
    assert [r.pk for r in jobs.recover(REBUILD)] == [rebuild.pk]
    rebuild.refresh_from_db()
    return rebuild


@pytest.mark.parametrize("old_valid", [True, False], ids=["old-index-valid", "old-index-invalid"])
def test_recovery_never_drops_or_renames_a_valid_index_of_the_replacement_s_name_no_rebuild_built(
    plant,  # noqa: F811 -- the imported fixture
    superuser_sql,
    old_valid,
):
    """Somebody's own index named <index>_sa_new (a unique one here) is not a replacement never swapped in: the
    clean-up dropped it, or renamed it over the old index when that was INVALID. Only an oid a rebuild recorded
    building is SchemaAdmin's to drop."""
    table = plant.table("t", "v int", rows=20, fill="i")
    plant.sql(f"CREATE INDEX t_v ON {table} (v)")
    plant.sql(f"CREATE UNIQUE INDEX t_v_sa_new ON {table} (v)")  # made by hand, before any rebuild
    theirs = index_state(plant.schema, "t_v_sa_new").oid
    if not old_valid:
        superuser_sql("UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [f"{table}_v"])
    rebuild = _recovered_t_v(plant, kind=IndexRebuild.Kind.REPLACE, built_oid=None)
    assert index_state(plant.schema, "t_v_sa_new").oid == theirs, rebuild.log
    assert index_state(plant.schema, "t_v").is_valid is old_valid
    assert "leaving t_v_sa_new alone" in rebuild.log
    assert rebuild.state == JobState.FAILED


@pytest.mark.parametrize("swapped", [True, False], ids=["swap-committed", "old-index-untouched"])
def test_recovery_tells_a_swap_the_dead_worker_had_committed_from_an_old_index_left_untouched(plant, swapped):  # noqa: F811
    """The worker died after its RENAME committed: no temporary index is left, and the index under the name is the
    replacement. Recovery reads that from the oid of the replacement the job built, and records a success, not "the
    old index is untouched. Retry it." (a retry would rebuild it again). Another index under the name is not it."""
    table = plant.table("t", "v int", rows=20, fill="i")
    plant.sql(f"CREATE INDEX t_v ON {table} (v)")
    plant.sql(f"CREATE INDEX t_v_sa_new ON {table} (v) WITH (fillfactor = 70)")  # the replacement the job built
    built = index_state(plant.schema, "t_v_sa_new").oid
    if swapped:  # what the swap leaves: the old index dropped, the replacement renamed into its place
        plant.sql(f'DROP INDEX "{plant.schema}".t_v')
        plant.sql(f'ALTER INDEX "{plant.schema}".t_v_sa_new RENAME TO t_v')
    else:  # the worker stopped before its swap; then someone dropped the replacement and remade the index by hand
        plant.sql(f'DROP INDEX "{plant.schema}".t_v_sa_new')
        plant.sql(f'DROP INDEX "{plant.schema}".t_v')
        plant.sql(f"CREATE INDEX t_v ON {table} (v)")
    rebuild = _recovered_t_v(plant, kind=IndexRebuild.Kind.REPLACE, built_oid=built)
    if swapped:
        assert (rebuild.state, rebuild.error) == (JobState.SUCCEEDED, SWAPPED_IN_BEFORE_STOP), rebuild.log
        assert "the swap had finished" in rebuild.log
        assert index_state(plant.schema, "t_v").options == {"fillfactor": "70"}
        assert _outcomes(REBUILD, rebuild) == ["rebuild.succeeded"]
    else:  # a valid index of the name, method and table, with a new oid, is still not this rebuild's
        assert (rebuild.state, rebuild.error) == (JobState.FAILED, WORKER_STOPPED), rebuild.log
        assert _outcomes(REBUILD, rebuild) == ["rebuild.failed"]


@pytest.mark.parametrize("swapped", [True, False], ids=["swap-committed", "stopped-before-the-swap"])
def test_recovery_tells_a_reindex_whose_swap_committed_from_one_that_never_reached_it(plant, superuser_sql, swapped):  # noqa: F811
    """REINDEX CONCURRENTLY swaps its new index in under the name and renames the old one <name>_ccold (INVALID) until
    its last steps mark it dead and drop it. A worker dead between the two left the index rebuilt and in service:
    recorded as "the old index is untouched. Retry it." before. Recovery now reads it from the oid the job claimed
    the index with. Stopped before the swap, the old index still holds the name: that stays a failure."""
    table = plant.table("t", "v int", rows=20, fill="i")
    plant.sql(f"CREATE INDEX t_v ON {table} (v)")
    original = index_state(plant.schema, "t_v").oid
    plant.sql(f"CREATE INDEX t_v_ccnew ON {table} (v)")  # what REINDEX builds
    if swapped:  # what its swap leaves: the names exchanged, the old index INVALID
        plant.sql(f'ALTER INDEX "{plant.schema}".t_v RENAME TO t_v_ccold')
        plant.sql(f'ALTER INDEX "{plant.schema}".t_v_ccnew RENAME TO t_v')
        leftover = "t_v_ccold"
    else:
        leftover = "t_v_ccnew"
    superuser_sql(
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass",
        [f'"{plant.schema}".{leftover}'],
    )
    rebuild = _recovered_t_v(plant, kind=IndexRebuild.Kind.REINDEX, original_oid=original)
    assert index_state(plant.schema, leftover) is None, rebuild.log  # dropped, whichever it was
    assert index_state(plant.schema, "t_v").is_valid
    if swapped:
        assert (rebuild.state, rebuild.error) == (JobState.SUCCEEDED, SWAPPED_IN_BEFORE_STOP), rebuild.log
        assert "REINDEX's swap had finished" in rebuild.log
        assert index_state(plant.schema, "t_v").oid != original
        assert _outcomes(REBUILD, rebuild) == ["rebuild.succeeded"]
    else:
        assert (rebuild.state, rebuild.error) == (JobState.FAILED, WORKER_STOPPED), rebuild.log
        assert index_state(plant.schema, "t_v").oid == original
        assert _outcomes(REBUILD, rebuild) == ["rebuild.failed"]


def test_a_worker_stopped_right_after_its_swap_committed_records_the_rebuild_as_succeeded(plant, monkeypatch):  # noqa: F811
    """The swap's statements all committed, then the job was stopped before it could record that (here: the swap's
    last step raises). The replacement it built (its oid recorded) is in service, so the record says succeeded."""
    from schemaadmin.services.rebuilds import run

    _plant_hnsw(plant)
    old = index_state(plant.schema, "v_hnsw").oid
    plan = plan_rebuild(f"{plant.schema}.v_hnsw", kind=IndexRebuild.Kind.REPLACE, m=12)
    swap = run._swap

    def swaps_then_stops(conn, statements, log) -> None:
        swap(conn, statements, log)
        raise RuntimeError("the worker was stopped")

    monkeypatch.setattr(run, "_swap", swaps_then_stops)
    rebuild = _run_queued(plant, plan)
    assert rebuild.state == JobState.SUCCEEDED, rebuild.log
    assert "the swap had already finished, so the new index is in service" in rebuild.error, rebuild.log
    rebuilt = index_state(plant.schema, "v_hnsw")
    assert rebuilt.oid == rebuild.built_oid != old and rebuilt.options["m"] == "12"


def test_a_swap_that_gave_up_after_dropping_the_old_index_ends_as_succeeded_with_the_new_one_in_service(
    plant,  # noqa: F811 -- the imported fixture
    superuser_sql,
    monkeypatch,
):
    """DROP INDEX CONCURRENTLY marks the old index INVALID, then waits for an old transaction and gives up: the
    clean-up finishes the swap, so the new index is in service. Recorded as failed with "the old index is untouched"
    before; now succeeded, saying what happened. (The swap's first step and its giving up are played here: an old
    transaction would hold the build itself as long, in "waiting for old snapshots".)"""
    from schemaadmin.services.rebuilds import run

    table = _plant_hnsw(plant)
    plan = plan_rebuild(f"{plant.schema}.v_hnsw", kind=IndexRebuild.Kind.REPLACE, m=12)

    def gives_up_after_marking_the_old_index_invalid(conn, statements, log) -> None:
        superuser_sql("UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [f"{table}_hnsw"])
        raise psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")

    monkeypatch.setattr(run, "_swap", gives_up_after_marking_the_old_index_invalid)
    rebuild = _run_queued(plant, plan)
    assert rebuild.state == JobState.SUCCEEDED, rebuild.log
    assert "the new one was swapped in and is in service" in rebuild.error, rebuild.log
    assert index_state(plant.schema, "v_hnsw").options["m"] == "12"
    assert index_state(plant.schema, "v_hnsw_sa_new") is None
    assert _outcomes(REBUILD, rebuild) == ["rebuild.succeeded"]
    page = Client()
    page.force_login(make_user("dba-reader", role="dba"))
    shown = page.get(f"/rebuilds/{rebuild.pk}/").content.decode()
    assert "Succeeded" in shown and "swapped in and is in service" in shown and "untouched" not in shown
    assert 'data-testid="error"' not in shown  # said once, as the success it is, not also as a red alert
