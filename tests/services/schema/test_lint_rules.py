"""Our lint rules on the fixture migrations (tests/schema_fixtures/lint_migrations): each dangerous migration is
flagged with advice that fits it, and each safe look-alike stays silent, squawk's false alarms set aside with why."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from schemaadmin.services.schema.lint import lint_loaded, lint_migrations
from schemaadmin.services.schema.raw_sql import SqlAction, run_sql_actions, sql_actions
from tests.services.schema.lint_fixtures import lint_fixture_migrations  # noqa: F401

BIG = {"schema_fixtures_widget": 10**9}
SAFE = (
    "0005_db_default",
    "0007_jsonb_column",
    "0010_backfill_batched",
    "0012_plain_vacuum",
    "0014_exclusion_on_new_table",
    "0016_product_table_with_grant",
    "0018_runsql_concurrently",
    "0019_nullable_columns",
    "0020_safe_alterations",
    "0021_concurrent_index",
    "0024_enable_trigger",
)


def lint(name, rows=BIG):
    return lint_migrations([("schema_fixtures", name)], assume_rows=rows)[0]


def found(result):
    return [(f.code, f.severity, f.object) for f in result.findings]


pytestmark = pytest.mark.usefixtures("lint_fixture_migrations")


def test_not_null_with_a_python_default_breaks_old_inserts_and_db_default_is_the_fix():
    result = lint("0004_python_default")
    assert found(result) == [("add_field_python_default", "warning", "schema_fixtures_widget.rank")]
    finding = result.findings[0]
    assert "old model" in finding.message and "db_default=" in finding.help
    # squawk's ban-drop-default (the dropped default) is ours now, set aside with the reason.
    assert "ban-drop-default" in {f.code for f in result.exempted}
    assert lint("0005_db_default").findings == ()


def test_a_json_column_is_flagged_and_jsonb_is_not():
    result = lint("0006_json_column")
    assert found(result) == [("json_column", "warning", "schema_fixtures_widget.payload")]
    assert "jsonb" in result.findings[0].help
    assert lint("0007_jsonb_column").findings == ()


def test_a_backfill_in_the_transaction_of_a_schema_change_holds_its_lock():
    runsql = lint("0008_backfill_runsql")
    assert found(runsql) == [("backfill_in_transaction", "critical", "schema_fixtures_widget")]
    assert "UPDATE of every row" in runsql.findings[0].message
    assert "ACCESS EXCLUSIVE" in runsql.findings[0].message
    assert "atomic = False" in runsql.findings[0].help and "batches" in runsql.findings[0].help

    # RunPython names its table through hints={"model_name": …}.
    runpython = lint("0009_backfill_runpython")
    assert found(runpython) == [("backfill_in_transaction", "warning", "schema_fixtures_widget")]
    assert runpython.findings[0].message.startswith("RunPython backfills")

    assert lint("0010_backfill_batched").findings == ()  # batched, non-atomic, bounded


def test_backfills_wait_for_a_big_table():
    assert lint("0008_backfill_runsql", rows={"schema_fixtures_widget": 10}).findings == ()


def test_vacuum_full_and_cluster_rewrite_the_table_and_plain_vacuum_does_not():
    result = lint("0011_vacuum_full_cluster")
    assert found(result) == [("table_rewrite", "critical", "schema_fixtures_widget")] * 2
    assert [f.message.split(" rewrites")[0] for f in result.findings] == ["VACUUM FULL", "CLUSTER"]
    assert "pg_repack" in result.findings[0].help
    assert lint("0012_plain_vacuum").findings == ()


def test_an_exclusion_constraint_gets_advice_that_can_be_followed():
    result = lint("0013_exclusion_constraint")
    assert found(result) == [("exclusion_constraint_on_big_table", "critical", "schema_fixtures_widget")]
    finding = result.findings[0]
    assert "cannot be added NOT VALID" in finding.help and "USING INDEX" in finding.help
    # squawk's advice (add it NOT VALID) is impossible here: set aside with the reason.
    overridden = {f.code: f.exemption for f in result.exempted}
    assert "cannot be NOT VALID" in overridden["constraint-missing-not-valid"]
    assert lint("0014_exclusion_on_new_table").findings == ()


def test_a_new_product_table_needs_select_granted_to_the_console_role(settings):
    assert lint("0015_product_table_without_grant").findings == ()  # not a product app by default
    settings.SCHEMAADMIN = {"PRODUCT_APPS": ("schema_fixtures",)}
    result = lint("0015_product_table_without_grant")
    assert found(result) == [("product_table_without_grant", "warning", "schema_fixtures_gadget")]
    assert "schemaadmin_explain" in result.findings[0].message and "PRODUCT_MODELS" in result.findings[0].help
    # The look-alike grants it in a DO block, which our rules read with pglast's PL/pgSQL parser.
    assert lint("0016_product_table_with_grant").findings == ()


def test_raw_sql_goes_through_the_same_size_rules():
    result = lint("0017_runsql_on_big_table")
    ours = [(f.code, f.object) for f in result.findings if f.source == "schemaadmin"]
    assert ours == [
        ("index_on_big_table", "schema_fixtures_widget"),
        ("set_not_null_on_big_table", "schema_fixtures_widget.colour"),
    ]
    assert lint("0018_runsql_concurrently").findings == ()


def test_what_the_tools_call_safe_stays_silent_and_squawks_alarms_say_why_not():
    for name in SAFE:
        result = lint(name)
        assert result.findings == (), (name, [(f.code, f.message) for f in result.findings])
    safe = lint("0020_safe_alterations")
    reasons = [(f.code, f.exemption) for f in safe.exempted]
    assert ("changing-column-type", next(r for c, r in reasons if "varchar(100) to varchar(200)" in r)) in reasons
    assert any("varchar(20) to text" in r for _, r in reasons)
    assert any("numeric(8, 2) to numeric(12, 2)" in r for _, r in reasons)
    assert any(c == "ban-drop-not-null" and "no scan" in r for c, r in reasons)
    assert all(r.startswith("SchemaAdmin: ") for _, r in reasons)


def test_disabling_triggers_and_numbering_every_row_are_flagged():
    trigger = lint("0023_disable_trigger")
    assert found(trigger) == [("trigger_disabled", "warning", "schema_fixtures_widget")]
    assert "foreign keys" in trigger.findings[0].message
    serial = lint("0025_serial_column")
    ours = [(f.code, f.object) for f in serial.findings if f.source == "schemaadmin"]
    assert ours == [("table_rewrite", "schema_fixtures_widget")]
    assert "position as serial or identity rewrites" in serial.findings[0].message


def test_a_wide_non_unique_index_is_a_note():
    assert found(lint("0022_wide_index")) == [("index_many_columns", "info", "widget_four_columns")]


def test_raw_sql_is_read_statement_by_statement():
    assert sql_actions("UPDATE t SET a = 1 WHERE id < 5; TRUNCATE u; DROP TABLE s.v; ALTER TABLE w DROP COLUMN c") == [
        SqlAction("backfill", "t", detail="UPDATE with a WHERE clause"),
        SqlAction("truncate", "u", detail="TRUNCATE"),
        SqlAction("drop_table", "v", schema="s"),
        SqlAction("drop_column", "w", "c"),
    ]
    # Only the lock an added column holds (reading nothing: a constant default, an index already built).
    assert sql_actions("ALTER TABLE w ADD CONSTRAINT u UNIQUE USING INDEX i, ADD COLUMN n int NOT NULL DEFAULT 0") == [
        SqlAction("add_column", "w", "n")
    ]
    assert sql_actions("this is not SQL") == []
    # (sql, params) items: psycopg's placeholders are read as parameters.
    with_params = [("DELETE FROM t WHERE id = %t", [1]), ("UPDATE u SET a = %(a)s WHERE b LIKE 'x%%'", {"a": 1})]
    assert run_sql_actions(with_params) == [
        SqlAction("backfill", "t", detail="DELETE with a WHERE clause"),
        SqlAction("backfill", "u", detail="UPDATE with a WHERE clause"),
    ]


def test_concurrently_in_an_atomic_migration_fails_and_is_said_on_each_statement():
    """PostgreSQL refuses CONCURRENTLY in a transaction block: written in a RunSQL, the migration fails as surely as
    an AddIndexConcurrently in an atomic migration (which Django refuses to write)."""
    result = lint("0026_runsql_concurrently_atomic", rows={"schema_fixtures_widget": 10})  # whatever the size
    ours = [(f.code, f.severity, f.line) for f in result.findings if f.source == "schemaadmin"]
    assert ours == [("migration_fails", "critical", line) for line in (5, 6, 7)]  # the lines of its SQL shown
    messages = [f.message for f in result.findings if f.code == "migration_fails"]
    assert messages[0].startswith("CREATE index widget_name_upper CONCURRENTLY in an atomic migration")
    assert messages[1].startswith("DROP INDEX CONCURRENTLY public.widget_name_lower in an atomic migration")
    assert messages[2].startswith("REINDEX CONCURRENTLY widget_name_upper in an atomic migration")
    assert "atomic = False" in result.findings[0].help


def test_python_the_lint_cannot_read_is_never_lint_clean():
    """A RunPython naming no model, in a migration that alters no table: what it writes is in its code alone."""
    result = lint("0027_run_python_unread", rows={"schema_fixtures_widget": 10})
    assert found(result) == [("run_python_unread", "info", "RunPython")]
    assert "hints={'model_name'" in result.findings[0].message
    # Named (0010, hints={"model_name": "widget"}), it is judged as the backfill of that table it is: here, none.
    assert lint("0010_backfill_batched").findings == ()


NOT_NULL_STEPS = ("0028_not_null_check_not_valid", "0029_not_null_check_validated", "0030_set_not_null_after_check")
NOT_NULL_STEPS_LAST = "schema_fixtures.0030_set_not_null_after_check"


def ours(result):
    return [(f.code, f.severity, f.object) for f in result.findings if f.source == "schemaadmin"]


def test_set_not_null_after_a_validated_not_null_check_is_not_called_a_scan():
    """The safe way the finding's own advice gives: CHECK (colour IS NOT NULL) NOT VALID, VALIDATE, SET NOT NULL.
    PostgreSQL takes the validated CHECK as proof and reads no row; the last step was flagged critical."""
    plan = lint_migrations([("schema_fixtures", name) for name in NOT_NULL_STEPS], assume_rows=BIG)
    # squawk's own warning about dropping a constraint stays; its SET NOT NULL warning is set aside, with why.
    assert [found(result) for result in plan] == [[], [], [("ban-drop-constraint", "warning", NOT_NULL_STEPS_LAST)]]
    (aside,) = plan[2].exempted
    assert (
        aside.code == "adding-not-nullable-field" and "CHECK (colour IS NOT NULL) validated before" in aside.exemption
    )
    alone = lint("0030_set_not_null_after_check")  # no such CHECK before it in the plan, none in the database
    assert ours(alone) == [("set_not_null_on_big_table", "critical", "schema_fixtures_widget.colour")]


def test_a_validated_not_null_check_in_the_database_spares_set_not_null_too():
    from django.db import connection

    with connection.cursor() as cur:  # the column the fixture migrations (never applied) would have made
        cur.execute("ALTER TABLE schema_fixtures_widget ADD COLUMN colour text DEFAULT 'blue'")
        cur.execute("ALTER TABLE schema_fixtures_widget ADD CONSTRAINT widget_colour_nn CHECK (colour IS NOT NULL)")
    try:
        assert ours(lint("0030_set_not_null_after_check")) == []
        with connection.cursor() as cur:  # NOT VALID: proves nothing yet
            cur.execute("ALTER TABLE schema_fixtures_widget DROP CONSTRAINT widget_colour_nn")
            cur.execute(
                "ALTER TABLE schema_fixtures_widget ADD CONSTRAINT widget_colour_nn CHECK (colour IS NOT NULL) "
                "NOT VALID"
            )
        assert [code for code, _, _ in ours(lint("0030_set_not_null_after_check"))] == ["set_not_null_on_big_table"]
    finally:
        with connection.cursor() as cur:
            cur.execute("ALTER TABLE schema_fixtures_widget DROP COLUMN colour")


def test_a_not_valid_check_says_which_column_it_proves_not_null():
    added = sql_actions('ALTER TABLE t ADD CONSTRAINT c CHECK ("Colour" IS NOT NULL) NOT VALID')
    assert added == [SqlAction("add_not_valid", "t", "Colour", detail="constraint c")]
    assert sql_actions("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID")[0].column == ""


def test_a_table_held_or_rewritten_by_hand_and_the_job_s_timeouts_switched_off_are_flagged():
    result = lint("0031_locks_logging_timeouts")
    assert ours(result) == [
        ("table_rewrite", "critical", "schema_fixtures_widget"),  # SET UNLOGGED
        ("table_rewrite", "critical", "schema_fixtures_widget"),  # SET LOGGED
        ("timeout_switched_off", "warning", "lock_timeout"),
        ("timeout_switched_off", "warning", "statement_timeout"),
        ("table_locked", "warning", "schema_fixtures_widget"),  # ACCESS EXCLUSIVE; ROW EXCLUSIVE is a write's own
    ]
    assert "Locks schema_fixtures_widget in ACCESS EXCLUSIVE MODE until" in next(
        f.message for f in result.findings if f.code == "table_locked"
    )


def test_a_table_renamed_earlier_in_the_plan_is_sized_by_the_rows_it_has_now():
    """RenameModel renames schema_fixtures_widget to schema_fixtures_gadget when it runs: until then the database
    has only the old name, and the index on the new one went unsized, so unflagged."""
    result = lint("0032_rename_widget")
    assert ("index_on_big_table", "critical", "schema_fixtures_gadget") in ours(result)
    assert "about 1,000,000,000 rows" in next(f.message for f in result.findings if f.code == "index_on_big_table")


def test_every_spelling_of_switching_the_timeouts_off_is_read():
    for text in ("RESET ALL", "SET lock_timeout = 0.0", "SET statement_timeout TO '0s'", "RESET statement_timeout"):
        assert [a.kind for a in sql_actions(text)] == ["timeout_off"], text
    for text in ("SET lock_timeout = '2s'", "SET statement_timeout = 5000", "SET work_mem = 0"):
        assert sql_actions(text) == [], text


def test_lock_table_outside_a_transaction_fails_the_migration():
    """atomic = False: Django runs each statement on its own, and PostgreSQL refuses LOCK TABLE outside a
    transaction block."""
    from django.db import migrations

    from tests.services.migration_planting import planted_migration

    lock = migrations.RunSQL("LOCK TABLE schema_fixtures_widget IN SHARE MODE", migrations.RunSQL.noop)
    loader = MigrationLoader(connection)
    migration = planted_migration(loader, "schema_fixtures", [lock], atomic=False)
    (result,) = lint_loaded(loader, [migration], assume_rows=BIG)
    assert ("migration_fails", "critical", "schema_fixtures_widget") in ours(result)


def test_a_backfill_after_a_raw_add_column_is_under_its_lock_and_a_parameter_s_statement_is_found():
    """A raw ADD COLUMN holds ACCESS EXCLUSIVE as Django's AddField does; an UPDATE with parameters (its values written
    into the SQL, not its $n) is found on its own line, not put on the line of the statement before it."""
    from django.db import migrations

    from tests.services.migration_planting import planted_migration

    items = [
        ("ALTER TABLE schema_fixtures_widget ADD COLUMN n int", None),
        ("UPDATE schema_fixtures_widget SET n = %s WHERE name <> %s", [1, "it's"]),
    ]
    loader = MigrationLoader(connection)
    migration = planted_migration(loader, "schema_fixtures", [migrations.RunSQL(items, migrations.RunSQL.noop)])
    (result,) = lint_loaded(loader, [migration], assume_rows=BIG)
    (backfill,) = [f for f in result.findings if f.code == "backfill_in_transaction"]
    assert backfill.severity == "critical"
    assert (
        result.sql.text.splitlines()[backfill.line] == "UPDATE schema_fixtures_widget SET n = 1 WHERE name <> 'it''s';"
    )
