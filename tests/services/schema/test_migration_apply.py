"""Applying pending migrations through the worker: the plan, the confirmation, timeouts, the lock, the record."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from django.db import connection, migrations
from django.db.migrations.recorder import MigrationRecorder

from schemaadmin.models import AuditEvent, JobState, MigrationApply
from schemaadmin.pg.connection import connection_params
from schemaadmin.services import jobs
from schemaadmin.services.schema.apply import (
    APPLY,
    WORKER_STOPPED,
    ApplyAlreadyActive,
    ApplyPlan,
    ApplyRefused,
    apply_plan,
    critical_lint,
    destroyed,
    run_apply,
    start_apply,
)
from schemaadmin.services.schema.migrations import forward_plan
from tests.conftest import make_user
from tests.services.migration_planting import FIXTURE_PENDING
from tests.worker import recovered_after_kill, wait_for

PENDING = list(FIXTURE_PENDING)


def _applied(name: str) -> bool:
    return MigrationRecorder(connection).migration_qs.filter(app="schema_fixtures", name=name).exists()


def _finished(apply: MigrationApply) -> MigrationApply | None:
    apply.refresh_from_db()
    return apply if apply.state not in (JobState.QUEUED, JobState.RUNNING) else None


def test_plan_lists_pending_migrations_with_destructive_operations(fixtures_pending):
    plan = apply_plan()
    assert plan.labels == PENDING
    assert plan.target == PENDING[-1]
    assert plan.destructive == [f"{PENDING[-1]}: Remove field note from widget"]


def test_destructive_plan_needs_the_target_typed(fixtures_pending):
    plan = apply_plan()
    dba = make_user("dba-typing")
    with pytest.raises(ApplyRefused, match="Type schema_fixtures.0003_remove_widget_note to confirm"):
        start_apply(plan, user=dba, fingerprint=plan.fingerprint, typed_target="0003")
    assert not MigrationApply.objects.exists()
    # Whoever calls, the service audits the refusal.
    event = AuditEvent.objects.get(action="migrations.apply_refused")
    assert (event.actor_username, event.target) == ("dba-typing", plan.target)
    assert event.detail["reason"] == f"Type {plan.target} to confirm: this plan needs it."


def test_a_lint_error_needs_the_target_typed_whoever_calls(fixtures_pending, settings):
    # A plain index on a table the lint counts as big is an error; the service, not the page, insists on typing.
    with connection.cursor() as cur:  # at 0001 the table still has its NOT NULL note column
        cur.execute("INSERT INTO schema_fixtures_widget (name, note) SELECT 'w' || i, '' FROM generate_series(1, 50) i")
        cur.execute("ANALYZE schema_fixtures_widget")
    settings.SCHEMAADMIN = {"MIGRATION_BIG_TABLE_ROWS": 20}
    index_only = ApplyPlan(apply_plan().migrations[:1])
    assert not index_only.destructive
    assert [f.code for f in critical_lint(index_only)] == ["index_on_big_table"]
    with pytest.raises(ApplyRefused, match="Type schema_fixtures.0002_widget_name_index to confirm"):
        start_apply(index_only, user=make_user("dba-lint"), fingerprint=index_only.fingerprint)
    assert not MigrationApply.objects.exists()


def test_stale_plan_is_refused(fixtures_pending):
    plan = apply_plan()
    with pytest.raises(ApplyRefused, match="changed since this page was loaded"):
        start_apply(plan, user=make_user("dba-stale"), fingerprint="0" * 16, typed_target=plan.target)


def test_one_apply_at_a_time(fixtures_pending):
    plan = apply_plan()
    dba = make_user("dba-twice")
    first = start_apply(plan, user=dba, fingerprint=plan.fingerprint, typed_target=plan.target)
    with pytest.raises(ApplyAlreadyActive) as refused:
        start_apply(plan, user=dba, fingerprint=plan.fingerprint, typed_target=plan.target)
    assert refused.value.apply == first
    assert first.job_id is not None
    event = AuditEvent.objects.get(action="migrations.apply_refused")
    assert (event.actor_username, event.detail["reason"]) == ("dba-twice", str(refused.value))


def test_worker_applies_the_plan_and_records_it(fixtures_pending, worker):
    plan = apply_plan()
    dba = make_user("dba-apply")
    apply = start_apply(plan, user=dba, fingerprint=plan.fingerprint, typed_target=plan.target)

    done = wait_for(lambda: _finished(apply), timeout=60, what="the apply to finish")
    assert done.state == JobState.SUCCEEDED, (done.error, worker.output())
    assert _applied("0002_widget_name_index") and _applied("0003_remove_widget_note")
    assert apply_plan().labels == []
    assert "Applying schema_fixtures.0002_widget_name_index" in done.log
    assert 'CREATE INDEX "widget_name"' in done.log
    # Not the recorder's bookkeeping, whose placeholders read as if they were the SQL that ran.
    assert 'INSERT INTO "django_migrations"' not in done.log and "%s" not in done.log
    assert done.started_at and done.finished_at and done.backend_pid
    actions = list(AuditEvent.objects.filter(target=plan.target).values_list("action", "actor_username"))
    assert ("migrations.apply_requested", "dba-apply") in actions
    assert ("migrations.applied", "dba-apply") in actions


@contextmanager
def _table_being_written() -> Iterator[None]:
    """Hold an open transaction writing to the fixture table: CREATE INDEX must wait for it to end."""
    holder = psycopg.connect(**connection_params("default"))
    try:
        holder.execute("LOCK TABLE schema_fixtures_widget IN ROW EXCLUSIVE MODE")
        yield
    finally:
        holder.close()


def _start(plan: ApplyPlan, username: str, lock_timeout_ms: int) -> MigrationApply:
    return start_apply(
        plan,
        user=make_user(username),
        fingerprint=plan.fingerprint,
        typed_target=plan.target,
        lock_timeout_ms=lock_timeout_ms,
    )


def test_lock_timeout_stops_the_apply_and_names_the_statement(fixtures_pending, worker):
    plan = apply_plan()
    with _table_being_written():
        apply = _start(plan, "dba-locked", lock_timeout_ms=300)
        done = wait_for(lambda: _finished(apply), timeout=60, what="the apply to fail")

    assert done.state == JobState.FAILED
    assert done.failed_migration == "schema_fixtures.0002_widget_name_index"
    assert done.failed_statement.startswith('CREATE INDEX "widget_name"')
    assert "lock timeout" in done.error
    # The failed migration was rolled back as a whole: still pending, and the index is not there.
    assert not _applied("0002_widget_name_index")
    assert apply_plan().labels == PENDING
    assert AuditEvent.objects.filter(action="migrations.apply_failed", target=plan.target).exists()


def test_an_apply_whose_worker_died_is_marked_failed(fixtures_pending, worker, short_stall):
    plan = apply_plan()
    with _table_being_written():
        apply = _start(plan, "dba-crash", lock_timeout_ms=600_000)
        wait_for(lambda: MigrationApply.objects.filter(pk=apply.pk, state=JobState.RUNNING).exists(), what="the start")
        assert jobs.recover(APPLY) == []  # a live worker's apply is left alone
        recovered = recovered_after_kill(worker, APPLY)

    assert [r.pk for r in recovered] == [apply.pk]
    apply.refresh_from_db()
    assert apply.state == JobState.FAILED and apply.error == WORKER_STOPPED
    # The backend's transaction died with its client: nothing of the migration stayed.
    wait_for(lambda: not _applied("0002_widget_name_index") and apply_plan().labels == PENDING, what="rollback")
    assert AuditEvent.objects.filter(action="migrations.apply_failed", target=plan.target).exists()


def test_a_migration_with_a_long_name_can_be_applied_and_fail(transactional_db):
    """A label is an app label and a file name (up to 255 bytes): the run, its audit and its failure all keep it."""
    from schemaadmin.forms.apply import ApplyForm
    from schemaadmin.services.schema.apply import PlannedMigration
    from tests.worker import clear_jobs

    # A file name of 250 bytes in an app with a long label: over the 300 characters the audit once kept.
    name = "0099_" + "a_very_long_migration_name_" * 9
    plan = ApplyPlan((PlannedMigration("schema_fixtures_" + "x" * 60, name, ("Run SQL",), (), True),))
    assert len(plan.target) > 300
    typed = ApplyForm({"fingerprint": plan.fingerprint, "typed_target": plan.target, "lock_timeout_ms": 5000})
    typed.is_valid()
    assert "typed_target" not in typed.errors

    try:
        apply = start_apply(plan, user=make_user("dba-long"), fingerprint=plan.fingerprint, typed_target=plan.target)
        apply.refresh_from_db()
        assert apply.target == plan.target
        assert AuditEvent.objects.filter(action="migrations.apply_requested", target=plan.target).exists()
        # What the worker records when that migration fails.
        MigrationApply.objects.filter(pk=apply.pk).update(state=JobState.FAILED, failed_migration=plan.target)
        assert MigrationApply.objects.get(pk=apply.pk).failed_migration == plan.target
    finally:
        clear_jobs()


def test_drops_in_raw_sql_or_behind_separate_database_and_state_need_the_target_typed(transactional_db, settings):
    settings.MIGRATION_MODULES = {"schema_fixtures": "tests.schema_fixtures.raw_drops"}
    plan = apply_plan()
    assert plan.labels == ["schema_fixtures.0004_drops_in_raw_sql"]
    assert plan.destructive == [
        "schema_fixtures.0004_drops_in_raw_sql: Raw SQL: drop table schema_fixtures_old_stuff",
        "schema_fixtures.0004_drops_in_raw_sql: Remove field name from widget",
    ]
    with pytest.raises(ApplyRefused, match="Type schema_fixtures.0004_drops_in_raw_sql to confirm"):
        start_apply(plan, user=make_user("dba-raw-drops"), fingerprint=plan.fingerprint)
    assert not MigrationApply.objects.exists()


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("ALTER TABLE billing.invoices DROP COLUMN note", "Raw SQL: drop column billing.invoices.note"),
        ("TRUNCATE audit_trail", "Raw SQL: empty table audit_trail (TRUNCATE)"),
        ("DELETE FROM widgets WHERE id < 10", "Raw SQL: deletes rows of widgets (DELETE with a WHERE clause)"),
        ("DO $$ BEGIN DROP TABLE legacy; END $$", "Raw SQL: drop table legacy"),
        ("DROP SCHEMA legacy CASCADE", "Raw SQL: drop schema legacy and all it holds"),
        (
            "WITH gone AS (DELETE FROM widgets RETURNING id) SELECT count(*) FROM gone",
            "Raw SQL: deletes rows of widgets (DELETE of every row)",
        ),
    ],
)
def test_what_raw_sql_destroys_is_said_in_words(sql, says):
    assert list(destroyed(migrations.RunSQL(sql))) == [says]
    assert list(destroyed(migrations.RunSQL("CREATE INDEX i ON t (a); UPDATE t SET a = 1"))) == []


def test_a_database_error_the_migration_handled_is_not_named_as_the_failure(transactional_db, settings):
    """Run in this process (a worker would not see the fixture migrations): what the run records when it fails."""
    from tests.worker import clear_jobs

    settings.MIGRATION_MODULES = {"schema_fixtures": "tests.schema_fixtures.caught_error"}
    plan = apply_plan()
    try:
        apply = start_apply(plan, user=make_user("dba-caught"), fingerprint=plan.fingerprint, typed_target=plan.target)
        run_apply(apply.pk)
        apply.refresh_from_db()
        assert apply.state == JobState.FAILED and "lookup table missing" in apply.error
        assert apply.failed_migration == "schema_fixtures.0004_caught_then_failed"
        assert apply.failed_statement == ""
        assert "duplicate key" not in apply.error
        assert not _applied("0004_caught_then_failed")
    finally:
        clear_jobs()


def test_a_confirmation_is_for_the_migration_files_as_they_were_read(transactional_db, settings, tmp_path):
    """A file edited under the same name (a deploy between the page and the click) is another plan."""
    settings.MIGRATION_MODULES = {"schema_fixtures": "tests.schema_fixtures.raw_drops"}
    plan = apply_plan()
    (planned,) = plan.migrations
    source = Path(sys.modules[type(forward_plan()[0]).__module__].__file__)
    assert planned.content == hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    edited = ApplyPlan((replace(planned, content=hashlib.sha256(b"edited").hexdigest()[:16]),))
    assert edited.labels == plan.labels and edited.fingerprint != plan.fingerprint
    with pytest.raises(ApplyRefused, match="changed since this page was loaded"):
        start_apply(plan, user=make_user("dba-edited"), fingerprint=edited.fingerprint, typed_target=plan.target)


EDITED_MIGRATION = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("schema_fixtures", "0003_remove_widget_note")]
    operations = [migrations.RunSQL("CREATE TABLE {table} (id int)", "DROP TABLE {table}")]
"""


def test_a_migration_file_edited_after_the_process_imported_it_runs_as_it_is_now(
    transactional_db, settings, tmp_path, monkeypatch
):
    """A long-lived worker imported the file for an earlier plan. Edited since, the text the DBA confirmed is the
    one that runs (it ran the text first imported); a confirmation of the old text is refused."""
    from django.core.management import call_command

    from tests.worker import clear_jobs

    package = tmp_path / "edited_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("0001_initial", "0002_widget_name_index", "0003_remove_widget_note"):
        importer = f'Migration = __import__("importlib").import_module("tests.schema_fixtures.migrations.{name}")'
        (package / f"{name}.py").write_text(f"{importer}.Migration\n")
    edited = package / "0004_make_table.py"
    edited.write_text(EDITED_MIGRATION.format(table="schema_fixtures_as_first_read"))
    monkeypatch.syspath_prepend(str(tmp_path))
    settings.MIGRATION_MODULES = {"schema_fixtures": "edited_migrations"}
    first = apply_plan()  # the file imported, as by a worker's earlier job
    edited.write_text(EDITED_MIGRATION.format(table="schema_fixtures_as_edited"))
    plan = apply_plan()
    assert plan.labels == first.labels == ["schema_fixtures.0004_make_table"]
    assert plan.fingerprint != first.fingerprint
    user = make_user("dba-edited-file")
    try:
        stale = start_apply(plan, user=user, fingerprint=plan.fingerprint)
        MigrationApply.objects.filter(pk=stale.pk).update(fingerprint=first.fingerprint)  # confirmed before the edit
        run_apply(stale.pk)
        stale.refresh_from_db()
        assert stale.state == JobState.FAILED and "a file of theirs was edited" in stale.error
        clear_jobs()  # its queued job, run here instead
        apply = start_apply(plan, user=user, fingerprint=plan.fingerprint)
        run_apply(apply.pk)
        apply.refresh_from_db()
        assert apply.state == JobState.SUCCEEDED, apply.error
        with connection.cursor() as cur:
            cur.execute("SELECT to_regclass('schema_fixtures_as_edited'), to_regclass('schema_fixtures_as_first_read')")
            assert cur.fetchone() == ("schema_fixtures_as_edited", None)
    finally:
        clear_jobs()
        call_command("migrate", "schema_fixtures", "0003", verbosity=0)
