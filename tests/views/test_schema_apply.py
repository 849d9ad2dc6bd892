"""The apply page: plan, SQL and lint for confirmation; typed confirmation; the run page; bad input."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils.html import escape

from schemaadmin.formats import ident_html
from schemaadmin.models import AuditEvent, JobState, MigrationApply
from schemaadmin.services.schema.apply import apply_plan

TARGET = "schema_fixtures.0003_remove_widget_note"


def _form(**overrides: object) -> dict[str, object]:
    data = {"fingerprint": apply_plan().fingerprint, "typed_target": TARGET, "lock_timeout_ms": 2000}
    data["statement_timeout_ms"] = 60_000
    data.update(overrides)
    return data


def test_confirmation_page_shows_plan_sql_and_lint(fixtures_pending, client_as):
    page = client_as("dba").get("/schema/apply/").content.decode()
    assert "schema_fixtures.0002_widget_name_index" in page
    assert TARGET in page
    assert "Create index widget_name on field(s) name of model widget" in page
    assert escape('CREATE INDEX "widget_name" ON "schema_fixtures_widget" ("name")') in page
    assert "require-concurrent-index-creation" in page  # squawk's finding on the plain CREATE INDEX
    assert "This plan destroys data" in page and 'name="typed_target"' in page
    # What the worker will copy before the drop, and what that costs.
    assert "copies what it drops into <code>schemaadmin_archive</code>" in page
    assert "<code>schema_fixtures_widget.note</code> (schema_fixtures.0003_remove_widget_note)" in page
    assert "the column, with each row's primary key; " in page and "plan for the time and the disk" in page


def test_confirmation_says_when_nothing_will_be_kept(fixtures_pending, client_as, settings):
    settings.SCHEMAADMIN = {"ARCHIVE_BEFORE_DROP": False}
    page = client_as("dba").get("/schema/apply/").content.decode()
    assert "Archiving before a drop is off" in page and "schema_fixtures_widget.note" in page


def test_apply_needs_the_target_typed_then_queues_the_job(fixtures_pending, client_as):
    client = client_as("dba")
    refused = client.post("/schema/apply/", _form(typed_target="yes"))
    assert refused.status_code == 400
    # Said on the field itself, which is marked invalid (schemaadmin.js focuses it) and named by its error.
    field = re.search(r'<input type="text" name="typed_target"[^>]*>', refused.content.decode()).group(0)
    assert 'aria-invalid="true"' in field and "id_typed_target_error" in field
    assert f'id="id_typed_target_error">Type {TARGET} to confirm' in refused.content.decode()
    assert not MigrationApply.objects.exists()

    response = client.post("/schema/apply/", _form())
    run = MigrationApply.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/schema/applies/{run.pk}/"
    assert run.state == JobState.QUEUED and run.plan == apply_plan().labels and run.job_id
    assert (run.lock_timeout_ms, run.statement_timeout_ms) == (2000, 60_000)
    assert AuditEvent.objects.filter(action="migrations.apply_requested", target=TARGET).exists()

    # A second apply while the first is queued is refused and links to it.
    again = client.post("/schema/apply/", _form())
    assert again.status_code == 409
    assert f'href="/schema/applies/{run.pk}/"' in again.content.decode()
    refusals = AuditEvent.objects.filter(action="migrations.apply_refused").order_by("id")
    assert [(e.actor_username, e.target) for e in refusals] == [("dba-user", TARGET)] * 2
    typed, active = (event.detail for event in refusals)
    assert typed["reason"] == f"Type {TARGET} to confirm: this plan needs it." and typed["plan"] == run.plan
    assert active["reason"] == f"Migrations are already being applied to this database (run {run.pk}, queued)."


def test_an_apply_refused_for_a_plan_changed_since_it_was_shown_is_audited(fixtures_pending, client_as):
    response = client_as("dba").post("/schema/apply/", _form(fingerprint="0123456789abcdef"))
    assert response.status_code == 400 and "changed since this page was loaded" in response.content.decode()
    event = AuditEvent.objects.get(action="migrations.apply_refused")
    assert (event.actor_username, event.target) == ("dba-user", TARGET)
    assert event.detail["reason"] == "The pending migrations changed since this page was loaded. Review the new plan."
    assert event.detail["fingerprint"] == "0123456789abcdef" and event.detail["plan"] == apply_plan().labels


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lock_timeout_ms": "soon"}, "Enter a whole number."),
        ({"lock_timeout_ms": 5}, "greater than or equal to 100"),
        ({"statement_timeout_ms": -1}, "greater than or equal to 0"),
        ({"statement_timeout_ms": 10**12}, "less than or equal to"),
        ({"fingerprint": "<script>"}, "This form was not loaded from this page"),
        ({"fingerprint": "0123456789abcdef"}, "changed since this page was loaded"),
        ({"typed_target": "x\x00" * 100_000, "fingerprint": "\x00" * 100_000}, "Null characters are not allowed."),
    ],
)
def test_bad_input_is_a_clear_400_and_audited(fixtures_pending, client_as, overrides, message):
    response = client_as("dba").post("/schema/apply/", _form(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MigrationApply.objects.exists()
    event = AuditEvent.objects.get(action="migrations.apply_refused")
    assert (event.actor_username, event.target) == ("dba-user", TARGET) and message in event.detail["reason"]
    assert len(event.detail["reason"]) <= 2_000 and len(event.detail["fingerprint"]) <= 64
    assert "\x00" not in event.detail["reason"] + event.detail["fingerprint"]


def test_operators_see_runs_but_cannot_apply(fixtures_pending, client_as):
    client = client_as("operator")
    assert client.get("/schema/apply/").status_code == 403
    assert client.post("/schema/apply/", _form()).status_code == 403
    assert not MigrationApply.objects.exists()


def test_apply_needs_a_csrf_token(fixtures_pending, role_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(role_user("dba"))
    assert client.post("/schema/apply/", _form()).status_code == 403
    assert not MigrationApply.objects.exists()


def test_nothing_pending(transactional_db, client_as):
    client = client_as("dba")
    assert "No migration is pending" in client.get("/schema/apply/").content.decode()
    response = client.post("/schema/apply/", _form())
    assert response.status_code == 400
    assert "no pending migrations" in response.content.decode()


@pytest.mark.django_db
def test_run_page_polls_while_active_and_stops_when_done(client_as):
    client = client_as("operator")
    run = MigrationApply.objects.create(plan=[TARGET], target=TARGET, state=JobState.RUNNING, log="12:00:00 Applying\n")
    partial = client.get(f"/schema/applies/{run.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and 'hx-trigger="every 2s"' in partial and "Applying" in partial

    MigrationApply.objects.filter(pk=run.pk).update(
        state=JobState.FAILED,
        failed_migration=TARGET,
        failed_statement='ALTER TABLE "schema_fixtures_widget" DROP COLUMN "note" CASCADE',
        error="canceling statement due to lock timeout",
    )
    page = client.get(f"/schema/applies/{run.pk}/").content.decode()
    assert "every 2s" not in page
    assert f"<strong>{ident_html(TARGET)}</strong> failed at this statement" in page  # breaks after . and _
    assert escape('DROP COLUMN "note" CASCADE') in page
    assert "canceling statement due to lock timeout" in page
    assert client.get("/schema/applies/").status_code == 200


@pytest.mark.django_db
def test_unknown_run_is_404(client_as):
    assert client_as("operator").get("/schema/applies/987654/").status_code == 404


@pytest.mark.django_db
def test_conflicting_migrations_are_explained_and_not_applied(client_as, settings):
    settings.MIGRATION_MODULES = {"schema_fixtures": "tests.schema_fixtures.conflicting_migrations"}
    client = client_as("dba")
    listed = client.get("/schema/").content.decode()
    assert 'data-testid="conflicts"' in listed and "0002_second_leaf, 0002_widget_name_index" in listed
    page = client.get("/schema/apply/").content.decode()
    assert 'data-testid="conflicts"' in page and 'data-testid="apply-form"' not in page
    assert "schema_fixtures: 0002_second_leaf, 0002_widget_name_index" in page
    assert "makemigrations --merge" in page

    plan = apply_plan()
    refused = client.post("/schema/apply/", _form(fingerprint=plan.fingerprint, typed_target=plan.target))
    assert refused.status_code == 400 and "makemigrations --merge" in refused.content.decode()
    assert not MigrationApply.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_drop_behind_separate_database_and_state_is_confirmed_by_name_with_what_is_archived(client_as, settings):
    settings.MIGRATION_MODULES = {"schema_fixtures": "tests.schema_fixtures.raw_drops"}
    client = client_as("dba")
    page = client.get("/schema/apply/").content.decode()
    assert "This plan destroys data" in page and "Remove field name from widget" in page
    archived = page.split('data-testid="archive-plan"')[1].split("</div>")[0]
    assert "schema_fixtures_widget.name" in archived
    # A table that is not there is not promised an archive (the run's log says there was nothing to copy).
    missing = archived.split("schema_fixtures_old_stuff")[1].split("</li>")[0]
    assert "there is no such table now: it is archived only if it exists when its migration runs" in missing
    assert "rows" not in missing
    response = client.post("/schema/apply/", _form(typed_target="yes"))
    assert response.status_code == 400 and "Type schema_fixtures.0004_drops_in_raw_sql" in response.content.decode()
    assert not MigrationApply.objects.exists()
