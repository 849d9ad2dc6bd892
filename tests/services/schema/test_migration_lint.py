"""services/schema/lint.py: squawk and our rules on planted dangerous migrations, and on our own migrations."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from django.contrib.postgres.indexes import OpClass
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import connection, migrations, models
from django.db.models import Q
from django.db.models.functions import Cast
from pgvector.django import HalfVectorField, HnswIndex, IvfflatIndex, VectorField

from schemaadmin import models as product
from schemaadmin.services.findings import Severity
from schemaadmin.services.schema.lint import lint_loaded, lint_migrations, migration_findings
from schemaadmin.services.schema.sql import UnknownMigration, migration_loader
from schemaadmin.services.schema.squawk import squawk_binary
from tests.schema_fixtures.models import Widget
from tests.services.migration_planting import planted_migration

PRODUCT_TABLES = [
    m._meta.db_table
    for m in (
        product.ChatUser,
        product.Conversation,
        product.Message,
        product.ConversationPreference,
        product.KnowledgeBaseDocument,
        product.KnowledgeBaseChunk,
    )
]


def lint_planted(operations, *, app_label="schema_fixtures", **kwargs):
    loader = migration_loader()
    migration = planted_migration(loader, app_label, operations, **kwargs)
    return lint_loaded(loader, [migration])[0]


def codes(lint):
    return [f.code for f in lint.findings]


def only(lint, code):
    found = [f for f in lint.findings if f.code == code]
    assert len(found) == 1, (code, [(f.code, f.message) for f in lint.findings])
    return found[0]


@pytest.fixture
def big_widgets(db, settings):
    """50 widgets, analyzed so reltuples knows them, and a "big table" threshold of 20 rows."""
    Widget.objects.bulk_create(Widget(name=f"w{i}") for i in range(50))
    with connection.cursor() as cur:
        cur.execute("ANALYZE schema_fixtures_widget")
    settings.SCHEMAADMIN = {"MIGRATION_BIG_TABLE_ROWS": 20}


def test_a_raw_sql_operation_s_findings_point_at_their_own_statements(big_widgets):
    """They pointed at the operation's "-- Raw SQL operation" comment, lines away from what they are about."""
    lint = lint_planted(
        [
            migrations.RunSQL(
                "CREATE TABLE schema_fixtures_scratch (id int);\n"
                "-- a note the SQL page does not show\n"
                "CREATE INDEX widget_name_raw\n    ON schema_fixtures_widget (name);\n"
                "DROP TABLE schema_fixtures_scratch;",
                migrations.RunSQL.noop,
            ),
            migrations.RunSQL(["TRUNCATE schema_fixtures_widget"], migrations.RunSQL.noop),
            # Statements that begin alike, each body on the line after: each finding names its own statement.
            migrations.RunSQL(
                "ALTER TABLE schema_fixtures_widget\n    ADD COLUMN a int;\n"
                "ALTER TABLE schema_fixtures_widget\n    ALTER COLUMN name SET NOT NULL;",
                migrations.RunSQL.noop,
            ),
        ]
    )
    lines = lint.sql.lines
    not_null = only(lint, "set_not_null_on_big_table").line
    assert lines[not_null] == "ALTER TABLE schema_fixtures_widget" and "SET NOT NULL" in lines[not_null + 1]
    assert lines[only(lint, "index_on_big_table").line].startswith("CREATE INDEX widget_name_raw")
    assert lines[only(lint, "drop_table").line].startswith("DROP TABLE schema_fixtures_scratch")
    assert lines[only(lint, "truncate_table").line].startswith("TRUNCATE schema_fixtures_widget")


DANGEROUS = [
    migrations.AddIndex(model_name="widget", index=models.Index(fields=["name"], name="widget_name_planted")),
    migrations.AddField(model_name="widget", name="rank", field=models.IntegerField()),
    migrations.AddField(model_name="widget", name="score", field=models.IntegerField(null=True)),
    migrations.AlterField(model_name="widget", name="score", field=models.IntegerField()),
]


def test_a_dangerous_migration_on_a_big_table_is_flagged_by_squawk_and_by_our_rules(big_widgets):
    lint = lint_planted(DANGEROUS)
    assert lint.live and lint.sql.problem == ""
    lines = lint.sql.lines

    squawk = only(lint, "require-concurrent-index-creation")
    assert squawk.source == "squawk" and squawk.severity == "warning" and squawk.help
    # squawk writes Markdown code spans (`concurrently`); the page marks them up from these parts.
    assert ("concurrently", True) in squawk.help_parts
    assert "".join(text for text, _ in squawk.help_parts) == squawk.help.replace("`", "")
    assert lines[squawk.line].startswith('CREATE INDEX "widget_name_planted"')

    index = only(lint, "index_on_big_table")
    assert index.severity == "critical" and index.object == "schema_fixtures_widget"
    assert "about 50 rows" in index.message and "without CONCURRENTLY" in index.message
    assert "AddIndexConcurrently" in index.help and "atomic = False" in index.help
    # Our findings point at the operation's first statement, not at the comment Django heads it with.
    assert lines[index.line] == 'CREATE INDEX "widget_name_planted" ON "schema_fixtures_widget" ("name");'
    assert lines[index.line - 1] == "--" and lines[index.line - 2].startswith("-- Create index widget_name_planted")

    required = only(lint, "not_null_without_default")
    assert required.object == "schema_fixtures_widget.rank" and required.severity == "critical"
    assert "nullable" in required.help and "backfill" in required.help

    not_null = only(lint, "set_not_null_on_big_table")
    assert not_null.object == "schema_fixtures_widget.score"
    assert "NOT VALID" in not_null.help and "SET NOT NULL" in not_null.help
    assert lines[not_null.line] == 'ALTER TABLE "schema_fixtures_widget" ALTER COLUMN "score" SET NOT NULL;'

    assert lint.critical == 3 and lint.worst is Severity.CRITICAL
    assert [f.severity for f in lint.findings][:3] == ["critical", "critical", "critical"]  # worst first


def test_size_rules_wait_for_a_big_table(db):
    Widget.objects.bulk_create(Widget(name=f"w{i}") for i in range(50))
    with connection.cursor() as cur:
        cur.execute("ANALYZE schema_fixtures_widget")
    lint = lint_planted(DANGEROUS)  # the default threshold is far above 50 rows
    assert "index_on_big_table" not in codes(lint) and "set_not_null_on_big_table" not in codes(lint)
    assert "require-concurrent-index-creation" in codes(lint)
    # Any row at all makes a NOT NULL column without a default fail.
    assert "about 50 rows" in only(lint, "not_null_without_default").message


def test_indexes_built_concurrently_or_on_new_tables_are_fine(big_widgets):
    lint = lint_planted(
        [
            migrations.CreateModel(
                name="Gadget",
                fields=[("id", models.BigAutoField(primary_key=True)), ("label", models.TextField())],
            ),
            migrations.AddIndex(model_name="gadget", index=models.Index(fields=["label"], name="gadget_label")),
            AddIndexConcurrently(model_name="widget", index=models.Index(fields=["name"], name="widget_name_cc")),
        ],
        atomic=False,
    )
    assert "index_on_big_table" not in codes(lint)
    assert "require-concurrent-index-creation" not in codes(lint)


@pytest.mark.django_db
def test_a_concurrent_index_in_an_atomic_migration_is_critical_it_would_fail():
    concurrently = AddIndexConcurrently(model_name="widget", index=models.Index(fields=["name"], name="widget_cc"))
    lint = lint_planted([concurrently])  # atomic = True, Django's default: migrate refuses it
    (fails,) = [f for f in lint.findings if f.code == "migration_fails"]
    assert fails.severity == Severity.CRITICAL
    assert "cannot run as written" in fails.message and "Set atomic = False" in fails.message
    assert ".." not in fails.message  # Django's sentence ends with a full stop of its own


@pytest.mark.django_db
def test_an_ann_index_on_vector_above_2000_dimensions_is_an_error_and_a_halfvec_cast_is_not():
    lint = lint_planted(
        [
            migrations.AddIndex(
                model_name="knowledgebasechunk",
                index=HnswIndex(fields=["embedding"], name="chunks_plain_hnsw", opclasses=["vector_cosine_ops"]),
            ),
            migrations.AddIndex(
                model_name="knowledgebasechunk",
                index=IvfflatIndex(
                    OpClass(models.F("embedding"), name="vector_l2_ops"), name="chunks_plain_ivf", lists=100
                ),
            ),
            migrations.AddIndex(
                model_name="knowledgebasechunk",
                index=HnswIndex(
                    OpClass(Cast("embedding", HalfVectorField(dimensions=3072)), name="halfvec_cosine_ops"),
                    name="chunks_half_hnsw",
                ),
            ),
        ],
        app_label="schemaadmin",
    )
    ann = [f for f in lint.findings if f.code == "ann_index_too_many_dimensions"]
    assert [f.object for f in ann] == ["chunks_plain_hnsw", "chunks_plain_ivf"]
    assert all(f.severity == "critical" for f in ann)
    assert "vector(3072)" in ann[0].message and "2,000" in ann[0].message
    assert "halfvec" in ann[0].help and "Cast" in ann[0].help


@pytest.mark.django_db
def test_changing_embedding_dimensions_needs_a_rebuild_plan_or_an_exemption():
    change = [
        migrations.AlterField(
            model_name="knowledgebasechunk",
            name="embedding",
            field=VectorField(dimensions=1536, null=True, blank=True),
        )
    ]
    finding = only(lint_planted(change, app_label="schemaadmin"), "vector_dimensions_changed")
    assert finding.object == "knowledge_base_chunks.embedding" and finding.severity == "critical"
    assert "vector(3072) to vector(1536)" in finding.message
    assert "new nullable column" in finding.help and "AddIndexConcurrently" in finding.help

    reason = "The column is empty: embeddings are written by a job that has not run yet."
    exempted = lint_planted(change, app_label="schemaadmin", exemptions={"vector_dimensions_changed": reason})
    assert "vector_dimensions_changed" not in codes(exempted)
    assert [(f.code, f.exemption) for f in exempted.exempted] == [("vector_dimensions_changed", reason)]


@pytest.mark.django_db
def test_drops_name_the_table_or_column_and_replace_squawks_own_rule():
    column = lint_planted([migrations.RemoveField(model_name="widget", name="name")])
    finding = only(column, "drop_column")
    assert finding.object == "schema_fixtures_widget.name" and finding.severity == "warning"
    assert "SeparateDatabaseAndState" in finding.help
    assert "ban-drop-column" not in codes(column)

    table = lint_planted([migrations.DeleteModel(name="Widget")])
    assert only(table, "drop_table").object == "schema_fixtures_widget"
    assert "ban-drop-table" not in codes(table)


def test_squawk_missing_or_failing_is_a_finding_not_a_crash(big_widgets, settings, tmp_path):
    settings.SCHEMAADMIN = {"MIGRATION_BIG_TABLE_ROWS": 20, "SQUAWK_PATH": str(tmp_path / "no-squawk")}
    assert squawk_binary() is None
    lint = lint_planted(DANGEROUS)
    missing = only(lint, "squawk_unavailable")
    assert missing.severity == "warning" and "squawk-cli" in missing.help
    assert "index_on_big_table" in codes(lint)  # our rules still ran

    broken = tmp_path / "squawk"
    broken.write_text("#!/bin/sh\necho 'squawk exploded' >&2\nexit 2\n")
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    settings.SCHEMAADMIN = {"SQUAWK_PATH": str(broken)}
    failed = only(lint_planted(DANGEROUS), "squawk_failed")
    assert "squawk exploded" in failed.message


def test_squawk_runs_once_per_sql_text(db, settings, tmp_path):
    calls = tmp_path / "calls"
    wrapper = tmp_path / "squawk"
    wrapper.write_text(f'#!/bin/sh\necho run >> {calls}\nexec {squawk_binary()} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    settings.SCHEMAADMIN = {"SQUAWK_PATH": str(wrapper)}

    first = lint_planted(DANGEROUS, name="0099_cached")
    second = lint_planted(DANGEROUS, name="0099_cached")
    assert Path(calls).read_text().count("run") == 1
    assert codes(first) == codes(second) and "require-concurrent-index-creation" in codes(second)


@pytest.mark.django_db
def test_the_apply_page_gets_only_the_findings_that_count():
    assert migration_findings("schemaadmin", "0001_initial") == []  # all accepted by its exemptions
    lint = lint_migrations([("schemaadmin", "0001_initial")])[0]
    assert {f.code for f in lint.exempted} == {
        "prefer-text-field",
        "prefer-bigint-over-int",
        "product_table_without_grant",
    }
    assert not lint.live  # applied: today's table sizes say nothing about it
    with pytest.raises(UnknownMigration):
        migration_findings("schemaadmin", "0999_missing")


@pytest.mark.django_db(transaction=True)  # non-atomic migrations write their SQL only outside a transaction
def test_every_migration_we_ship_passes_its_own_lint_or_says_why_not():
    loader = migration_loader()
    ours = sorted(key for key in loader.disk_migrations if key[0] == "schemaadmin")
    assert len(ours) >= 8
    # As if every product table were huge: index additions on them must be concurrent.
    lints = lint_migrations(ours, assume_rows=dict.fromkeys(PRODUCT_TABLES, 10**9))
    for lint in lints:
        assert lint.sql.problem == "", lint.label
        assert lint.findings == (), [f"{lint.label}: {f.code} line {f.line}: {f.message}" for f in lint.findings]
        exemptions = getattr(loader.graph.nodes[(lint.app_label, lint.name)], "lint_exemptions", {})
        for code, reason in exemptions.items():
            assert len(reason) >= 40, f"{lint.label}: say why {code} is accepted"
            assert code in {f.code for f in lint.exempted}, f"{lint.label}: the exemption for {code} is stale"


@pytest.mark.django_db
def test_a_comment_only_change_is_no_type_change():
    """Django writes ALTER COLUMN … TYPE varchar(100) with the comment: squawk's rewrite alarm is set aside."""
    commented = lint_planted(
        [migrations.AlterField("widget", "name", models.CharField(max_length=100, db_comment="what it is called"))]
    )
    assert 'TYPE varchar(100);\nCOMMENT ON COLUMN "schema_fixtures_widget"."name"' in commented.sql.text
    assert "changing-column-type" not in codes(commented)
    set_aside = {f.code: f.exemption for f in commented.exempted}
    assert "the type stays varchar(100)" in set_aside["changing-column-type"]

    # A real change of type is still flagged.
    retyped = lint_planted([migrations.AlterField("widget", "name", models.CharField(max_length=50))])
    assert "changing-column-type" in codes(retyped)


@pytest.mark.django_db
def test_a_type_change_that_rewrites_a_big_table_is_critical():
    loader = migration_loader()
    big = {"schema_fixtures_widget": 50_000_000}
    narrowed = planted_migration(
        loader, "schema_fixtures", [migrations.AlterField("widget", "name", models.CharField(max_length=50))]
    )
    [lint] = lint_loaded(loader, [narrowed], assume_rows=big)
    rewrite = only(lint, "table_rewrite")
    assert rewrite.severity.value == "critical" and "varchar(100) to varchar(50)" in rewrite.message
    assert "50,000,000" in rewrite.message.replace(" ", ",").replace(" ", ",")
    [small] = lint_loaded(loader, [narrowed], assume_rows={"schema_fixtures_widget": 10})
    assert "table_rewrite" not in codes(small)  # a small table: squawk's warning says enough

    loader = migration_loader()  # the comment is the only change from the fixture's own varchar(100)
    commented = planted_migration(
        loader,
        "schema_fixtures",
        [migrations.AlterField("widget", "name", models.CharField(max_length=100, db_comment="a comment"))],
    )
    [lint] = lint_loaded(loader, [commented], assume_rows=big)
    assert "table_rewrite" not in codes(lint) and "changing-column-type" not in codes(lint)


def _lint_one(app_label, operations, rows):
    loader = migration_loader()
    [lint] = lint_loaded(loader, [planted_migration(loader, app_label, operations)], assume_rows=rows)
    return lint


@pytest.mark.django_db
def test_type_changes_are_judged_by_what_postgresql_rewrites():
    from pgvector.django import HalfVectorField

    big = {"knowledge_base_chunks": 50_000_000, "conversation_messages": 50_000_000, "auth_user_groups": 50_000_000}
    # vector(3072) to halfvec(3072): same dimensions, still every row rewritten.
    halved = _lint_one(
        "schemaadmin",
        [migrations.AlterField("knowledgebasechunk", "embedding", HalfVectorField(dimensions=3072, null=True))],
        big,
    )
    assert only(halved, "table_rewrite").object == "knowledge_base_chunks"
    # text to varchar without a length: binary coercible, no rewrite.
    unbounded = _lint_one("schemaadmin", [migrations.AlterField("message", "content", models.CharField())], big)
    assert "table_rewrite" not in codes(unbounded)
    # A primary key made bigint rewrites the tables whose foreign keys hold it (the join table of User.groups).
    widened_key = _lint_one(
        "auth", [migrations.AlterField("group", "id", models.BigAutoField(primary_key=True, serialize=False))], big
    )
    rewrites = {f.object for f in widened_key.findings if f.code == "table_rewrite"}
    assert "auth_user_groups" in rewrites
    assert "its primary key, referenced here" in next(
        f.message for f in widened_key.findings if f.object == "auth_user_groups"
    )


@pytest.mark.django_db
def test_a_comment_on_a_foreign_key_is_no_type_change():
    fk = models.ForeignKey(
        "schemaadmin.chatuser",
        on_delete=models.DB_CASCADE,
        related_name="conversations",
        db_index=False,
        db_comment="who owns it",
    )
    lint = _lint_one("schemaadmin", [migrations.AlterField("conversation", "user", fk)], {})
    assert "TYPE uuid" in lint.sql.text or "TYPE bigint" in lint.sql.text
    assert "changing-column-type" not in codes(lint)


@pytest.mark.django_db
def test_a_raw_sql_drop_names_the_schema_it_drops_from():
    sql = "DROP TABLE other.schema_fixtures_widget; ALTER TABLE other.t DROP COLUMN c"
    lint = _lint_one("schema_fixtures", [migrations.RunSQL(sql, migrations.RunSQL.noop)], {})
    assert only(lint, "drop_table").object == "other.schema_fixtures_widget"
    assert only(lint, "drop_column").object == "other.t.c"


def _found(operations, rows=None):
    lint = _lint_one("schema_fixtures", operations, rows or {"schema_fixtures_widget": 50_000_000})
    return {(f.code, f.severity.value) for f in lint.findings}


@pytest.mark.django_db
def test_what_other_projects_migrations_do_on_a_big_table():
    """Operations a sweep of third-party apps' migrations found unjudged (axes, celery-beat, allauth, procrastinate)."""
    blocking = ("index_on_big_table", "critical")
    assert blocking in _found([migrations.AlterUniqueTogether("widget", {("id", "name")})])
    assert blocking in _found([migrations.AlterIndexTogether("widget", {("id", "name")})])
    assert blocking not in _found([migrations.AlterUniqueTogether("widget", set())])  # removing one builds nothing

    check = models.CheckConstraint(condition=models.Q(name__gt=""), name="named")
    assert ("check_constraint_on_big_table", "critical") in _found([migrations.AddConstraint("widget", check)])
    raw_check = "ALTER TABLE schema_fixtures_widget ADD CONSTRAINT named CHECK (name <> '')"
    assert ("check_constraint_on_big_table", "critical") in _found([migrations.RunSQL(raw_check)])
    assert ("check_constraint_on_big_table", "critical") not in _found([migrations.RunSQL(raw_check + " NOT VALID")])

    retyped = "ALTER TABLE schema_fixtures_widget ALTER COLUMN name TYPE varchar(10)"
    assert ("table_rewrite", "critical") in _found([migrations.RunSQL(retyped)])

    volatile = models.UUIDField(null=True, db_default=models.Func(function="gen_random_uuid"))
    assert ("table_rewrite", "critical") in _found([migrations.AddField("widget", "u", volatile)])
    stable = models.DateTimeField(null=True, db_default=models.functions.Now())
    assert ("table_rewrite", "critical") not in _found([migrations.AddField("widget", "at", stable)])
    # squawk's "requires a table rewrite" for a function default is set aside when none of its functions is volatile
    assert not any(
        code == "adding-field-with-default" for code, _ in _found([migrations.AddField("widget", "at", stable)])
    )
    assert any(
        code == "adding-field-with-default" for code, _ in _found([migrations.AddField("widget", "u", volatile)])
    )
    stored = models.GeneratedField(
        expression=models.functions.Lower("name"), output_field=models.CharField(max_length=100), db_persist=True
    )
    assert ("table_rewrite", "critical") in _found([migrations.AddField("widget", "g", stored)])
    raw_stored = "ALTER TABLE schema_fixtures_widget ADD COLUMN g text GENERATED ALWAYS AS (lower(name)) STORED"
    assert ("table_rewrite", "critical") in _found([migrations.RunSQL(raw_stored)])


@pytest.mark.django_db
def test_a_runpython_that_does_nothing_forwards_backfills_nothing():
    nullable = migrations.AlterField("widget", "name", models.CharField(max_length=100, null=True))
    noop = _found([nullable, migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)])
    assert not any(code == "backfill_in_transaction" for code, _ in noop)
    real = _found([nullable, migrations.RunPython(_forwards, migrations.RunPython.noop)])
    assert ("backfill_in_transaction", "critical") in real


def _forwards(apps, schema_editor):
    """A data migration's forward step (the lint never runs it)."""


class _EveryTableBig(dict):
    def get(self, key, default=None):
        return 50_000_000


def _planted_codes(*operation_lists, app="schema_fixtures", rows=None):
    """Plant one migration per list (each after the last), lint the last one: its (code, object) pairs."""
    loader = migration_loader()
    planted = [planted_migration(loader, app, ops, name=f"009{i}_planted") for i, ops in enumerate(operation_lists)]
    big = {"schema_fixtures_widget": 50_000_000}
    [lint] = lint_loaded(loader, planted[-1:], assume_rows=big if rows is None else rows)
    return {(f.code, f.object) for f in lint.findings}, lint


@pytest.mark.django_db
@pytest.mark.parametrize("new_type", ["varchar(200)", "text", "varchar"])
def test_a_raw_sql_type_change_that_widens_rewrites_nothing(new_type):
    sql = f"ALTER TABLE schema_fixtures_widget ALTER COLUMN name TYPE {new_type}"  # from varchar(100)
    found, _ = _planted_codes([migrations.RunSQL(sql, migrations.RunSQL.noop)])
    assert ("table_rewrite", "schema_fixtures_widget") not in found
    using, _ = _planted_codes([migrations.RunSQL(sql + " USING name::text", migrations.RunSQL.noop)])
    assert ("table_rewrite", "schema_fixtures_widget") in using  # a USING expression always rewrites


@pytest.mark.django_db
def test_more_rewrites_and_non_rewrites_postgresql_decides():
    from django.contrib.postgres.fields import ArrayField
    from django.contrib.postgres.functions import RandomUUID

    rewrite = ("table_rewrite", "schema_fixtures_widget")
    template_only = migrations.AddField("widget", "u", models.UUIDField(null=True, db_default=RandomUUID()))
    assert rewrite in _planted_codes([template_only])[0]
    raw_default = "ALTER TABLE schema_fixtures_widget ADD COLUMN u uuid DEFAULT gen_random_uuid()"
    assert rewrite in _planted_codes([migrations.RunSQL(raw_default, migrations.RunSQL.noop)])[0]
    stable_default = "ALTER TABLE schema_fixtures_widget ADD COLUMN at timestamptz DEFAULT statement_timestamp()"
    assert rewrite not in _planted_codes([migrations.RunSQL(stable_default, migrations.RunSQL.noop)])[0]

    add = [migrations.AddField("widget", "tags", ArrayField(models.IntegerField(), size=3, null=True))]
    resized = [migrations.AlterField("widget", "tags", ArrayField(models.IntegerField(), size=5, null=True))]
    assert rewrite not in _planted_codes(add, resized)[0]  # an array's size is not part of its type

    user_key = migrations.AlterField("user", "id", models.BigAutoField(primary_key=True, serialize=False))
    found, _ = _planted_codes([user_key], app="auth", rows=_EveryTableBig())
    rewrites = {obj for code, obj in found if code == "table_rewrite"}
    assert {"auth_user", "auth_user_groups", "auth_user_user_permissions"} <= rewrites


@pytest.mark.django_db
def test_a_unique_constraint_added_by_alter_table_says_reads_wait_too():
    _, together = _planted_codes([migrations.AlterUniqueTogether("widget", {("id", "name")})])
    assert "reads and writes of the table wait" in only(together, "index_on_big_table").message
    _, indexed = _planted_codes([migrations.AlterIndexTogether("widget", {("id", "name")})])
    assert "writes to the table wait" in only(indexed, "index_on_big_table").message
    # Django writes a covering, operator-class, partial or expression unique constraint as CREATE UNIQUE INDEX.
    for options in ({"include": ["id"]}, {"opclasses": ["varchar_pattern_ops"]}, {"condition": Q(id__gt=0)}):
        unique = models.UniqueConstraint(fields=["name"], name="widget_name_unique", **options)
        _, as_index = _planted_codes([migrations.AddConstraint("widget", unique)])
        message = only(as_index, "index_on_big_table").message
        assert "writes to the table wait" in message and "reads and writes" not in message, options
        assert "CREATE UNIQUE INDEX" in as_index.sql.text
    plain = models.UniqueConstraint(fields=["name"], name="widget_name_unique")
    _, by_alter = _planted_codes([migrations.AddConstraint("widget", plain)])
    assert "reads and writes of the table wait" in only(by_alter, "index_on_big_table").message


@pytest.mark.django_db
def test_a_backfill_before_the_schema_change_is_not_held_under_its_lock():
    """axes.0007's shape: dedupe rows, then add the unique constraint; the exclusive lock comes after the backfill."""
    backfill = migrations.RunPython(_forwards, migrations.RunPython.noop, hints={"model_name": "widget"})
    together = migrations.AlterUniqueTogether("widget", {("id", "name")})
    _, first = _planted_codes([backfill, together])
    assert only(first, "backfill_in_transaction").severity.value == "warning"
    _, after = _planted_codes([together, backfill])
    assert only(after, "backfill_in_transaction").severity.value == "critical"
    # The same within one RunSQL: its statements run in order, each a step.
    update = "UPDATE schema_fixtures_widget SET name = upper(name)"
    retype = "ALTER TABLE schema_fixtures_widget ALTER COLUMN name TYPE varchar(50)"
    _, one_first = _planted_codes([migrations.RunSQL([update, retype], migrations.RunSQL.noop)])
    assert only(one_first, "backfill_in_transaction").severity.value == "warning"
    _, one_after = _planted_codes([migrations.RunSQL([retype, update], migrations.RunSQL.noop)])
    assert only(one_after, "backfill_in_transaction").severity.value == "critical"


@pytest.mark.django_db
def test_a_comment_on_a_foreign_key_named_without_its_app_is_no_type_change():
    add = [migrations.AddField("widget", "parent", models.ForeignKey("widget", models.CASCADE, null=True))]
    commented = [
        migrations.AlterField(
            "widget",
            "parent",
            models.ForeignKey("schema_fixtures.widget", models.CASCADE, null=True, db_comment="the parent"),
        )
    ]
    found, lint = _planted_codes(add, commented)
    assert 'ALTER COLUMN "parent_id" TYPE bigint' in lint.sql.text  # Django writes the same type with the comment
    assert not any(code == "changing-column-type" for code, _ in found)
    assert "changing-column-type" in {f.code for f in lint.exempted}


@pytest.mark.django_db
def test_a_foreign_key_added_to_a_big_table_without_not_valid_is_critical():
    key = ("foreign_key_on_big_table", "schema_fixtures_widget")
    parent = models.ForeignKey("schema_fixtures.widget", models.CASCADE, null=True, default=1, related_name="+")
    found, lint = _planted_codes([migrations.AddField("widget", "parent", parent)])
    assert key in found and "NOT VALID" in only(lint, "foreign_key_on_big_table").help
    assert "adding-foreign-key-constraint" not in codes(lint)  # ours says it with the size, squawk's is set aside
    # The key comes in the ADD COLUMN Django writes for the field: that statement's lock stops reads too.
    assert 'ADD COLUMN "parent_id" bigint DEFAULT 1 NULL CONSTRAINT' in lint.sql.text
    assert "reads and writes of this table wait" in only(lint, "foreign_key_on_big_table").message
    # A key to an integer primary key (auth_user's) is an integer column: squawk's "prefer bigint" is no choice here.
    gadget = migrations.CreateModel("Gadget", [("id", models.AutoField(primary_key=True))])
    to_gadget = models.ForeignKey("schema_fixtures.gadget", models.CASCADE, null=True, related_name="+")
    found, lint = _planted_codes([gadget], [migrations.AddField("widget", "gadget", to_gadget)])
    assert 'ADD COLUMN "gadget_id" integer NULL' in lint.sql.text
    assert "prefer-bigint-over-int" not in codes(lint)
    assert "prefer-bigint-over-int" in {f.code for f in lint.exempted}
    unconstrained = models.ForeignKey(
        "schema_fixtures.widget", models.CASCADE, null=True, related_name="+", db_constraint=False
    )
    assert key not in _planted_codes([migrations.AddField("widget", "parent", unconstrained)])[0]

    raw = "ALTER TABLE schema_fixtures_widget ADD CONSTRAINT w_fk FOREIGN KEY (id) REFERENCES auth_user (id)"
    assert key in _planted_codes([migrations.RunSQL(raw, migrations.RunSQL.noop)])[0]
    assert key not in _planted_codes([migrations.RunSQL(raw + " NOT VALID", migrations.RunSQL.noop)])[0]
    column = "ALTER TABLE schema_fixtures_widget ADD COLUMN owner_id int DEFAULT 1 REFERENCES auth_user (id)"
    assert key in _planted_codes([migrations.RunSQL(column, migrations.RunSQL.noop)])[0]


@pytest.mark.django_db
def test_a_foreign_key_added_with_a_column_of_nulls_reads_no_row_and_is_not_flagged():
    key = ("foreign_key_on_big_table", "schema_fixtures_widget")
    nullable = models.ForeignKey("schema_fixtures.widget", models.SET_NULL, null=True, related_name="+")
    assert key not in _planted_codes([migrations.AddField("widget", "parent", nullable)])[0]
    column = "ALTER TABLE schema_fixtures_widget ADD COLUMN owner_id int{} REFERENCES auth_user (id)"
    assert key not in _planted_codes([migrations.RunSQL(column.format(""), migrations.RunSQL.noop)])[0]
    # Any DEFAULT clause, NULL too, makes PostgreSQL read every row for the key.
    assert key in _planted_codes([migrations.RunSQL(column.format(" DEFAULT NULL"), migrations.RunSQL.noop)])[0]
    # What the rule rests on: PostgreSQL scans the table for the key only when the new column has values.
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE keyed AS SELECT g AS id FROM generate_series(1, 1000) AS g")
        cur.execute("ALTER TABLE keyed ADD PRIMARY KEY (id)")
        cur.execute("CREATE TEMP TABLE referencing AS SELECT g AS id FROM generate_series(1, 1000) AS g")
        scans = "SELECT seq_scan FROM pg_stat_xact_all_tables WHERE relid = 'referencing'::regclass"
        cur.execute(scans)
        before = cur.fetchone()[0]
        cur.execute("ALTER TABLE referencing ADD COLUMN k int REFERENCES keyed (id)")
        cur.execute(scans)
        assert cur.fetchone()[0] == before
        cur.execute("ALTER TABLE referencing ADD COLUMN j int DEFAULT NULL REFERENCES keyed (id)")
        cur.execute(scans)
        assert cur.fetchone()[0] > before


@pytest.mark.django_db
def test_validating_in_the_transaction_that_added_the_constraint_is_no_help():
    code = ("validation_under_lock", "schema_fixtures_widget")
    add = "ALTER TABLE schema_fixtures_widget ADD CONSTRAINT named CHECK (name <> '') NOT VALID"
    validate = "ALTER TABLE schema_fixtures_widget VALIDATE CONSTRAINT named"
    together, _ = _planted_codes([migrations.RunSQL(add), migrations.RunSQL(validate)])
    assert code in together and ("check_constraint_on_big_table", "schema_fixtures_widget") not in together
    apart, _ = _planted_codes([migrations.RunSQL(add)], [migrations.RunSQL(validate)])  # the recipe: two migrations
    assert code not in apart


@pytest.mark.django_db
def test_a_migration_whose_state_cannot_be_built_says_so_and_its_children_are_still_linted():
    """An operation on a model no migration created (a hand-edited file): its SQL and our rules say why, no crash."""
    loader = migration_loader()
    ghost = migrations.AddField("ghost", "note", models.TextField(null=True))
    broken = planted_migration(loader, "schema_fixtures", [ghost], name="0098_ghost")
    child = planted_migration(loader, "schema_fixtures", [migrations.RunSQL("SELECT 1", migrations.RunSQL.noop)])
    assert child.dependencies == [("schema_fixtures", "0098_ghost")]

    linted = lint_loaded(loader, [broken, child])

    assert "could not write the SQL of schema_fixtures.0098_ghost" in linted[0].sql.problem
    assert "rules_failed" in codes(linted[0])
    # migrate would fail on it too: a critical finding, never "lint clean"
    (fails,) = [f for f in linted[0].findings if f.code == "migration_fails"]
    assert fails.severity == Severity.CRITICAL and "the migrations before it do not make" in fails.message
    assert linted[1].sql.problem  # its start state needs the broken one's, as sqlmigrate would find
    assert "rules_failed" in codes(linted[1])


def test_a_model_whose_db_table_names_its_schema_is_sized_like_any_other(plant, settings):
    """db_table = '"schema"."table"' (Django passes it through quoted): its rows are read, so the size rules hold."""
    settings.SCHEMAADMIN = {"MIGRATION_BIG_TABLE_ROWS": 20}
    plant.table("remote", "id bigint PRIMARY KEY, label text", rows=300, fill="i, 'l' || i")
    plant.sql(f"ANALYZE {plant.schema}.remote")
    fields = [("id", models.BigAutoField(primary_key=True)), ("label", models.TextField())]
    remote = migrations.CreateModel("Remote", fields, options={"db_table": f'"{plant.schema}"."remote"'})
    loader = migration_loader()
    planted_migration(loader, "schema_fixtures", [migrations.SeparateDatabaseAndState(state_operations=[remote])])
    index = migrations.AddIndex("remote", models.Index(fields=["label"], name="remote_label"))
    [lint] = lint_loaded(loader, [planted_migration(loader, "schema_fixtures", [index], name="0100_remote_index")])
    assert "index_on_big_table" in codes(lint), [(f.code, f.message) for f in lint.findings]
    assert "about 300 rows" in only(lint, "index_on_big_table").message


@pytest.mark.parametrize(
    ("new", "says"),
    [
        (models.IntegerField(), "It fails, and the migration with it, if any row holds NULL there."),
        (models.IntegerField(default=0), "Django first sets every NULL row to the field's default"),
        (models.IntegerField(db_default=0), "Django first sets every NULL row to the field's default"),
    ],
)
def test_a_column_made_not_null_says_it_fails_on_nulls_or_what_django_runs_first(big_widgets, new, says):
    lint = lint_planted(
        [
            migrations.AddField(model_name="widget", name="score", field=models.IntegerField(null=True)),
            migrations.AlterField(model_name="widget", name="score", field=new),
        ]
    )
    finding = only(lint, "set_not_null_on_big_table")
    assert says in finding.message and "about 50 rows" in finding.message
    if "default" in says:  # what Django writes: the UPDATE of the NULL rows, before SET NOT NULL
        assert re.search(r'UPDATE "schema_fixtures_widget" SET "score" = .* WHERE "score" IS NULL', lint.sql.text)


def test_a_finding_about_a_column_named_in_quotes_points_at_its_own_statement(big_widgets):
    """db_column='"Level"' is written as is by Django (quoting once is enough): the finding named the operation's
    first statement (SET DEFAULT) because the lint looked for the name quoted twice."""
    column = '"Level"'
    lint = lint_planted(
        [
            migrations.AddField(
                model_name="widget", name="level", field=models.IntegerField(null=True, db_column=column)
            ),
            migrations.AlterField(
                model_name="widget", name="level", field=models.IntegerField(default=0, db_column=column)
            ),
        ]
    )
    line = lint.sql.lines[only(lint, "set_not_null_on_big_table").line]
    assert line == 'ALTER TABLE "schema_fixtures_widget" ALTER COLUMN "Level" SET NOT NULL;', lint.sql.lines


def test_a_collation_changed_alone_rewrites_no_row_but_rebuilds_the_column_s_index(big_widgets):
    """squawk said the table is rewritten (changing-column-type) and asked for text (prefer-text-field)."""
    handle = {"max_length": 50, "null": True, "db_index": True}
    lint = lint_planted(
        [
            migrations.AddField(model_name="widget", name="handle", field=models.CharField(**handle)),
            migrations.AlterField(
                model_name="widget", name="handle", field=models.CharField(**handle, db_collation="C")
            ),
        ],
        name="0100_collation",
    )
    assert not {"changing-column-type", "prefer-text-field"} & set(codes(lint)), codes(lint)
    rebuilt = [f for f in lint.findings if f.code == "index_on_big_table" and "new collation" in f.message]
    assert len(rebuilt) == 1 and "reads and writes of the table wait" in rebuilt[0].message
    set_aside = {f.code: f.exemption for f in lint.exempted}
    assert "only its collation changes" in set_aside["changing-column-type"], set_aside


def test_sql_the_parser_refuses_is_one_syntax_error_not_one_per_statement(db):
    """Django writes db_column='with"quote' unescaped: squawk found a syntax error in every statement after it."""
    column = 'with"quote'
    lint = lint_planted(
        [
            migrations.AddField(model_name="widget", name="q", field=models.IntegerField(null=True, db_column=column)),
            migrations.AddIndex(model_name="widget", index=models.Index(fields=["q"], name="widget_q")),
            migrations.AlterField(
                model_name="widget", name="q", field=models.IntegerField(null=True, db_column=column, db_comment="q")
            ),
        ]
    )
    (error,) = [f for f in lint.findings if f.code == "syntax-error"]
    assert error.severity == "critical" and "more syntax errors follow it" in error.message


def _remote_model(plant, name, fields):
    """A migration telling Django's state about plant's table name (db_table naming its schema), touching nothing."""
    model = migrations.CreateModel(name.title(), fields, options={"db_table": f'"{plant.schema}"."{name}"'})
    return migrations.SeparateDatabaseAndState(state_operations=[model])


def test_a_partitioned_table_is_sized_by_its_partitions_and_refuses_a_concurrent_index(
    plant, settings, transactional_db
):
    """autovacuum never analyzes a partitioned table: its rows are its partitions'. CREATE INDEX CONCURRENTLY on it
    fails, and so would the migration."""
    settings.SCHEMAADMIN = {"MIGRATION_BIG_TABLE_ROWS": 100}
    s = plant.schema
    plant.sql(f"CREATE TABLE {s}.events (id bigint NOT NULL, kind int) PARTITION BY RANGE (id)")
    plant.sql(f"CREATE TABLE {s}.events_1 PARTITION OF {s}.events FOR VALUES FROM (0) TO (200)")
    plant.sql(f"CREATE TABLE {s}.events_2 PARTITION OF {s}.events FOR VALUES FROM (200) TO (400)")
    plant.sql(f"INSERT INTO {s}.events SELECT i, i % 7 FROM generate_series(1, 399) AS i")  # noqa: S608
    plant.sql(f"ANALYZE {s}.events_1, {s}.events_2")
    fields = [("id", models.BigIntegerField(primary_key=True)), ("kind", models.IntegerField(null=True))]
    loader = migration_loader()
    planted_migration(loader, "schema_fixtures", [_remote_model(plant, "events", fields)], name="0099_events")
    index = models.Index(fields=["kind"], name="events_kind")
    retyped = migrations.AlterField("events", "kind", models.BigIntegerField(null=True))
    blocking = planted_migration(
        loader, "schema_fixtures", [migrations.AddIndex("events", index), retyped], name="0100_blocking"
    )
    concurrent = planted_migration(
        loader, "schema_fixtures", [AddIndexConcurrently("events", index)], name="0101_concurrent", atomic=False
    )
    plant.sql(f"CREATE INDEX events_at ON {s}.events (id)")
    dropped = planted_migration(
        loader, "schema_fixtures", [RemoveIndexConcurrently("events", "events_at")], name="0101_drop", atomic=False
    )
    raw = f"CREATE INDEX CONCURRENTLY events_kind_raw ON {s}.events (kind)"
    raw_concurrent = planted_migration(
        loader, "schema_fixtures", [migrations.RunSQL(raw, migrations.RunSQL.noop)], name="0102_raw", atomic=False
    )
    linted = lint_loaded(loader, [blocking, concurrent, raw_concurrent, dropped])
    assert {"index_on_big_table", "table_rewrite"} <= set(codes(linted[0])), [f.code for f in linted[0].findings]
    assert "about 399 rows" in only(linted[0], "index_on_big_table").message
    for lint in linted[1:]:
        fails = only(lint, "migration_fails")
        assert fails.severity is Severity.CRITICAL and "partitioned table" in fails.message
        assert "ATTACH PARTITION" in fails.help
    with pytest.raises(Exception, match="cannot create index on partitioned table"):  # what the rule says
        plant.sql(raw)
    with pytest.raises(Exception, match="concurrently"):
        plant.sql(f"DROP INDEX CONCURRENTLY {s}.events_at")
    # On a plain table the same concurrent build is fine.
    plant.table("plain", "id bigint PRIMARY KEY, kind int", rows=10, fill="i, i")
    plain_fields = [("id", models.BigIntegerField(primary_key=True)), ("kind", models.IntegerField(null=True))]
    planted_migration(loader, "schema_fixtures", [_remote_model(plant, "plain", plain_fields)], name="0103_plain")
    on_plain = AddIndexConcurrently("plain", models.Index(fields=["kind"], name="plain_kind"))
    [lint] = lint_loaded(
        loader, [planted_migration(loader, "schema_fixtures", [on_plain], name="0104_plain_index", atomic=False)]
    )
    assert "migration_fails" not in codes(lint)


def test_raw_sql_on_a_table_named_with_its_schema_is_sized_there(plant, settings):
    settings.SCHEMAADMIN = {"MIGRATION_BIG_TABLE_ROWS": 20}
    s = plant.schema
    plant.table("thing", "id bigint PRIMARY KEY, v int", rows=300, fill="i, i")
    plant.sql(f"ANALYZE {s}.thing")
    raw = f"CREATE INDEX thing_v ON {s}.thing (v); ALTER TABLE {s}.thing ALTER COLUMN v SET NOT NULL"
    loader = migration_loader()
    [lint] = lint_loaded(loader, [planted_migration(loader, "schema_fixtures", [migrations.RunSQL(raw, "")])])
    assert "index_on_big_table" in codes(lint), [(f.code, f.message) for f in lint.findings]
    assert "about 300 rows" in only(lint, "index_on_big_table").message
    assert "set_not_null_on_big_table" in codes(lint)


class _Opaque(migrations.operations.base.Operation):
    """A custom operation that runs its SQL through the connection itself: Django cannot write it down."""

    reduces_to_sql = False
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        schema_editor.connection.cursor().execute("ALTER TABLE schema_fixtures_widget ALTER COLUMN name TYPE text")

    def describe(self):
        return "Retype widget names by hand"


class _Raising(_Opaque):
    reduces_to_sql = True

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        raise RuntimeError("needs a live lookup of the shard map")

    def describe(self):
        return "Move widgets to their shard"


@pytest.mark.django_db
def test_an_operation_django_cannot_write_as_sql_is_never_lint_clean():
    _, lint = _planted_codes([_Opaque()])
    assert "CANNOT BE WRITTEN AS SQL" in lint.sql.text
    finding = only(lint, "sql_unwritten")
    assert finding.severity is Severity.WARNING and "Retype widget names by hand" in finding.message
    # A RunPython is what everyone expects to be Python: its own rules apply, not this one.
    _, lint = _planted_codes([migrations.RunPython(lambda apps, schema_editor: None, migrations.RunPython.noop)])
    assert "sql_unwritten" not in codes(lint)


@pytest.mark.django_db
def test_an_operation_that_raises_while_its_sql_is_written_is_named_not_blamed_on_other_migrations():
    _, lint = _planted_codes([migrations.RunSQL("SELECT 1", migrations.RunSQL.noop), _Raising()])
    problem = lint.sql.problem
    assert "its operation 2 (Move widgets to their shard) raised RuntimeError" in problem
    assert "needs a live lookup of the shard map" in problem and "apply those first" not in problem
    assert only(lint, "sql_unwritten").severity is Severity.WARNING


@pytest.mark.django_db
@pytest.mark.parametrize("atomic", [True, False], ids=["atomic", "atomic = False"])
def test_a_constraint_added_not_valid_reads_nothing_and_its_validation_beside_it_is_under_its_lock(atomic):
    """Django's AddConstraintNotValid was judged as a CHECK added at once (critical: "checks every row"), and the
    ValidateConstraint after it in the same transaction was not judged at all."""
    from django.contrib.postgres.operations import AddConstraintNotValid, ValidateConstraint

    check = models.CheckConstraint(condition=models.Q(id__gte=0), name="widget_id_positive")
    operations = [AddConstraintNotValid("widget", check), ValidateConstraint("widget", "widget_id_positive")]
    loader = migration_loader()
    migration = planted_migration(loader, "schema_fixtures", operations, atomic=atomic)
    (result,) = lint_loaded(loader, [migration], assume_rows={"schema_fixtures_widget": 10**9})
    assert "check_constraint_on_big_table" not in {f.code for f in result.findings}
    under_lock = [f for f in result.findings if f.code == "validation_under_lock"]
    if atomic:
        assert [f.severity for f in under_lock] == ["critical"]
        assert "VALIDATE CONSTRAINT" in result.sql.text.splitlines()[under_lock[0].line]
    else:  # each statement on its own: VALIDATE takes SHARE UPDATE EXCLUSIVE, reads and writes go on
        assert under_lock == []


def _fill_widgets(apps, schema_editor):
    """A data migration's body (never run here: the lint reads the operation)."""


@pytest.mark.django_db
def test_a_run_python_marked_atomic_false_in_an_atomic_migration_still_backfills_under_the_lock():
    # Migration.apply runs every operation of an atomic migration in its transaction on PostgreSQL: the flag only
    # matters in a non-atomic migration. The lint took it at its word and said nothing.
    operations = [
        migrations.RunSQL("ALTER TABLE schema_fixtures_widget ADD COLUMN n int", migrations.RunSQL.noop),
        migrations.RunPython(_fill_widgets, migrations.RunPython.noop, atomic=False, hints={"model_name": "widget"}),
    ]
    loader = migration_loader()
    verdicts = {}
    for atomic in (True, False):
        migration = planted_migration(loader, "schema_fixtures", operations, atomic=atomic, name=f"0099_{atomic}")
        (result,) = lint_loaded(loader, [migration], assume_rows={"schema_fixtures_widget": 10**9})
        verdicts[atomic] = [(f.code, f.severity) for f in result.findings if f.code == "backfill_in_transaction"]
    assert verdicts[True] == [("backfill_in_transaction", Severity.CRITICAL)]
    assert verdicts[False] == []  # each statement on its own: the fill runs after the ADD COLUMN's lock is gone


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sql", "atomic", "fails"),
    [
        # A list item is sent as one text, run by PostgreSQL as one transaction block, whatever the migration's atomic.
        (
            [
                "CREATE INDEX CONCURRENTLY w_a ON schema_fixtures_widget (id); CREATE INDEX CONCURRENTLY w_b ON "
                "schema_fixtures_widget (name)"
            ],
            False,
            True,
        ),
        # A string is split by Django into its statements, each sent alone.
        (
            "CREATE INDEX CONCURRENTLY w_a ON schema_fixtures_widget (id); CREATE INDEX CONCURRENTLY w_b ON "
            "schema_fixtures_widget (name)",
            False,
            False,
        ),
        (["CREATE INDEX CONCURRENTLY w_a ON schema_fixtures_widget (id)"], False, False),
        ("VACUUM ANALYZE schema_fixtures_widget", True, True),  # plain VACUUM cannot run in a transaction either
        ("VACUUM ANALYZE schema_fixtures_widget", False, False),
        ("ANALYZE schema_fixtures_widget", True, False),
    ],
    ids=[
        "list item of two, non-atomic",
        "string of two, non-atomic",
        "list item of one",
        "VACUUM, atomic",
        "VACUUM, non-atomic",
        "ANALYZE, atomic",
    ],
)
def test_what_postgresql_refuses_in_a_transaction_block_fails_the_migration_where_it_runs_in_one(sql, atomic, fails):
    loader = migration_loader()
    migration = planted_migration(
        loader, "schema_fixtures", [migrations.RunSQL(sql, migrations.RunSQL.noop)], atomic=atomic
    )
    (result,) = lint_loaded(loader, [migration], assume_rows={"schema_fixtures_widget": 10})
    failing = [f for f in result.findings if f.code == "migration_fails"]
    assert bool(failing) is fails, [f.message for f in result.findings]
    if fails:
        assert all("transaction block" in f.message for f in failing)


@pytest.mark.django_db
def test_a_unique_field_added_with_a_python_default_fails_on_a_table_of_two_rows_or_more():
    # Django computes the default once (uuid.uuid4 too) and writes it into every row: its docs' "Migrations that add
    # unique fields". The lint said only "index on a big table" and "python default".
    import uuid

    from django.contrib.postgres.functions import RandomUUID

    def verdict(field, rows):
        loader = migration_loader()
        migration = planted_migration(loader, "schema_fixtures", [migrations.AddField("widget", "token", field)])
        (result,) = lint_loaded(loader, [migration], assume_rows={"schema_fixtures_widget": rows})
        return [(f.severity, f.message) for f in result.findings if f.code == "migration_fails"]

    [(severity, message)] = verdict(models.UUIDField(default=uuid.uuid4, unique=True), 1000)
    assert severity == Severity.CRITICAL and "schema_fixtures_widget.token unique" in message
    assert verdict(models.UUIDField(default=uuid.uuid4, unique=True), 1) == []  # one row: one value, no clash
    assert verdict(models.UUIDField(db_default=RandomUUID(), unique=True), 1000) == []  # a value per row
    assert verdict(models.UUIDField(default=uuid.uuid4), 1000) == []  # not unique


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("CREATE INDEX w_name ON schema_fixtures_widget (name)", "SHARE lock blocks writes (reads go on)"),
        ("ALTER TABLE schema_fixtures_widget ADD COLUMN n int", "ACCESS EXCLUSIVE lock blocks reads and writes"),
    ],
    ids=["after CREATE INDEX", "after ADD COLUMN"],
)
def test_a_backfill_after_a_change_of_its_table_names_the_lock_that_change_holds(change, said):
    # A backfill after a CREATE INDEX was said to run under "the change's ACCESS EXCLUSIVE lock": reads go on.
    sql = [change, "UPDATE schema_fixtures_widget SET name = name WHERE id < 10"]
    loader = migration_loader()
    migration = planted_migration(loader, "schema_fixtures", [migrations.RunSQL(sql, migrations.RunSQL.noop)])
    (result,) = lint_loaded(loader, [migration], assume_rows={"schema_fixtures_widget": 10**9})
    [backfill] = [f for f in result.findings if f.code == "backfill_in_transaction"]
    assert backfill.severity == Severity.CRITICAL and said in backfill.message


@pytest.mark.django_db
def test_a_finding_about_one_statement_of_a_django_operation_names_that_statement_s_line():
    # Findings pointed at an operation's first statement: SET DEFAULT for a SET NOT NULL, ADD COLUMN for the index
    # Django builds at the end of the migration (deferred), and for a unique column's index at another column's.
    operations = [
        migrations.AddField(
            "widget", "parent", models.ForeignKey("schema_fixtures.widget", models.CASCADE, null=True, default=1)
        ),
        migrations.AddField("widget", "size", models.IntegerField(null=True)),
        migrations.AlterField("widget", "size", models.IntegerField(default=0)),
        migrations.AddField("widget", "code", models.CharField(max_length=10, null=True, unique=True)),
    ]
    loader = migration_loader()
    migration = planted_migration(loader, "schema_fixtures", operations)
    (result,) = lint_loaded(loader, [migration], assume_rows={"schema_fixtures_widget": 10**9})
    lines = result.sql.text.splitlines()

    def statement(code, about):
        [finding] = [f for f in result.findings if f.code == code and about in f.message]
        return lines[finding.line]

    assert 'ADD COLUMN "parent_id"' in statement("foreign_key_on_big_table", "parent_id")
    assert statement("index_on_big_table", "parent_id").startswith('CREATE INDEX "schema_fixtures_widget_parent_id')
    assert 'ADD COLUMN "code" varchar(10) NULL UNIQUE' in statement("index_on_big_table", ".code")
    assert 'ALTER COLUMN "size" SET NOT NULL' in statement("set_not_null_on_big_table", "size")
