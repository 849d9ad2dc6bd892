"""services/schema/migrations.py and migration_sql.py: status in plan order, operations in words, SQL as sqlmigrate."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, migrations

from schemaadmin.services.schema.migrations import (
    UnknownMigration,
    by_app,
    migration_detail,
    migration_sql,
    migration_status,
    pending_migrations,
)
from schemaadmin.services.schema.sql import collected_sql, migration_loader
from tests.services.migration_planting import FIXTURE_PENDING, fixtures_pending, planted_migration  # noqa: F401


def sqlmigrate(*args: str) -> str:
    out = StringIO()
    call_command("sqlmigrate", *args, stdout=out, no_color=True)
    return out.getvalue().rstrip("\n")


@pytest.mark.django_db
def test_every_migration_is_listed_applied_with_its_time_in_plan_order():
    statuses = migration_status()
    labels = [s.label for s in statuses]
    assert len(labels) == len(set(labels))
    assert all(s.applied and s.applied_at is not None for s in statuses)
    assert pending_migrations() == []
    # Plan order: every dependency comes before the migration that needs it.
    loader = migration_loader()
    position = {label: i for i, label in enumerate(labels)}
    for status in statuses:
        for app, name in loader.graph.nodes[(status.app_label, status.name)].dependencies:
            if (app, name) in loader.graph.nodes:
                assert position[f"{app}.{name}"] < position[status.label]
    schemaadmin = next(group for group in by_app(statuses) if group.app_label == "schemaadmin")
    assert [m.name for m in schemaadmin.migrations][:2] == ["0001_initial", "0002_roles"]
    assert schemaadmin.pending_count == 0


@pytest.mark.usefixtures("fixtures_pending")
def test_unapplied_migrations_are_pending_without_a_time():
    statuses = {s.label: s for s in migration_status()}
    assert statuses["schema_fixtures.0001_initial"].applied
    for label in FIXTURE_PENDING:
        status = statuses[label]
        assert status.pending and status.applied_at is None
    assert [f"{m.app_label}.{m.name}" for m in pending_migrations()] == list(FIXTURE_PENDING)
    group = next(g for g in by_app(list(statuses.values())) if g.app_label == "schema_fixtures")
    assert group.pending_count == 2 and group.latest_applied.name == "0001_initial"


@pytest.mark.django_db
def test_detail_has_operations_in_words_and_sql_exactly_as_sqlmigrate():
    detail = migration_detail("schema_fixtures", "0002_widget_name_index")
    assert detail.operations == ("Create index widget_name on field(s) name of model widget",)
    assert detail.status.atomic
    assert detail.forward.text == sqlmigrate("schema_fixtures", "0002")
    assert detail.backward.text == sqlmigrate("--backwards", "schema_fixtures", "0002")
    lines = detail.forward.lines
    assert lines[0] == "BEGIN;" and lines[-1] == "COMMIT;"
    assert 'CREATE INDEX "widget_name" ON "schema_fixtures_widget" ("name");' in lines
    assert lines[detail.forward.operation_lines[0]] == f"-- {detail.operations[0]}"
    assert 'DROP INDEX IF EXISTS "widget_name";' in detail.backward.text
    assert detail.dependencies == ("schema_fixtures.0001_initial",)


@pytest.mark.django_db
def test_a_dependency_named_by_its_place_says_which_migration_it_is_now(settings):
    from django.db.migrations.loader import MigrationLoader

    settings.MIGRATION_MODULES = {"schema_fixtures": "tests.schema_fixtures.depends_by_place"}
    detail = migration_detail("schema_fixtures", "0002_after_sessions")
    auth_latest = MigrationLoader(None).graph.leaf_nodes("auth")[0][1]
    assert detail.dependencies == (
        "schema_fixtures.0001_initial",
        "sessions.__first__ (now sessions.0001_initial)",
        f"auth.__latest__ (now auth.{auth_latest})",
    )


@pytest.mark.django_db(transaction=True)  # AddIndexConcurrently refuses to write its SQL inside a transaction
def test_non_atomic_migration_has_no_transaction_and_each_operation_its_line():
    detail = migration_detail("schemaadmin", "0004_user_lookup_indexes")
    assert not detail.status.atomic
    assert detail.forward.text == sqlmigrate("schemaadmin", "0004")
    assert "BEGIN;" not in detail.forward.text
    lines = detail.forward.lines
    assert len(detail.forward.operation_lines) == 3
    for index, line in enumerate(detail.forward.operation_lines):
        assert lines[line] == f"-- {detail.operations[index]}"
        assert lines[line + 2].startswith("CREATE INDEX CONCURRENTLY")
        assert detail.forward.operation_at(line + 2) == index
    # Backwards, the operations run last to first.
    backward = detail.backward
    assert backward.operation_lines[2] < backward.operation_lines[1] < backward.operation_lines[0]
    assert backward.operation_at(backward.operation_lines[0] + 2) == 0


def _forwards_only(apps, schema_editor):
    """A RunPython body without a reverse: Django's own message names it by repr, with its memory address."""


@pytest.mark.django_db
def test_an_irreversible_migration_says_so_instead_of_failing():
    loader = migration_loader()
    migration = planted_migration(
        loader, "schema_fixtures", [migrations.RunSQL("UPDATE schema_fixtures_widget SET name = ''")]
    )
    backward = collected_sql(loader, migration, backwards=True)
    assert backward.text == ""
    assert "cannot be reversed" in backward.problem and "schema_fixtures.0099_planted" in backward.problem
    assert "operation 1 (Raw SQL operation) has no reverse" in backward.problem

    python = planted_migration(
        loader,
        "schema_fixtures",
        [migrations.RunSQL("SELECT 1", "SELECT 1"), migrations.RunPython(_forwards_only)],
        name="0100_planted_python",
    )
    problem = collected_sql(loader, python, backwards=True).problem
    assert "operation 2 (Raw Python operation) has no reverse" in problem
    assert " at 0x" not in problem  # Django's own message names the function by its memory address
    forward = collected_sql(loader, migration)
    assert "UPDATE schema_fixtures_widget SET name = ''" in forward.text and forward.problem == ""


class _ExecutesItself(migrations.operations.base.Operation):
    """A project's operation that runs its statement itself (reduces_to_sql left True, as Operation's default)."""

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("CREATE TABLE written_while_reading (n int)")

    def describe(self):
        return "Create a table"


@pytest.mark.parametrize("in_transaction", [True, False], ids=["in a transaction", "in autocommit, as a page"])
def test_writing_the_sql_of_an_operation_that_executes_itself_changes_nothing(in_transaction, request):
    # sqlmigrate's way of writing SQL calls database_forwards: this operation inserted a row on every page view.
    request.getfixturevalue("db" if in_transaction else "transactional_db")
    loader = migration_loader()
    migration = planted_migration(loader, "schema_fixtures", [_ExecutesItself()])
    written = collected_sql(loader, migration)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('written_while_reading')")
        assert cursor.fetchone() == (None,)
        cursor.execute("SELECT current_setting('transaction_read_only')")
        assert cursor.fetchone() == ("off",)  # usable still, and for writes
    assert written.text == ""
    assert "operation 1 (Create a table) executes statements of its own" in written.problem
    assert "nothing was run here" in written.problem


@pytest.mark.django_db
def test_python_operations_are_marked_as_not_sql():
    sql = migration_sql("schemaadmin", "0002_roles")
    assert "-- THIS OPERATION CANNOT BE WRITTEN AS SQL" in sql.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("app_label", "name", "message"),
    [
        ("nosuchapp", "0001_initial", "No app labelled “nosuchapp” has migrations."),
        ("schemaadmin", "0999_missing", "The app “schemaadmin” has no migration named “0999_missing”."),
        ("schemaadmin", "0001", "no migration named “0001”"),  # prefixes are not names
    ],
)
def test_unknown_migrations_are_refused_with_a_clear_message(app_label, name, message):
    with pytest.raises(UnknownMigration, match=message):
        migration_detail(app_label, name)
    with pytest.raises(UnknownMigration):
        migration_sql(app_label, name)
