"""manage.py schema_report: pending migrations, their lint and drift as text or JSON; exit status by --fail-on."""

from __future__ import annotations

import io
import json
import sys

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, models

from tests.services.migration_planting import FIXTURE_PENDING, fixtures_pending  # noqa: F401
from tests.services.schema.lint_fixtures import lint_fixture_migrations  # noqa: F401

ITEM_KEYS = {"code", "severity", "object", "message"}


def run(*args: str) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command("schema_report", *args, stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return out.getvalue(), int(exc.code or 0)
    return out.getvalue(), 0


@pytest.mark.usefixtures("fixtures_pending")
def test_json_lists_pending_migrations_their_lint_and_drift():
    output, status = run("--format", "json")
    report = json.loads(output)
    assert {"pending", "lint", "drift"} <= set(report)
    assert all(ITEM_KEYS <= set(item) for key in ("pending", "lint", "drift") for item in report[key])

    assert [(p["code"], p["severity"], p["object"]) for p in report["pending"]] == [
        ("pending_migration", "warning", label) for label in FIXTURE_PENDING
    ]
    lint = {(item["migration"], item["code"]): item for item in report["lint"]}
    squawk = lint[(FIXTURE_PENDING[0], "require-concurrent-index-creation")]
    assert squawk["severity"] == "warning" and squawk["line"] == 5  # 1-based: BEGIN, three comment lines, CREATE
    drop = lint[(FIXTURE_PENDING[1], "drop_column")]
    assert drop["object"] == "schema_fixtures_widget.note" and "SeparateDatabaseAndState" in drop["help"]
    assert report["drift"] == [] and report["drift_checked"]
    # Warnings only: the default (--fail-on critical) passes, warning fails, never never fails.
    assert status == 0
    assert run("--fail-on", "warning")[1] == 1
    assert run("--fail-on", "never")[1] == 0


@pytest.mark.usefixtures("fixtures_pending")
def test_a_critical_lint_finding_fails_the_default_report_and_text_says_why(settings):
    with connection.cursor() as cur:
        cur.execute("INSERT INTO schema_fixtures_widget (name, note) SELECT 'w' || i, '' FROM generate_series(1, 50) i")
        cur.execute("ANALYZE schema_fixtures_widget")
    settings.SCHEMAADMIN = {"MIGRATION_BIG_TABLE_ROWS": 20}
    output, status = run()
    assert status == 1
    assert "2 pending migration(s)" in output.splitlines()[0]
    # The line of its CREATE INDEX, not of the comment Django heads the operation with.
    assert f"CRITICAL index_on_big_table  schema_fixtures_widget  [{FIXTURE_PENDING[0]}, line 5]" in output, output
    assert "instead: Build it without blocking writes: AddIndexConcurrently" in output
    assert f"WARNING  pending_migration  {FIXTURE_PENDING[1]}" in output
    assert run("--fail-on", "never")[1] == 0
    assert run("--fail-on", "critical")[1] == 1 and run("--fail-on", "error")[1] == 1  # error: critical's old name
    lint = json.loads(run("--format", "json")[0])["lint"]
    assert {item["code"]: item["severity"] for item in lint}["index_on_big_table"] == "critical"


@pytest.mark.django_db
def test_an_up_to_date_database_passes_even_on_warnings():
    output, status = run("--fail-on", "warning")
    assert status == 0, output
    assert "0 pending migration(s), 0 lint finding(s), 0 drift finding(s)." in output


@pytest.mark.django_db
def test_drift_findings_are_items_and_fail_the_report(plant):
    plant.sql("ALTER TABLE public.users ADD COLUMN nickname text")
    try:
        output, status = run("--format", "json", "--fail-on", "warning")
        text, text_status = run("--fail-on", "warning")
    finally:
        plant.sql("ALTER TABLE public.users DROP COLUMN nickname")
    (item,) = json.loads(output)["drift"]
    assert item["object"] == "public.users.nickname" and item["fix"]
    assert status == 1
    # The terminal report lists the drift item too (it has no migration or line, unlike lint findings).
    assert text_status == 1
    assert f"{item['severity'].upper():8} {item['code']}  public.users.nickname" in text


@pytest.mark.django_db
def test_without_the_drift_check_the_report_still_runs(monkeypatch):
    monkeypatch.setitem(sys.modules, "schemaadmin.services.schema.drift", None)  # as if the module were not installed
    report = json.loads(run("--format", "json")[0])
    assert report["drift"] == [] and report["drift_checked"] is False
    assert "(drift check not installed)" in run()[0]


@pytest.mark.django_db
def test_bad_options_are_clear_errors():
    with pytest.raises(CommandError, match="No database is configured under the alias 'replica'"):
        call_command("schema_report", "--database", "replica", stdout=io.StringIO())
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("schema_report", "--fail-on", "fatal", stdout=io.StringIO())
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("schema_report", "--format", "yaml", stdout=io.StringIO())


@pytest.mark.django_db
def test_a_new_not_null_field_without_default_and_no_migration_is_reported_not_a_crash():
    # The everyday "forgot makemigrations": makemigrations would have to ask for a one-off default.
    from tests.services.schema.test_drift import field_added_to_widget

    with field_added_to_widget("rank", models.IntegerField()):
        output, status = run("--format", "json")
    report = json.loads(output)
    missing = [item for item in report["drift"] if item["code"] == "model_without_migration"]
    assert [(item["object"], item["severity"]) for item in missing] == [("schema_fixtures.widget", "critical")]
    assert "Add field rank to widget" in missing[0]["message"]
    assert "one-off default" in missing[0]["message"]
    assert status == 1


@pytest.mark.usefixtures("lint_fixture_migrations")
def test_json_shows_the_new_lint_rules_on_pending_migrations(settings):
    with connection.cursor() as cur:
        cur.execute("INSERT INTO schema_fixtures_widget (name) SELECT 'w' || i FROM generate_series(1, 50) i")
        cur.execute("ANALYZE schema_fixtures_widget")
    settings.SCHEMAADMIN = {"MIGRATION_BIG_TABLE_ROWS": 20, "PRODUCT_APPS": ("schema_fixtures",)}
    report = json.loads(run("--format", "json", "--fail-on", "never")[0])
    lint = {(item["migration"].split(".")[1][:4], item["code"]) for item in report["lint"]}
    for expected in [
        ("0004", "add_field_python_default"),
        ("0006", "json_column"),
        ("0008", "backfill_in_transaction"),
        ("0009", "backfill_in_transaction"),
        ("0011", "table_rewrite"),
        ("0013", "exclusion_constraint_on_big_table"),
        ("0015", "product_table_without_grant"),
        ("0017", "index_on_big_table"),
        ("0017", "set_not_null_on_big_table"),
    ]:
        assert expected in lint, expected
    # The safe look-alikes say nothing, squawk's false alarms included.
    quiet = {"0005", "0007", "0010", "0012", "0016", "0018", "0019", "0020", "0021"}
    assert not [item for item in report["lint"] if item["migration"].split(".")[1][:4] in quiet]
