"""services/schema/states.py: start states built from a parent's end state are the ones Django builds from nothing."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.db.migrations.migration import Migration
from django.test.utils import override_settings

from schemaadmin.services.schema import sql as schema_sql
from schemaadmin.services.schema.archive import may_drop, migration_drops
from schemaadmin.services.schema.lint import lint_loaded, lint_migrations
from schemaadmin.services.schema.sql import collected_sql, migration_loader
from schemaadmin.services.schema.states import MigrationStates

FIXTURE_MODULES = {
    "applied fixtures": "tests.schema_fixtures.migrations",
    "lint fixtures (RunPython, RunSQL, non-atomic)": "tests.schema_fixtures.lint_migrations",
    "a squash beside the migrations it replaces": "tests.schema_fixtures.squashed_migrations",
    "a merge of two branches altering one column": "tests.schema_fixtures.merged_migrations",
}


def every_migration(loader):
    """Every migration of every app (Django's, ours, the fixtures'), in the order `migrate` plans them."""
    return [loader.graph.nodes[key] for key in loader.graph._generate_plan(sorted(loader.graph.leaf_nodes()), True)]


@pytest.mark.parametrize("order", ["plan", "reversed"])
@pytest.mark.parametrize("module", FIXTURE_MODULES.values(), ids=FIXTURE_MODULES.keys())
def test_each_start_state_and_its_sql_are_what_django_builds_from_nothing(transactional_db, module, order):
    with override_settings(MIGRATION_MODULES={"schema_fixtures": module}):
        loader = migration_loader()
        migrations = every_migration(loader)
        assert len(migrations) > 40
        if order == "reversed":  # no parent was walked first: each state is built from its ancestors
            migrations.reverse()
        states = MigrationStates(loader)
        for migration in migrations:
            node = (migration.app_label, migration.name)
            expected = loader.project_state(node, at_end=False)
            start = states.start(migration)
            assert start is not None, node
            assert start.plain.models == expected.models, node
            assert start.plain.real_apps == expected.real_apps, node
            assert start.for_sql.models == expected.models, node
            if may_drop(migration):  # what the apply archives is read from the same start state
                assert migration_drops(loader, migration, start=start.plain) == migration_drops(loader, migration)
            sql = collected_sql(loader, migration, state=start.for_sql)
            assert sql == collected_sql(loader, migration), node
            states.ended(migration, start, sql_written=not sql.problem)


def test_linting_pending_migrations_replays_each_one_once_not_the_history_per_migration(transactional_db, monkeypatch):
    """The schema page lints every pending migration: before, each replayed all its ancestors (N² at N pending)."""
    with override_settings(
        MIGRATION_MODULES={"schema_fixtures": FIXTURE_MODULES["lint fixtures (RunPython, RunSQL, non-atomic)"]}
    ):
        loader = migration_loader()
        migrations = every_migration(loader)
        replayed = []
        original = Migration.mutate_state

        def counted(self, project_state, preserve=True):
            replayed.append((self.app_label, self.name))
            return original(self, project_state, preserve)

        monkeypatch.setattr(Migration, "mutate_state", counted)
        lints = lint_loaded(loader, migrations)
    assert [lint.label for lint in lints] == [f"{m.app_label}.{m.name}" for m in migrations]
    # Each migration's state changes are replayed once for its end state, and once more where a migration's SQL
    # could not be kept as the next one's rendered start (a RunPython skips its state changes there).
    assert len(replayed) <= 2 * len(migrations), len(replayed)
    assert len(set(replayed)) == len(migrations)
    # Replaying each migration's ancestors, as project_state() per migration did, is far more than that bound.
    from_nothing = sum(len(loader.graph.forwards_plan((m.app_label, m.name))) - 1 for m in migrations)
    assert from_nothing > 4 * len(migrations), from_nothing


def test_a_merge_starts_from_its_branches_replayed_in_djangos_order(transactional_db):
    """Both branches alter one column: the one Django replays last (0002_narrow) decides what the merge changes."""
    with override_settings(
        MIGRATION_MODULES={"schema_fixtures": FIXTURE_MODULES["a merge of two branches altering one column"]}
    ):
        loader = migration_loader()
        walked = every_migration(loader)  # 0002_wide is walked (and kept) before 0002_narrow, as Django plans them
        assert [m.name for m in walked if m.app_label == "schema_fixtures"][-1] == "0003_merge"
        (merge,) = [lint for lint in lint_loaded(loader, walked) if lint.label == "schema_fixtures.0003_merge"]
    assert 'ALTER COLUMN "level" TYPE integer' in merge.sql.text, merge.sql.text


def test_the_sql_is_written_once_while_the_migrations_and_the_live_schema_stay_the_same(
    transactional_db, monkeypatch, plant
):
    """Writing SQL renders models (12 s for 384 pending wagtail and oscar migrations): a second view reads it back."""
    written = []
    original = Migration.apply

    def counted(self, project_state, schema_editor, collect_sql=False):
        written.append(f"{self.app_label}.{self.name}")
        return original(self, project_state, schema_editor, collect_sql)

    monkeypatch.setattr(Migration, "apply", counted)
    monkeypatch.setattr(schema_sql, "_written", {})  # nothing kept from earlier tests
    lint = FIXTURE_MODULES["lint fixtures (RunPython, RunSQL, non-atomic)"]
    with override_settings(MIGRATION_MODULES={"schema_fixtures": lint}):
        keys = [(m.app_label, m.name) for m in every_migration(migration_loader()) if m.app_label == "schema_fixtures"]
        first = lint_migrations(keys)
        assert sorted(written) == sorted(f"{app}.{name}" for app, name in keys)
        written.clear()
        again = lint_migrations(keys)  # another loader, the same migrations and live schema
        assert written == [] and [lint.sql for lint in again] == [lint.sql for lint in first]

        plant.sql("CREATE TABLE public.ddl_happened (id int)")  # Django reads the live schema for some operations
        try:
            lint_migrations(keys[:1])
            assert written == [keys[0][0] + "." + keys[0][1]]
        finally:
            plant.sql("DROP TABLE public.ddl_happened")

    written.clear()
    with override_settings(MIGRATION_MODULES={"schema_fixtures": FIXTURE_MODULES["applied fixtures"]}):
        other = lint_migrations([("schema_fixtures", "0002_widget_name_index")])  # other migration files
    assert written == ["schema_fixtures.0002_widget_name_index"] and other[0].sql.text


def test_sql_that_could_not_be_written_is_tried_again_on_the_next_view(transactional_db, monkeypatch):
    """A timeout or a lock while Django reads the live schema passes: it must not stay on the page until DDL."""
    original = Migration.apply
    failures = []

    def fails_once(self, project_state, schema_editor, collect_sql=False):
        if not failures:
            failures.append(self.name)
            raise OperationalError("canceling statement due to statement timeout")
        return original(self, project_state, schema_editor, collect_sql)

    monkeypatch.setattr(Migration, "apply", fails_once)
    key = [("schema_fixtures", "0002_widget_name_index")]
    assert "statement timeout" in lint_migrations(key)[0].sql.problem
    again = lint_migrations(key)[0].sql
    assert again.problem == "" and "CREATE INDEX" in again.text
