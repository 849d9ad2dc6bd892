"""Migration files Django cannot read (one that does not import, one altering a model no migration creates): the
schema pages and schema_report say which file and why, where they failed with a 500 and a traceback."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from schemaadmin.models import JobState
from schemaadmin.services.schema.drift_checks import run_drift_check, start_drift_check
from tests.worker import clear_jobs

pytestmark = pytest.mark.django_db

IMPORT_FAILS = "tests.schema_fixtures.unreadable_import"
STATE_FAILS = "tests.schema_fixtures.unreadable_state"
DEPENDS_ON_EMPTY = "tests.schema_fixtures.depends_on_empty_app"
NO_MIGRATIONS = "tests.schema_fixtures.no_migrations"  # a migrations package holding none


def _report(*args: str) -> tuple[dict, int]:
    out = io.StringIO()
    try:
        call_command("schema_report", "--format", "json", *args, stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return json.loads(out.getvalue()), int(exc.code or 0)
    return json.loads(out.getvalue()), 0


def test_a_migration_that_does_not_import_is_named_on_every_schema_page(client_as, settings):
    settings.MIGRATION_MODULES = {"schema_fixtures": IMPORT_FAILS}
    client = client_as("dba")
    for url in ("/schema/", "/schema/drift/", "/schema/apply/", "/schema/migrations/schema_fixtures/0001_initial/"):
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 503, url
        assert "unreadable_import/0004_needs_a_missing_module.py, line 1" in page, url
        assert "ModuleNotFoundError: No module named &#x27;schemaadmin_no_such_module&#x27;" in page, url
    # The live schema reads the database, not the files: it still opens.
    assert client.get("/schema/tables/").status_code == 200
    # CI: the report is that one critical finding, and fails the build.
    report, status = _report("--fail-on", "critical")
    assert status == 1 and report["pending"] == [] and report["lint"] == []
    (finding,) = report["drift"]
    assert (finding["code"], finding["severity"]) == ("migrations_unreadable", "critical")
    assert "0004_needs_a_missing_module.py" in finding["message"]


def test_a_migration_altering_a_model_none_creates_is_a_drift_finding_not_a_500(client_as, settings):
    settings.MIGRATION_MODULES = {"schema_fixtures": STATE_FAILS}
    client = client_as("dba")
    drift = client.get("/schema/drift/")
    page = drift.content.decode()
    assert drift.status_code == 200 and "migrations_unreadable" in page
    assert "KeyError: (&#x27;schema_fixtures&#x27;, &#x27;gadget&#x27;)" in page
    assert client.get("/schema/").status_code == 200
    report, status = _report("--fail-on", "critical")
    assert status == 1
    assert [p["object"] for p in report["pending"]] == ["schema_fixtures.0004_alters_a_model_none_creates"]
    assert "migrations_unreadable" in {item["code"] for item in report["drift"]}


def test_a_dependency_on_an_app_with_no_migrations_is_named_not_a_500(client_as, settings):
    # makemigrations' loader ignores such a dependency, so the check found nothing; the pages' loader, as strict as
    # migrate's, raised it: a 500 on /schema/, the migration's page and /schema/apply/.
    settings.MIGRATION_MODULES = {
        "schema_fixtures": DEPENDS_ON_EMPTY,
        "sessions": "tests.schema_fixtures.no_migrations",
    }
    client = client_as("dba")
    for url in ("/schema/", "/schema/apply/", "/schema/migrations/schema_fixtures/0001_initial/"):
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 503, url
        assert "ValueError: Dependency on app with no migrations: sessions" in page, url
        assert "services/schema" not in page, url  # the code that reads them is not where the fault is
    report, status = _report("--fail-on", "critical")
    assert status == 1 and report["drift"][0]["code"] == "migrations_unreadable"


def test_a_file_python_cannot_compile_is_named_by_its_own_path_and_line():
    from schemaadmin.services.schema.migrations import problem_of

    try:
        compile("class Migration(:\n", "/srv/project/shop/migrations/0002_broken.py", "exec")
    except SyntaxError as error:
        said = problem_of(error)
    assert said.startswith("The migrations cannot be read (/srv/project/shop/migrations/0002_broken.py, line 1): ")


def test_a_replay_queued_before_the_files_broke_fails_saying_why_and_the_next_one_runs(settings):
    """Read before the job's claim, the files' error left the check queued for good: every "Compare again" was
    answered with it, after the files were mended too."""
    check = start_drift_check(user=None)
    clear_jobs()  # as if the worker had taken it
    settings.MIGRATION_MODULES = {"schema_fixtures": IMPORT_FAILS}
    assert run_drift_check(check.pk) == JobState.FAILED
    check.refresh_from_db()
    assert "0004_needs_a_missing_module.py, line 1" in check.error and "ModuleNotFoundError" in check.error
    assert "FAILED: The migrations cannot be read" in check.log
    del settings.MIGRATION_MODULES
    again = start_drift_check(user=None)
    clear_jobs()
    assert again.pk != check.pk and again.state == JobState.QUEUED
