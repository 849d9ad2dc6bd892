"""Nothing lost on a destructive apply: the worker archives a dropped column or table before the DROP runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import connection, migrations, models
from psycopg import sql

from schemaadmin.models import AuditEvent, JobState, MigrationApply
from schemaadmin.services.schema.apply import apply_plan, run_apply, start_apply
from schemaadmin.services.schema.archive import PlannedDrop, archives, migration_drops
from schemaadmin.services.schema.sql import migration_loader
from tests.conftest import make_user
from tests.services.migration_planting import planted_migration
from tests.worker import wait_for

NOTES = {f"w{i}": f"note {i}" for i in range(30)}


@pytest.fixture
def archive_schema(fixtures_pending) -> Iterator[str]:
    """Widgets with notes at 0001 (0003 drops the note column); the archive schema is dropped afterwards."""
    with connection.cursor() as cur:
        for name, note in NOTES.items():
            cur.execute("INSERT INTO schema_fixtures_widget (name, note) VALUES (%s, %s)", [name, note])
    yield "schemaadmin_archive"
    with connection.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS schemaadmin_archive CASCADE")


def _finished(apply: MigrationApply) -> MigrationApply | None:
    apply.refresh_from_db()
    return apply if apply.state not in (JobState.QUEUED, JobState.RUNNING) else None


def _start(username: str) -> MigrationApply:
    plan = apply_plan()
    return start_apply(plan, user=make_user(username), fingerprint=plan.fingerprint, typed_target=plan.target)


def test_the_worker_archives_a_dropped_column_with_its_key_and_says_how_to_restore_it(archive_schema, worker):
    apply = _start("dba-archive")
    done = wait_for(lambda: _finished(apply), timeout=120, what="the apply to finish")
    assert done.state == JobState.SUCCEEDED, (done.error, worker.output())

    name = f"apply{apply.pk}_schema_fixtures_widget__note"
    [archive] = archives()
    assert archive.name == name and archive.table.total_bytes > 0
    assert archive.about["source"] == "schema_fixtures_widget.note"
    assert archive.about["migration"] == "schema_fixtures.0003_remove_widget_note"
    with connection.cursor() as cur:
        query = sql.SQL("SELECT w.name, a.note FROM {} a JOIN schema_fixtures_widget w USING (id)")
        cur.execute(query.format(sql.Identifier("schemaadmin_archive", name)).as_string(connection.connection))
        assert dict(cur.fetchall()) == NOTES  # the values, keyed by the row's primary key

    # The log says where it went and how to restore it, before the DROP it precedes.
    log = done.log
    where = f"Archived schema_fixtures_widget.note ({len(NOTES)} rows) into schemaadmin_archive.{name}."
    assert where in log and "To restore: Reverse schema_fixtures.0003_remove_widget_note" in log
    assert log.index(where) < log.index('DROP COLUMN "note"')
    assert "to_regclass" not in log and "CREATE TABLE" not in log  # one line per copy, not its catalog reads
    # So does the audit event of the outcome.
    event = AuditEvent.objects.get(action="migrations.applied", target=apply.target)
    [archived] = event.detail["archived"]
    assert archived["archive"] == f"schemaadmin_archive.{name}" and archived["rows"] == len(NOTES)

    # The restore text works: reverse the migration (the column comes back with its default), run it.
    call_command("migrate", "schema_fixtures", "0002", verbosity=0)
    with connection.cursor() as cur:
        cur.execute(archived["restore"].split("then: ", 1)[1])
        cur.execute("SELECT name, note FROM schema_fixtures_widget")
        assert dict(cur.fetchall()) == NOTES


def test_archiving_can_be_turned_off(archive_schema, settings):
    settings.SCHEMAADMIN = {"ARCHIVE_BEFORE_DROP": False}
    apply = _start("dba-no-archive")
    run_apply(apply.pk)  # the job's body, in this process, under these settings
    apply.refresh_from_db()
    assert apply.state == JobState.SUCCEEDED, apply.error
    assert archives() == []
    assert "Archiving is off (ARCHIVE_BEFORE_DROP): schema_fixtures_widget.note not kept." in apply.log


@pytest.mark.django_db
def test_what_a_migration_drops_is_read_from_its_operations_and_raw_sql():
    loader = migration_loader()
    migration = planted_migration(
        loader,
        "schema_fixtures",
        [
            migrations.RemoveField("widget", "name"),
            migrations.RunSQL("ALTER TABLE schema_fixtures_widget DROP COLUMN extra; DROP TABLE IF EXISTS old_things"),
            migrations.DeleteModel("Widget"),
        ],
    )
    assert migration_drops(loader, migration) == [
        PlannedDrop("schema_fixtures_widget", "name"),
        PlannedDrop("schema_fixtures_widget", "extra"),
        PlannedDrop("old_things"),
        PlannedDrop("schema_fixtures_widget"),
    ]


@pytest.mark.django_db
def test_a_model_whose_db_table_names_its_schema_drops_that_schema_s_table():
    # Django's way of putting a model in a schema: db_table 'billing"."invoice', quoted into "billing"."invoice".
    # Read as one table of that name, the worker found no such table and dropped the column unarchived.
    loader = migration_loader()
    fields = [
        ("id", models.BigAutoField(primary_key=True)),
        ("v", models.TextField()),
        ("tags", models.ManyToManyField("schema_fixtures.widget")),
    ]
    migration = planted_migration(
        loader,
        "schema_fixtures",
        [
            migrations.CreateModel("Invoice", fields, options={"db_table": 'billing"."invoice'}),
            migrations.RemoveField("invoice", "v"),
            migrations.RemoveField("invoice", "tags"),
            migrations.DeleteModel("Invoice"),
        ],
    )
    drops = migration_drops(loader, migration)
    assert drops == [
        PlannedDrop("invoice", "v", schema="billing"),
        PlannedDrop("invoice_tags", schema="billing"),
        PlannedDrop("invoice", schema="billing"),
    ]
    assert drops[0].label == "billing.invoice.v"


def test_raw_sql_naming_a_schema_archives_that_schema_s_table_not_a_namesake(plant):
    from schemaadmin.services.schema.archive import archive_drops

    # Everything below runs in the test's transaction and is rolled back with it (the planter's own connection
    # would wait for this transaction's locks). The name is the schema's own, so test runs side by side differ.
    s, table = plant.schema, f"Raw Table {plant.schema}"
    loader = migration_loader()
    migration = planted_migration(
        loader,
        "schema_fixtures",
        [migrations.RunSQL(f'DROP TABLE "{s}"."{table}"; ALTER TABLE {s}.other DROP COLUMN gone')],
    )
    assert migration_drops(loader, migration) == [PlannedDrop(table, schema=s), PlannedDrop("other", "gone", schema=s)]

    with connection.cursor() as cur:
        for where, value in ((s, "the dropped row"), ("public", "a namesake the search_path finds")):
            target = sql.Identifier(where, table)
            cur.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, v text)").format(target))
            cur.execute(sql.SQL("INSERT INTO {} VALUES (1, %s)").format(target), [value])
    (archived,) = archive_drops([PlannedDrop(table, schema=s)], apply_id=999_001, migration="m")
    assert archived.rows == 1
    assert f'{s}."{table}"' in archived.restore
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT v FROM {}").format(sql.Identifier(archived.schema, archived.name)))
        assert cur.fetchall() == [("the dropped row",)]


def test_archive_names_of_a_schema_s_table_and_a_look_alike_differ():
    from schemaadmin.services.schema.archive import archive_name

    in_schema, look_alike = archive_name(7, PlannedDrop("t", schema="s")), archive_name(7, PlannedDrop("s_t"))
    assert look_alike == "apply7_s_t" and in_schema.startswith("apply7_s_t_") and in_schema != look_alike
    assert archive_name(7, PlannedDrop("t", "c", schema="s")) != in_schema
    assert len(archive_name(7, PlannedDrop("x" * 63, "y" * 63)).encode()) == 63
