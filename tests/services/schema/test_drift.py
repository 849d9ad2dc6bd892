"""services/schema/drift.py on the real test database: what migrate built is clean; hand-made changes are drift."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, models

from schemaadmin.embedded import EMBEDDED_SUPERUSER
from schemaadmin.models import DriftCheck, JobState
from schemaadmin.pg.locked import LockedRelation
from schemaadmin.pg.schema import SchemaSnapshot, TableInfo, schema_indexes, schema_snapshot
from schemaadmin.services.schema import model_tables, shadow
from schemaadmin.services.schema.drift import drift_findings, drift_report, model_changes, schema_drift
from schemaadmin.services.schema.drift_checks import start_drift_check
from schemaadmin.services.schema.shadow import applied_migrations
from tests.blocking import holding
from tests.schema_fixtures.models import Widget
from tests.worker import wait_for


def shadow_databases() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE 'schemaadmin\\_shadow\\_%'")
        return [row[0] for row in cur.fetchall()]


def by_object(findings):
    return {f.object: f for f in findings}


def findings_while(plant, changes: list[str], undo: list[str]):
    """Return the drift findings, by object, while the changes are made; undo them afterwards."""
    for statement in changes:
        plant.sql(statement)
    try:
        return by_object(drift_findings())
    finally:
        for statement in undo:
            plant.sql(statement)


@pytest.mark.django_db
def test_a_database_built_by_migrate_has_no_drift_and_the_shadow_is_dropped_and_its_schema_stored(monkeypatch):
    report = drift_report(refresh=True)

    assert report.findings == (), [f"{f.code} {f.object}: {f.message}" for f in report.findings]
    assert report.computed and not report.from_cache
    assert report.applied >= 10  # auth, contenttypes, schemaadmin, procrastinate... were replayed
    assert shadow_databases() == []

    # The second report reads the stored replay and replays nothing: a replay now fails the test. (Comparing the
    # two reports' times said so only while nothing else slowed the second one down.)
    def replay_again(*args, **kwargs):
        raise AssertionError("the second report replayed the migrations instead of reading the stored replay")

    monkeypatch.setattr(shadow, "build_shadow_snapshot", replay_again)
    again = drift_report()
    assert again.from_cache and again.findings == ()
    assert DriftCheck.objects.get().applied_count == report.applied  # the stored replay every process reads


def test_the_worker_replays_the_migrations_and_web_requests_only_read_its_result(worker):
    # A web request never replays: without a stored replay it says it awaits one and compares only the models.
    waiting = drift_report(replay=False)
    assert waiting.awaiting_replay and waiting.findings == () and shadow_databases() == []

    check = start_drift_check(user=None)
    wait_for(lambda: DriftCheck.objects.filter(pk=check.pk, state=JobState.SUCCEEDED).exists(), timeout=120)
    report = drift_report(replay=False)
    assert not report.awaiting_replay and report.from_cache and report.computed
    assert report.findings == (), [f"{f.code} {f.object}" for f in report.findings]
    assert shadow_databases() == []


@pytest.mark.django_db
def test_an_index_made_by_hand_is_drift_with_a_drop_or_adopt_fix(plant):
    plant.table("elsewhere", "id int PRIMARY KEY, note text")  # the planting schema is not the app's: ignored
    plant.sql("CREATE INDEX hand_made_title ON public.conversations (title)")
    try:
        findings = by_object(drift_findings())
    finally:
        plant.sql("DROP INDEX public.hand_made_title")

    finding = findings["public.hand_made_title"]
    assert finding.code == "unexpected_index" and finding.severity == "warning"
    assert "CREATE INDEX hand_made_title ON public.conversations USING btree (title)" in finding.message
    assert "DROP INDEX CONCURRENTLY public.hand_made_title;" in finding.fix
    assert "SeparateDatabaseAndState(" in finding.fix and "AddIndex(" in finding.fix
    assert list(findings) == ["public.hand_made_title"]


@pytest.mark.django_db
def test_columns_added_or_changed_by_hand_are_drift(plant):
    plant.sql("ALTER TABLE public.users ADD COLUMN nickname text")
    plant.sql("ALTER TABLE public.users ADD COLUMN legacy_flag boolean NOT NULL")
    plant.sql('ALTER TABLE public.users ADD COLUMN "order" int')  # a reserved word: the fix must quote it
    plant.sql('ALTER TABLE public.users ADD COLUMN "Mixed Col" int')  # no field may be named so
    plant.sql("ALTER TABLE public.conversations ALTER COLUMN title SET DEFAULT 'untitled'")
    try:
        findings = by_object(drift_findings())
    finally:
        plant.sql(
            'ALTER TABLE public.users DROP COLUMN nickname, DROP COLUMN legacy_flag, DROP COLUMN "order", '
            'DROP COLUMN "Mixed Col"'
        )
        plant.sql("ALTER TABLE public.conversations ALTER COLUMN title DROP DEFAULT")

    nickname = findings["public.users.nickname"]
    assert (nickname.code, nickname.severity) == ("unexpected_column", "warning")
    assert "ALTER TABLE public.users DROP COLUMN nickname;" in nickname.fix
    assert "AddField(model_name=..., name='nickname'" in nickname.fix

    legacy = findings["public.users.legacy_flag"]
    assert (legacy.code, legacy.severity) == ("unexpected_column", "critical")
    assert "every INSERT from the application fails" in legacy.message

    title = findings["public.conversations.title"]
    assert (title.code, title.severity) == ("column_mismatch", "warning")
    assert "default is 'untitled'::" in title.message and "migrations say none" in title.message
    assert "ALTER TABLE public.conversations ALTER COLUMN title DROP DEFAULT;" in title.fix
    assert 'ALTER TABLE public.users DROP COLUMN "order";' in findings["public.users.order"].fix
    assert "name='mixed_col', field=...(..., db_column='Mixed Col')" in findings["public.users.Mixed Col"].fix
    assert set(findings) == {
        "public.users.nickname",
        "public.users.legacy_flag",
        "public.users.order",
        "public.users.Mixed Col",
        "public.conversations.title",
    }


@pytest.mark.django_db
def test_a_column_s_collation_changed_by_hand_is_drift_whose_fix_clears_it(plant):
    """It was not read: a column sorting and comparing by another collation than the migrations' went unsaid."""
    column = "public.conversations.title"
    with connection.cursor() as cur:
        cur.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass"
                    " AND attname = 'title'", ["public.conversations"])  # fmt: skip
        (type_,) = cur.fetchone()
    plant.sql(f'ALTER TABLE public.conversations ALTER COLUMN title TYPE {type_} COLLATE "C"')
    try:
        finding = by_object(drift_findings())[column]
        assert (finding.code, finding.severity) == ("column_mismatch", "warning")
        assert 'collation is pg_catalog."C", migrations say none' in finding.message
        fix = f'ALTER TABLE public.conversations ALTER COLUMN title TYPE {type_} COLLATE pg_catalog."default";'
        assert fix in finding.fix
        plant.sql(fix)
        assert column not in by_object(drift_findings())
    finally:
        plant.sql(f'ALTER TABLE public.conversations ALTER COLUMN title TYPE {type_} COLLATE "default"')


@pytest.mark.django_db
def test_comments_changed_by_hand_are_info_whose_fix_says_them_as_the_migrations_do(plant):
    """db_comment and db_table_comment were read and never compared."""
    findings = findings_while(
        plant,
        [
            "COMMENT ON TABLE public.users IS 'who''s who'",
            "COMMENT ON COLUMN public.users.display_name IS 'shown name'",
        ],
        ["COMMENT ON TABLE public.users IS NULL", "COMMENT ON COLUMN public.users.display_name IS NULL"],
    )
    table, column = findings["public.users"], findings["public.users.display_name"]
    assert (table.code, table.severity, column.code, column.severity) == (
        "comment_mismatch", "info", "comment_mismatch", "info",
    )  # fmt: skip
    assert "described as 'who''s who'; the migrations say nothing" in table.message
    assert table.fix.endswith("COMMENT ON TABLE public.users IS NULL;")
    assert column.fix.endswith("COMMENT ON COLUMN public.users.display_name IS NULL;")


@pytest.mark.django_db
def test_a_copy_made_by_hand_of_a_migration_s_index_is_the_one_called_unexpected(plant):
    """Two alike: widget_name (the migrations') and hand_copy. The migrations' was the one said to be unexpected,
    with its drop offered, whichever the catalog listed first."""
    plant.sql("CREATE INDEX a_hand_copy ON public.schema_fixtures_widget (name)")  # sorts before widget_name
    try:
        findings = by_object(drift_findings())
    finally:
        plant.sql("DROP INDEX public.a_hand_copy")
    assert list(findings) == ["public.a_hand_copy"] and findings["public.a_hand_copy"].code == "unexpected_index"


@pytest.mark.django_db
def test_an_index_lost_is_drift_but_an_index_renamed_is_not(plant):
    definition = next(i.definition for i in schema_indexes() if i.name == "widget_name")
    plant.sql("DROP INDEX public.widget_name")
    try:
        missing = by_object(drift_findings())
        plant.sql(definition.replace("INDEX widget_name ON", "INDEX widget_renamed_by_hand ON"))
        renamed = drift_findings()
    finally:
        plant.sql("DROP INDEX IF EXISTS public.widget_renamed_by_hand")
        plant.sql(definition)

    finding = missing["public.widget_name"]
    assert (finding.code, finding.severity) == ("missing_index", "warning")
    assert "CREATE INDEX CONCURRENTLY widget_name ON public.schema_fixtures_widget USING btree (name)" in finding.fix
    assert renamed == []


@pytest.mark.django_db
def test_a_lost_constraint_and_a_hand_made_check_are_drift(plant):
    plant.sql("ALTER TABLE public.schema_fixtures_widget ADD CONSTRAINT name_not_blank CHECK (name <> '')")
    try:
        findings = by_object(drift_findings())
    finally:
        plant.sql("ALTER TABLE public.schema_fixtures_widget DROP CONSTRAINT name_not_blank")

    finding = findings["public.schema_fixtures_widget.name_not_blank"]
    assert (finding.code, finding.severity) == ("unexpected_constraint", "warning")
    assert "ALTER TABLE public.schema_fixtures_widget DROP CONSTRAINT name_not_blank;" in finding.fix


def test_a_check_as_a_pg_dump_restore_writes_it_is_the_migrations_check(plant):
    """Restored from pg_dump (or added by drift's own fix), messages_role_valid's IN list reads
    ARRAY[('user'::varchar)::text, …]: a critical mismatch whose fix, run, left the same finding for good."""
    from schemaadmin.models import Message

    table = "public.conversation_messages"
    (role_valid,) = [c for c in Message._meta.constraints if c.name == "messages_role_valid"]
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        editor.add_constraint(Message, role_valid)
    as_django_writes = "".join(f"{statement};" for statement in editor.collected_sql)

    def written() -> str:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conname = 'messages_role_valid' AND conrelid = %s::regclass",
                [table],
            )
            return cur.fetchone()[0]

    dumped = written()
    drop = f"ALTER TABLE {table} DROP CONSTRAINT messages_role_valid;"
    plant.sql(f"{drop} ALTER TABLE {table} ADD CONSTRAINT messages_role_valid {dumped}")  # as a restore adds it
    try:
        assert written() != dumped  # the premise: PostgreSQL writes its own text otherwise once parsed again
        findings = by_object(drift_findings())
    finally:
        plant.sql(f"{drop} {as_django_writes}")
    assert written() == dumped  # as the migration left it
    assert f"{table}.messages_role_valid" not in findings, findings[f"{table}.messages_role_valid"].message


@contextmanager
def field_added_to_widget(name: str, field: models.Field) -> Iterator[None]:
    """Add a field to the Widget model class for the block, as an edit to models.py would; then take it away."""
    Widget.add_to_class(name, field)
    try:
        yield
    finally:
        Widget._meta.local_fields.remove(field)
        Widget._meta._expire_cache()
        delattr(Widget, field.attname)


def test_a_model_change_without_a_migration_is_drift():
    assert model_changes() == []
    with field_added_to_widget("colour", models.CharField(max_length=20, default="red")):
        findings = model_changes()
    assert model_changes() == []  # the class is back as it was

    assert [(f.code, f.severity, f.object) for f in findings] == [
        ("model_without_migration", "critical", "schema_fixtures.widget")
    ]
    assert "Add field colour to widget" in findings[0].message
    assert "makemigrations schema_fixtures" in findings[0].fix


@pytest.mark.django_db
def test_a_role_that_may_not_create_databases_gets_one_clear_finding(superuser_sql):
    # A role like a managed service's app user, without CREATEDB (roles belong to the whole throwaway server).
    superuser_sql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'drift_no_createdb') THEN "
        "CREATE ROLE drift_no_createdb NOLOGIN NOCREATEDB; END IF; END $$"
    )
    superuser_sql(f"GRANT drift_no_createdb TO {connection.settings_dict['USER']}")
    with connection.cursor() as cur:
        # Rolled back with the test's transaction.
        cur.execute("GRANT SELECT ON django_migrations TO drift_no_createdb")
        cur.execute("SET LOCAL ROLE drift_no_createdb")
        report = drift_report(refresh=True)
        cur.execute("RESET ROLE")

    assert [(f.code, f.severity) for f in report.findings] == [("drift_unavailable", "warning")]
    assert "may not create databases (CREATEDB)" in report.findings[0].message
    assert not report.computed


@pytest.mark.django_db
def test_pending_migrations_are_not_drift():
    # Unapplied inside the test's transaction: the live schema and django_migrations roll back with it.
    call_command("migrate", "schema_fixtures", "0002", verbosity=0)
    report = drift_report()

    assert ("schema_fixtures", "0003_remove_widget_note") not in applied_migrations()
    assert report.computed and report.findings == (), [f"{f.code} {f.object}" for f in report.findings]


@pytest.mark.django_db
def test_a_shadow_left_by_a_killed_run_is_dropped_by_the_next_one(planter):
    # One abandoned long ago (its web worker was killed mid-run), one another run may still be using.
    planter.sql("CREATE DATABASE schemaadmin_shadow_1000000000_deadbeef")
    recent = f"schemaadmin_shadow_{int(time.time())}_inflight"
    planter.sql(f"CREATE DATABASE {recent}")
    try:
        drift_report(refresh=True)
        assert shadow_databases() == [recent]
    finally:
        planter.sql("DROP DATABASE IF EXISTS schemaadmin_shadow_1000000000_deadbeef")
        planter.sql(f"DROP DATABASE {recent}")


def _unavailable_with_template1(change: str, undo: str) -> str:
    """Return the one finding's message of a drift check run while template1 holds change (undone after), as the
    embedded server's superuser; sessions on template1 are closed at once (one stops CREATE DATABASE)."""
    if settings.EMBEDDED_PGDATA is None:
        pytest.skip("needs the embedded server's superuser")

    def in_template1(statement: str) -> None:
        with psycopg.connect(
            host=connection.settings_dict["HOST"], user=EMBEDDED_SUPERUSER, dbname="template1", autocommit=True
        ) as admin:
            admin.execute(statement)

    in_template1(change)
    try:
        report = drift_report(refresh=True)
    finally:
        in_template1(undo)
    assert [(f.code, f.severity) for f in report.findings] == [("drift_unavailable", "warning")]
    assert shadow_databases() == []
    return report.findings[0].message


@pytest.mark.django_db
def test_a_template1_without_pgvector_is_a_finding_that_says_who_must_create_it():
    """As on a managed service whose administrator created vector in the database only: the replay's CREATE EXTENSION
    is refused, and the finding said so as a traceback's tail."""
    message = _unavailable_with_template1("DROP EXTENSION vector", "CREATE EXTENSION vector")
    assert "CREATE EXTENSION vector; in template1" in message and "Traceback" not in message, message


@pytest.mark.django_db
def test_a_migration_that_fails_in_the_replay_is_named_with_its_error_and_no_traceback():
    """The replay's child process, in a database of the test's own that already holds a table the first migration
    creates: it fails there. The finding named neither the migration nor the statement's error, only a traceback's
    last lines. (template1 is left alone: other tests' databases are made from it meanwhile.)"""
    from schemaadmin.pg.connection import own_connection
    from schemaadmin.pg.shadow import create_database, drop_database

    name = f"replay_fails_{uuid.uuid4().hex[:8]}"
    create_database(name)
    try:
        with own_connection(dbname=name) as db:
            db.execute("CREATE TABLE users (id int)")
        with pytest.raises(shadow.ShadowUnavailable) as failed:
            shadow._migrate_shadow(name, applied_migrations(), ["public"], using="default")
    finally:
        drop_database(name)
    message = str(failed.value)
    assert 'failed at schemaadmin.0001_initial: ProgrammingError: relation "users" already exists.' in message
    assert "Traceback" not in message and 'File "' not in message and "~~~" not in message, message


@pytest.mark.django_db
def test_a_replay_that_runs_out_of_time_is_a_clear_finding_and_leaves_no_database(settings):
    settings.SCHEMAADMIN = {"DRIFT_SHADOW_TIMEOUT_SECONDS": 0.01}
    report = drift_report(refresh=True)

    assert [(f.code, f.severity) for f in report.findings] == [("drift_unavailable", "warning")]
    assert "Replaying the migrations took longer than 0.01 s" in report.findings[0].message
    assert shadow_databases() == []


@pytest.mark.django_db
def test_an_index_redefined_by_hand_is_rebuilt_before_the_old_one_is_dropped(plant):
    findings = findings_while(
        plant,
        ["DROP INDEX public.widget_name", "CREATE INDEX widget_name ON public.schema_fixtures_widget (name DESC)"],
        ["DROP INDEX public.widget_name", "CREATE INDEX widget_name ON public.schema_fixtures_widget (name)"],
    )

    finding = findings["public.widget_name"]
    assert finding.code == "index_mismatch"
    # Queries keep an index throughout: the migrations' version is built under another name, then swapped in.
    build = "CREATE INDEX CONCURRENTLY widget_name_sa_new ON public.schema_fixtures_widget USING btree (name);"
    drop = "DROP INDEX CONCURRENTLY public.widget_name;"
    rename = "ALTER INDEX public.widget_name_sa_new RENAME TO widget_name;"
    assert build in finding.fix and drop in finding.fix and rename in finding.fix
    assert finding.fix.index(build) < finding.fix.index(drop) < finding.fix.index(rename)
    assert "SeparateDatabaseAndState(" in finding.fix
    assert list(findings) == ["public.widget_name"]


@pytest.mark.django_db
def test_a_column_type_changed_and_a_primary_key_lost_by_hand_are_errors(plant):
    plant.sql("ALTER TABLE public.schema_fixtures_widget ALTER COLUMN name TYPE varchar(200)")
    plant.sql("ALTER TABLE public.schema_fixtures_widget DROP CONSTRAINT schema_fixtures_widget_pkey")
    try:
        findings = by_object(drift_findings())
    finally:
        plant.sql(
            "ALTER TABLE public.schema_fixtures_widget ADD CONSTRAINT schema_fixtures_widget_pkey PRIMARY KEY (id)"
        )
        plant.sql("ALTER TABLE public.schema_fixtures_widget ALTER COLUMN name TYPE varchar(100)")

    name = findings["public.schema_fixtures_widget.name"]
    assert (name.code, name.severity) == ("column_mismatch", "critical")
    assert "type is character varying(200), migrations say character varying(100)" in name.message
    assert "ALTER TABLE public.schema_fixtures_widget ALTER COLUMN name TYPE character varying(100);" in name.fix

    key = findings["public.schema_fixtures_widget.schema_fixtures_widget_pkey"]
    assert (key.code, key.severity) == ("missing_constraint", "critical")
    assert "ADD CONSTRAINT schema_fixtures_widget_pkey PRIMARY KEY (id);" in key.fix
    assert len(findings) == 2  # the primary key's index is the constraint's, not reported twice


SQUASHED_IN_FULL = ["0001_initial", "0002_widget_name_index", "0003_remove_widget_note", "0002_squashed_0003"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("module", "applied", "replayed"),
    [
        ("squashed_migrations", ["0001_initial", "0002_widget_name_index"], ["0001_initial", "0002_widget_name_index"]),
        ("squashed_migrations", ["0001_initial"], ["0001_initial"]),
        # Applied in full with the replaced files on disk: those, as a database older than the squash ran them (a
        # squash Django cannot run stopped the replay, though no database ever ran it).
        ("squashed_migrations", SQUASHED_IN_FULL, SQUASHED_IN_FULL[:3]),
        ("squash_only", SQUASHED_IN_FULL, ["0001_initial", "0002_squashed_0003"]),  # the replaced files deleted
    ],
)
def test_a_squash_is_replayed_as_the_live_database_applied_it(settings, module, applied, replayed):
    """Applied in part, a squash's own migrations are replayed (the squash alone would replay nothing of it)."""
    from django.db.migrations.executor import MigrationExecutor

    from schemaadmin.services.schema.shadow import replay_plan

    settings.MIGRATION_MODULES = {"schema_fixtures": f"tests.schema_fixtures.{module}"}
    keys = [("schema_fixtures", name) for name in applied]
    plan = replay_plan(MigrationExecutor(connection), keys)
    assert [m.name for m, backwards in plan if m.app_label == "schema_fixtures" and not backwards] == replayed


@pytest.mark.django_db
def test_a_table_no_migration_creates_but_a_model_names_is_no_drop_suggestion(settings):
    """An app without migrations (migrate --run-syncdb made its tables): its tables are named, never to be dropped."""
    import dataclasses

    from schemaadmin.services.schema.drift_rules import schema_drift
    from schemaadmin.services.schema.model_tables import tables_outside_migrations

    settings.MIGRATION_MODULES = {"schema_fixtures": None}  # the fixture app, as if it had no migrations
    outside = tables_outside_migrations("public")
    assert outside["public", "schema_fixtures_widget"] == "belongs to app schema_fixtures, which has no migrations"
    assert ("public", "conversation_messages") not in outside and ("public", "schemaadmin_auditevent") not in outside
    # A model with managed = False (the project has one) and the many-to-many tables such models declare.
    assert "managed = False" in outside["public", "schemaadmin_accessrule"]
    assert "auth_user_groups" not in {table for _, table in outside}

    live = schema_snapshot(schemas=["public"])
    expected = dataclasses.replace(live, tables=tuple(t for t in live.tables if t.name != "schema_fixtures_widget"))
    [finding] = [f for f in schema_drift(live, expected, outside=outside) if "schema_fixtures_widget" in f.object]
    assert finding.code == "table_outside_migrations" and finding.severity.value == "info"
    assert "no migrations" in finding.message and "DROP" not in finding.fix
    # Without the app's name, the same table is one no migration explains, with the choice to drop it.
    [unexplained] = [f for f in schema_drift(live, expected) if "schema_fixtures_widget" in f.object]
    assert unexplained.code == "unexpected_table" and "DROP TABLE" in unexplained.fix


def test_models_in_a_schema_app_schemas_does_not_list_are_said_to_be_not_compared(db):
    """Their tables were skipped without a word: no finding, no card on the live schema."""
    from django.apps import apps
    from django.db import models as m

    class Invoice(m.Model):  # noqa: DJ008
        class Meta:
            app_label = "schema_fixtures"
            db_table = '"billing"."invoice"'

    try:
        (finding,) = [f for f in drift_report(replay=False).findings if f.code == "schema_not_compared"]
    finally:
        del apps.all_models["schema_fixtures"]["invoice"]
        apps.clear_cache()
    assert (finding.object, finding.severity) == ("billing", "info")
    assert "schema_fixtures.Invoice" in finding.message and "'billing' to SCHEMAADMIN['APP_SCHEMAS']" in finding.fix


def test_a_schema_made_outside_the_migrations_is_made_in_the_shadow_first(plant, monkeypatch, settings):
    """A model's db_table names a schema a DBA created by hand before migrating: the replay needs it too."""
    from types import SimpleNamespace

    from schemaadmin.pg.shadow import create_schemas, existing_schemas

    outside = SimpleNamespace(_meta=SimpleNamespace(db_table=f'"{plant.schema}"."ledger"'))
    elsewhere = SimpleNamespace(_meta=SimpleNamespace(db_table='"not_made_anywhere"."t"'))
    by_migration = SimpleNamespace(_meta=SimpleNamespace(db_table='"billing_made"."invoice"'))
    monkeypatch.setattr(model_tables.apps, "get_models", lambda **kwargs: [Widget, outside, elsewhere, by_migration])
    settings.MIGRATION_MODULES = {"schema_fixtures": "tests.schema_fixtures.schema_creating"}
    plant.sql("CREATE SCHEMA billing_made")
    try:
        # The live database has the first; the second it has not; the third a migration's RunSQL creates, so the
        # shadow must not have it before that migration runs (its CREATE SCHEMA would fail).
        assert model_tables.schemas_made_outside_migrations() == [plant.schema]
    finally:
        plant.sql("DROP SCHEMA billing_made")
    made = f"{plant.schema}_made"
    try:
        create_schemas([made, made])  # twice: a schema there already is left as it is
        assert existing_schemas([made]) == [made]
    finally:
        plant.sql(f"DROP SCHEMA IF EXISTS {made}")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "REINDEX INDEX public.widget_name",  # the index alone: it was left out of the live schema, a "missing_index"
        "LOCK TABLE public.schema_fixtures_widget IN ACCESS EXCLUSIVE MODE",  # its defaults waited for the lock
    ],
)
def test_a_table_another_session_holds_is_named_as_not_compared_not_as_drift(statement):
    with connection.cursor() as cur:
        cur.execute("SET lock_timeout = '5s'")  # a read that still waited fails the test instead of hanging it
    with holding(statement) as pid:
        findings = drift_findings()
    assert [(f.code, f.object, f.severity) for f in findings] == [
        ("table_locked", "public.schema_fixtures_widget", "info")
    ]
    assert f"held by pid {pid}" in findings[0].message and "not compared" in findings[0].message
    assert drift_findings() == []  # compared again once free


@pytest.mark.django_db
def test_a_partitioned_table_made_by_hand_is_one_finding_not_one_per_partition(plant):
    plant.sql("CREATE TABLE public.hand_events (id int, kind text) PARTITION BY RANGE (id)")
    plant.sql("CREATE TABLE public.hand_events_1 PARTITION OF public.hand_events FOR VALUES FROM (0) TO (10)")
    plant.sql(
        "CREATE TABLE public.hand_events_2 PARTITION OF public.hand_events FOR VALUES FROM (10) TO (20) "
        "PARTITION BY LIST (kind)"
    )
    plant.sql("CREATE TABLE public.hand_events_2a PARTITION OF public.hand_events_2 FOR VALUES IN ('a')")
    try:
        findings = by_object(drift_findings())
    finally:
        plant.sql("DROP TABLE public.hand_events")
    assert list(findings) == ["public.hand_events"]
    finding = findings["public.hand_events"]
    assert finding.code == "unexpected_table" and "with 3 partitions below it" in finding.message
    assert "DROP TABLE public.hand_events;" in finding.fix


def test_partitions_made_outside_the_migrations_of_a_table_they_create_are_one_info():
    def table(name, partition_of=None, partitioned=False):
        return TableInfo("public", name, partitioned, None, None, ("public", partition_of) if partition_of else None)

    def snapshot(*tables):
        return SchemaSnapshot(("public",), tables, (), (), (), (), ())

    expected = snapshot(table("ledger", partitioned=True))
    live = snapshot(
        table("ledger", partitioned=True),
        *(table(f"ledger_2026_{month:02}", "ledger") for month in range(1, 13)),
        table("ledger_old", "ledger", partitioned=True),
        table("ledger_old_a", "ledger_old"),
    )
    findings = schema_drift(live, expected)
    assert [(f.code, f.object, f.severity) for f in findings] == [
        ("partitions_outside_migrations", "public.ledger", "info")
    ]
    assert "has 14 partitions below it" in findings[0].message


def test_a_locked_partition_is_named_as_not_compared_and_its_table_as_compared():
    tables = (
        TableInfo("public", "ledger", True, None, None),
        TableInfo("public", "ledger_1", False, None, None, ("public", "ledger")),
    )
    held = LockedRelation(
        schema="public",
        name="ledger_1",
        kind="r",
        table_schema="public",
        table_name="ledger_1",
        ancestors=(("public", "ledger"),),
        holders=(42,),
        prepared=False,
        waiters=(),
        blockers=(),
    )
    live = SchemaSnapshot(("public",), tables, (), (), (), (), (), locked=(held,))
    (finding,) = schema_drift(live, SchemaSnapshot(("public",), tables, (), (), (), (), ()))
    assert finding.code == "table_locked"
    assert finding.message.startswith("Partition public.ledger_1 of public.ledger is locked by another session, held")
    assert finding.message.endswith("public.ledger itself is compared.")


def _tag_snapshot(constraints=(), indexes=(), enforcing=None):
    """A table "tag" with these constraints and unique indexes on name (enforcing: the constraint the indexes
    enforce, as the catalog says of a constraint's own index)."""
    from schemaadmin.pg.schema import ConstraintInfo, SchemaIndex

    def constraint(name, kind, definition, validated=True):
        return ConstraintInfo("public", "tag", name, kind, definition, validated, ("name",))

    def unique_index(name):
        definition = f"CREATE UNIQUE INDEX {name} ON public.tag USING btree (name)"
        return SchemaIndex(
            "public", "tag", name, definition, definition.replace(f" {name} ", " "), "btree", True, False, True,
            enforcing, ("name",), (), (0,), (None,), ("text_ops",), (True,), ("text_ops",), None, {},
        )  # fmt: skip

    return SchemaSnapshot(
        ("public",),
        (TableInfo("public", "tag", False, None, None),),
        (),
        tuple(unique_index(name) for name in indexes),
        tuple(constraint(*args) for args in constraints),
        (),
        (),
    )


def test_a_migration_s_check_added_again_not_valid_by_hand_is_fixed_by_validating_it():
    expected = _tag_snapshot([("tag_name_lt", "check", "CHECK ((length(name) < 50))")])
    live = _tag_snapshot([("tag_name_lt", "check", "CHECK ((length(name) < 50)) NOT VALID", False)])
    (finding,) = schema_drift(live, expected)
    assert (finding.code, finding.severity, finding.object) == (
        "constraint_mismatch",
        "warning",
        "public.tag.tag_name_lt",
    )
    assert "is NOT VALID: the rows from before it was added were never checked" in finding.message
    # Checking the old rows, not dropping the constraint and adding it again under ACCESS EXCLUSIVE.
    assert finding.fix.endswith("ALTER TABLE public.tag VALIDATE CONSTRAINT tag_name_lt;")
    assert "DROP CONSTRAINT" not in finding.fix


def test_a_unique_constraint_replaced_by_a_unique_index_of_its_name_is_fixed_by_adopting_the_index():
    expected = _tag_snapshot(
        [("tag_name_key", "unique", "UNIQUE (name)")], indexes=["tag_name_key"], enforcing="tag_name_key"
    )
    live = _tag_snapshot(indexes=["tag_name_key"])
    (finding,) = schema_drift(live, expected)  # not also an unexpected index, with its drop offered
    assert (finding.code, finding.object) == ("missing_constraint", "public.tag.tag_name_key")
    # ADD CONSTRAINT … UNIQUE (name) would fail on the index's name, and build a second index under a lock.
    assert finding.fix.endswith("ALTER TABLE public.tag ADD CONSTRAINT tag_name_key UNIQUE USING INDEX tag_name_key;")
    assert "has a unique index of that name" in finding.message
    # A deferrable one stays deferrable: adopted plain, the next comparison found a critical mismatch.
    deferred = _tag_snapshot(
        [("tag_name_key", "unique", "UNIQUE (name) DEFERRABLE INITIALLY DEFERRED")],
        indexes=["tag_name_key"],
        enforcing="tag_name_key",
    )
    (adopting,) = schema_drift(live, deferred)
    assert adopting.fix.endswith("UNIQUE USING INDEX tag_name_key DEFERRABLE INITIALLY DEFERRED;")
    lost = schema_drift(_tag_snapshot(), expected)  # no index of that name either: the constraint as written
    (constraint,) = [f for f in lost if f.code == "missing_constraint"]
    assert "ADD CONSTRAINT tag_name_key UNIQUE (name);" in constraint.fix and "USING INDEX" not in constraint.fix


def _drop_statement(fix: str) -> str:
    """Return the DROP statement an unexpected object's fix offers after its adoption."""
    return fix.split("Or drop it if nothing ", 1)[1].split(": ", 1)[1]


@pytest.mark.django_db
def test_triggers_and_functions_changed_by_hand_are_drift_and_their_fixes_put_back_the_migrations(plant):
    """conversation_messages' counts are kept by migration 0003's triggers: one dropped or disabled by hand stopped
    them without an error anywhere, and drift compared no trigger nor function."""
    before = schema_snapshot(triggers=True, functions=True)
    made = {f.name: f.definition for f in before.functions}["schemaadmin_apply_message_deltas"]
    deletes = {t.name: t.definition for t in before.triggers}["conversation_messages_counts_delete"]
    for statement in [
        "DROP TRIGGER conversation_messages_counts_delete ON public.conversation_messages",
        "ALTER TABLE public.conversation_messages DISABLE TRIGGER conversation_messages_counts_insert",
        made.replace("RETURN NULL;", "RETURN NULL; -- edited by hand"),
        "CREATE FUNCTION public.hand_made_touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
        "CREATE TRIGGER hand_made_touch BEFORE UPDATE ON public.conversations "
        "FOR EACH ROW EXECUTE FUNCTION public.hand_made_touch()",
    ]:
        plant.sql(statement)
    try:
        findings = by_object(drift_findings())
        deleting = findings["public.conversation_messages.conversation_messages_counts_delete"]
        assert deleting.code == "missing_trigger" and deleting.severity == "critical"
        assert deleting.fix.startswith("CREATE TRIGGER conversation_messages_counts_delete AFTER DELETE ON public.")
        inserting = findings["public.conversation_messages.conversation_messages_counts_insert"]
        assert inserting.code == "trigger_firing" and inserting.severity == "critical"
        assert "is disabled; the migrations leave it enabled" in inserting.message
        assert inserting.fix == (
            "ALTER TABLE public.conversation_messages ENABLE TRIGGER conversation_messages_counts_insert;"
        )
        edited = findings["public.schemaadmin_apply_message_deltas()"]
        assert edited.code == "function_mismatch" and "-- edited by hand" not in edited.fix
        assert edited.fix.startswith("Put back the migrations' definition: CREATE OR REPLACE FUNCTION public.")
        touch = findings["public.conversations.hand_made_touch"]
        assert touch.code == "unexpected_trigger" and touch.severity == "warning"
        assert _drop_statement(touch.fix) == "DROP TRIGGER IF EXISTS hand_made_touch ON public.conversations;"
        function = findings["public.hand_made_touch()"]
        assert function.code == "unexpected_function" and function.severity == "info"
        assert _drop_statement(function.fix) == "DROP FUNCTION public.hand_made_touch();"
        assert len(findings) == 5, list(findings)

        # Each fix, run as written, leaves no drift.
        for fix in (deleting.fix, inserting.fix, edited.fix.split(": ", 1)[1]):
            plant.sql(fix)
        plant.sql(_drop_statement(touch.fix))
        plant.sql(_drop_statement(function.fix))
        assert drift_findings() == []
    finally:
        plant.sql("DROP TRIGGER IF EXISTS hand_made_touch ON public.conversations")
        plant.sql("DROP FUNCTION IF EXISTS public.hand_made_touch()")
        plant.sql(made)  # CREATE OR REPLACE: the migration's body again
        plant.sql("DROP TRIGGER IF EXISTS conversation_messages_counts_delete ON public.conversation_messages")
        plant.sql(deletes)
        plant.sql("ALTER TABLE public.conversation_messages ENABLE TRIGGER conversation_messages_counts_insert")


def _with_views(*views):
    """An otherwise empty schema public holding these views."""
    return SchemaSnapshot(("public",), (), (), (), (), (), (), views=tuple(views))


def test_views_missing_unexpected_or_written_otherwise_are_drift_with_the_statement_that_puts_them_back():
    from schemaadmin.pg.schema_code import ViewInfo

    def view(name, query, *, materialized=False, options=()):
        return ViewInfo("public", name, materialized, f" SELECT {query};", options)

    made = view("recent chats", "1 AS a", options=("security_barrier=true",))
    live = _with_views(
        view("totals", "2 AS b"),  # the migrations write "1 AS b"
        view("daily", "3 AS c", materialized=True),  # made by hand
        view("weekly", "4 AS d"),  # the migrations make it materialized
    )
    expected = _with_views(
        made, view("totals", "1 AS b"), view("weekly", "4 AS d", materialized=True, options=("fillfactor=70",))
    )
    findings = by_object(schema_drift(live, expected))
    assert {name: (f.code, f.severity) for name, f in findings.items()} == {
        "public.recent chats": ("missing_view", "critical"),
        "public.daily": ("unexpected_view", "info"),
        "public.totals": ("view_mismatch", "warning"),
        "public.weekly": ("view_mismatch", "warning"),
    }
    missing = findings["public.recent chats"]
    assert "view public.recent chats, but" in missing.message and "whatever reads it fails" in missing.message
    assert missing.fix == 'CREATE VIEW public."recent chats" WITH (security_barrier=true) AS SELECT 1 AS a;'
    assert _drop_statement(findings["public.daily"].fix) == "DROP MATERIALIZED VIEW public.daily;"
    totals = findings["public.totals"]
    assert "its query is “SELECT 2 AS b”, the migrations' “SELECT 1 AS b”" in totals.message
    # A plain view is replaced, keeping its grants and the views on it.
    assert totals.fix == "Put back the migrations' query: CREATE OR REPLACE VIEW public.totals AS SELECT 1 AS b;"
    weekly = findings["public.weekly"]
    assert "it is a view, the migrations make a materialized view" in weekly.message
    assert "its options are (none), the migrations' (fillfactor=70)" in weekly.message
    assert weekly.fix == (
        "Put back the migrations' view, in one transaction: DROP VIEW public.weekly;\n"
        "CREATE MATERIALIZED VIEW public.weekly WITH (fillfactor=70) AS SELECT 4 AS d;"
    )
    assert schema_drift(expected, expected) == []


@pytest.mark.django_db
def test_views_made_by_hand_are_drift_an_extension_s_are_not_and_each_fix_runs(plant):
    """pg_stat_statements puts its views in public: they are the extension's, compared as the extension."""
    assert any(e.name == "pg_stat_statements" for e in schema_snapshot().extensions)
    plant.sql('CREATE VIEW public."hand made ""view""" WITH (check_option=local) AS SELECT id FROM public.users')
    plant.sql("CREATE MATERIALIZED VIEW public.hand_made_totals AS SELECT count(*) AS n FROM public.users")
    try:
        live = schema_snapshot(views=True)
        assert {v.name for v in live.views} == {'hand made "view"', "hand_made_totals"}
        findings = by_object(drift_findings())
        assert {name: f.code for name, f in findings.items()} == {
            'public."hand made ""view"""': "unexpected_view",
            "public.hand_made_totals": "unexpected_view",
        }
        from schemaadmin.services.schema.drift_code_rules import view_findings

        for view in live.views:
            plant.sql(_drop_statement(findings[view.qualified_name].fix))
        assert drift_findings() == []
        # Were the migrations to make them, each missing view's fix, run as written, makes the same view again.
        for finding in view_findings(_with_views(), live):
            assert finding.code == "missing_view"
            plant.sql(finding.fix)
        assert schema_snapshot(views=True).views == live.views
    finally:
        plant.sql('DROP VIEW IF EXISTS public."hand made ""view"""')
        plant.sql("DROP MATERIALIZED VIEW IF EXISTS public.hand_made_totals")
