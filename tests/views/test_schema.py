"""The schema page's migrations: status in plan order, lint of pending ones, one migration's SQL and lint."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import NoReverseMatch, reverse

from tests.services.migration_planting import FIXTURE_PENDING, fixtures_pending  # noqa: F401
from tests.services.schema.lint_fixtures import lint_fixture_migrations  # noqa: F401


def resolves(name: str) -> bool:
    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


@pytest.mark.django_db
def test_operators_see_every_app_applied_in_plan_order(client_as, django_assert_max_num_queries):
    client = client_as("operator")
    with django_assert_max_num_queries(12):
        response = client.get("/schema/")
    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(r"All \d+ migrations are applied\.", page)
    assert "pending" not in page.lower()  # a browser test relies on it once everything is applied
    apps = re.findall(r'data-app="([a-z_]+)"', page)
    assert {"auth", "schemaadmin", "schema_fixtures", "procrastinate"} <= set(apps)
    assert apps.index("contenttypes") < apps.index("auth")  # auth's first migration needs contenttypes
    assert page.index('data-migration="schemaadmin.0001_initial"') < page.index(
        'data-migration="schemaadmin.0002_roles"'
    )
    assert re.search(r"applied <time datetime=\"[^\"]+\" title=\"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\"", page)
    assert 'href="/schema/migrations/schemaadmin/0002_roles/"' in page
    assert 'href="/schema/"' in page  # the navigation's Schema item and the Migrations tab
    for name, url in (("schemaadmin:schema_drift", "/schema/drift/"), ("schemaadmin:schema_tables", "/schema/tables/")):
        assert (f'href="{url}"' in page) == resolves(name)


@pytest.mark.usefixtures("fixtures_pending")
def test_pending_migrations_come_first_with_their_lint(client_as, role_user):
    page = client_as("operator").get("/schema/").content.decode()
    pending = page[page.index('data-testid="pending-migrations"') : page.index("</section>")]
    assert pending.index(FIXTURE_PENDING[0]) < pending.index(FIXTURE_PENDING[1])
    assert "require-concurrent-index-creation" in pending  # squawk on the plain CREATE INDEX
    assert "drop_column" in pending and "ban-drop-column" not in pending  # ours replaces squawk's
    assert "<code>lock_timeout</code> = 5 s and\n      <code>statement_timeout</code> = 30 min" in pending
    assert "2 pending" in page and "Apply pending migrations" not in page  # operators see, they do not act

    dba_page = client_as("dba").get("/schema/").content.decode()
    assert ("Apply pending migrations" in dba_page) == resolves("schemaadmin:schema_apply")


@pytest.mark.django_db
def test_the_filter_answers_htmx_with_the_list_only(client_as):
    client = client_as("operator")
    full = client.get("/schema/?app=schemaadmin").content.decode()
    assert "<html" in full and re.findall(r'data-app="([a-z_]+)"', full) == ["schemaadmin"]

    partial = client.get("/schema/?app=schema_fixtures&show=applied", headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in body and body.lstrip().startswith('<div id="migration-list"')
    assert re.findall(r'data-migration="([^"]+)"', body) == [
        "schema_fixtures.0001_initial",
        *FIXTURE_PENDING,
    ]
    none = client.get("/schema/?show=unapplied", headers={"HX-Request": "true"}).content.decode()
    assert "No migration matches this filter." in none
    pending = client.get("/schema/?show=pending", headers={"HX-Request": "true"})  # the word pages use, a synonym
    assert pending.status_code == 200 and "No migration matches this filter." in pending.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("app=nope", "No app labelled “nope” has migrations."),
        ("app=%3Cscript%3E", "No app labelled “&lt;script&gt;” has migrations."),
        ("show=everything", "Select a valid choice."),
    ],
)
def test_a_bad_filter_is_a_clear_400(client_as, query, message):
    client = client_as("operator")
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get(f"/schema/?{query}", headers=headers)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert "data-migration=" not in response.content.decode()


@pytest.mark.usefixtures("fixtures_pending")
def test_a_pending_migration_on_a_big_table_shows_sql_findings_lines_and_help(client_as, settings):
    with connection.cursor() as cur:  # the table as migration 0001 left it: note is still there
        cur.execute("INSERT INTO schema_fixtures_widget (name, note) SELECT 'w' || i, '' FROM generate_series(1, 50) i")
        cur.execute("ANALYZE schema_fixtures_widget")
    settings.SCHEMAADMIN = {"MIGRATION_BIG_TABLE_ROWS": 20}

    response = client_as("operator").get("/schema/migrations/schema_fixtures/0002_widget_name_index/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Create index widget_name on field(s) name of model widget" in page
    forward = page[page.index('data-testid="forward-sql"') :]
    create = re.search(r'id="forward-L(\d+)">CREATE INDEX &quot;widget_name&quot; ON', forward)
    assert create, forward[:500]
    line = create.group(1)
    assert f'href="#forward-L{line}">line {line}</a>' in page  # squawk's finding points at the statement
    assert "Use <code>concurrently</code> to avoid blocking writes." in page  # squawk's Markdown, not backticks
    assert re.search(r'id="backward-L\d+">DROP INDEX IF EXISTS &quot;widget_name&quot;;', page)
    assert "index_on_big_table" in page and "about 50 rows" in page
    assert "AddIndexConcurrently" in page  # the safe alternative
    assert "Rules on table sizes used today's estimated rows." in page


@pytest.mark.django_db
def test_an_applied_migration_shows_its_accepted_findings_with_reasons(client_as):
    page = client_as("operator").get("/schema/migrations/schemaadmin/0001_initial/").content.decode()
    assert "applied</span>" in page and "Applied already" in page
    assert 'data-testid="lint-clean"' in page
    clean = page[page.index('data-testid="lint-clean"') :]
    # "No findings" would contradict the accepted findings listed right below it.
    assert "No findings" not in clean[: clean.index("</p>")] and "accepts" in clean[: clean.index("</p>")]
    exempted = page[page.index('data-testid="lint-exempted"') :]
    assert "prefer-text-field" in exempted and "widens a varchar without rewriting" in exempted
    assert exempted.count("widens a varchar without rewriting") == 1  # one row per accepted rule


@pytest.mark.django_db
def test_python_operations_and_a_missing_squawk_are_said_plainly(client_as, settings, tmp_path):
    settings.SCHEMAADMIN = {"SQUAWK_PATH": str(tmp_path / "missing")}
    page = client_as("operator").get("/schema/migrations/schemaadmin/0002_roles/").content.decode()
    assert "THIS OPERATION CANNOT BE WRITTEN AS SQL" in page
    assert "squawk is not installed here" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/schema/migrations/nope/0001_initial/", "No app labelled “nope” has migrations."),
        (
            "/schema/migrations/schemaadmin/0999_missing/",
            "The app “schemaadmin” has no migration named “0999_missing”.",
        ),
        ("/schema/migrations/schemaadmin/%3Cb%3Ex/", "no migration named “&lt;b&gt;x”"),
    ],
)
def test_an_unknown_migration_is_a_404_that_says_which(client_as, path, message):
    response = client_as("operator").get(path)
    assert response.status_code == 404
    assert message in response.content.decode()


@pytest.mark.usefixtures("lint_fixture_migrations")
def test_a_safe_change_shows_squawks_alarm_set_aside_with_the_reason(client_as):
    page = client_as("operator").get("/schema/migrations/schema_fixtures/0020_safe_alterations/").content.decode()
    assert 'data-testid="lint-clean"' in page and "a squawk alarm SchemaAdmin sets aside as safe" in page
    assert (
        "changing-column-type" in page and "SchemaAdmin: a widening type change (varchar(100) to varchar(200))" in page
    )


@pytest.mark.django_db
def test_a_squash_whose_parts_are_applied_is_applied_on_its_own_page(client_as, settings):
    """The database ran 0002 and 0003; a squash of them is what the files now hold: applied, no size rules today."""
    settings.MIGRATION_MODULES = {"schema_fixtures": "tests.schema_fixtures.squashed_migrations"}
    settings.SCHEMAADMIN = {"MIGRATION_BIG_TABLE_ROWS": 0}  # every table is big: a live rule would show
    response = client_as("dba").get("/schema/migrations/schema_fixtures/0002_squashed_0003/")
    page = response.content.decode()
    assert response.status_code == 200
    assert '<span class="badge text-bg-success">applied</span><span>as the migrations it replaces</span>' in page
    assert "Apply pending migrations" not in page and "index_on_big_table" not in page


@pytest.mark.django_db
def test_a_migration_recorded_as_applied_without_its_file_is_named_on_the_page_and_as_drift(client_as):
    from schemaadmin.services.schema.drift import drift_report

    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES "
            "('schema_fixtures', '0004_deleted_later', now()), ('an_uninstalled_app', '0001_initial', now())"
        )
    page = client_as("operator").get("/schema/").content.decode()
    (alert,) = re.findall(r'data-testid="recorded-without-file">(.*?)</div>', page, re.S)
    assert "schema_fixtures.0004_deleted_later" in alert and "applied <time" in alert
    assert "an_uninstalled_app" not in alert  # Django keeps a removed app's records forever: not news
    report = drift_report(replay=False)
    (missing,) = [f for f in report.findings if f.code == "migration_file_missing"]
    assert missing.object == "schema_fixtures.0004_deleted_later" and "restore the file" in missing.fix.lower()
