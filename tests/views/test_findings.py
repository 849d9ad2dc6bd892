"""One severity, one badge: an index's page, the drift page and a migration's lint mark findings alike."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from schemaadmin.services.schema.drift_checks import run_drift_check, start_drift_check
from tests.services.migration_planting import FIXTURE_PENDING, fixtures_pending  # noqa: F401
from tests.worker import clear_jobs

CRITICAL_BADGE = '<span class="badge text-bg-danger" data-severity="critical">critical</span>'
WARNING_BADGE = '<span class="badge text-bg-warning" data-severity="warning">warning</span>'


def badge(page: str, code: str, about: str) -> str:
    """Return the severity badge of the finding of code about an object, as the page renders it."""
    item = re.search(
        rf'<div class="list-group-item finding" data-code="{re.escape(code)}" data-object="{re.escape(about)}"[^>]*>'
        r'\s*<div class="d-flex[^"]*">\s*(<span class="badge [^"]*"[^>]*>[^<]*</span>)',
        page,
    )
    assert item, f"no {code} finding about {about} on the page"
    return item.group(1)


@pytest.mark.usefixtures("fixtures_pending")
def test_a_severity_has_the_same_badge_on_the_index_drift_and_lint_pages(plant, client_as, settings):
    s = plant.schema
    plant.table("docs", "id int PRIMARY KEY, x int", rows=20, fill="i, 1")
    with pytest.raises(Exception, match="could not create unique index"):
        plant.sql(f"CREATE UNIQUE INDEX CONCURRENTLY docs_x_uniq ON {s}.docs (x)")  # invalid: critical
    plant.sql(f"CREATE INDEX docs_x_a ON {s}.docs (x)")
    plant.sql(f"CREATE INDEX docs_x_b ON {s}.docs (x)")  # a duplicate: warning
    with connection.cursor() as cur:  # the fixture table as 0001 left it, big enough for the size rules
        cur.execute("INSERT INTO schema_fixtures_widget (name, note) SELECT 'w' || i, '' FROM generate_series(1, 50) i")
        cur.execute("ANALYZE schema_fixtures_widget")
    settings.SCHEMAADMIN = {"MIGRATION_BIG_TABLE_ROWS": 20}
    operator = client_as("operator")

    invalid = operator.get(f"/indexes/{s}.docs_x_uniq/").content.decode()
    duplicate = operator.get(f"/indexes/{s}.docs_x_b/").content.decode()

    run_drift_check(start_drift_check(user=None).pk)
    clear_jobs()
    plant.sql("ALTER TABLE public.users ADD COLUMN legacy_flag boolean NOT NULL")  # every INSERT fails: critical
    plant.sql("CREATE INDEX hand_made_badge ON public.users (display_name)")  # made by hand: warning
    try:
        drift = operator.get("/schema/drift/").content.decode()
    finally:
        plant.sql("DROP INDEX public.hand_made_badge")
        plant.sql("ALTER TABLE public.users DROP COLUMN legacy_flag")

    blocking = operator.get("/schema/migrations/schema_fixtures/0002_widget_name_index/").content.decode()
    dropping = operator.get("/schema/migrations/schema_fixtures/0003_remove_widget_note/").content.decode()
    listing = operator.get("/schema/").content.decode()

    assert badge(invalid, "invalid_index", f"{s}.docs_x_uniq") == CRITICAL_BADGE
    assert badge(drift, "unexpected_column", "public.users.legacy_flag") == CRITICAL_BADGE
    assert badge(blocking, "index_on_big_table", "schema_fixtures_widget") == CRITICAL_BADGE

    assert badge(duplicate, "duplicate_index", f"{s}.docs_x_b") == WARNING_BADGE
    assert badge(drift, "unexpected_index", "public.hand_made_badge") == WARNING_BADGE
    assert badge(dropping, "drop_column", "schema_fixtures_widget.note") == WARNING_BADGE

    # Counted, a severity keeps its colour and its word: the drift summary and the pending migrations' lint.
    summary = " ".join(drift[drift.index('data-testid="drift-summary"') :].split()[:40])
    assert "1 critical · 1 warning · 0 info" in summary, summary
    pending = listing[listing.index('data-testid="pending-migrations"') : listing.index("</section>")]
    assert '<span class="badge text-bg-danger" data-severity="critical">1 critical</span>' in pending
    assert "1 critical lint finding</span>" in listing
    assert FIXTURE_PENDING[0] in pending
