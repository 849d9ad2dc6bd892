"""/queries/: top statements of a window, one statement, regressions, and every bad parameter as a sentence."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from schemaadmin.models import QueryText
from schemaadmin.services.workload.snapshots import take_snapshot
from tests.services.workload.test_availability import state
from tests.versions import skip_below

pytestmark = pytest.mark.django_db


@pytest.fixture
def workload(plant):
    """A planted table and run(n, sleep=0): its statement n times (sleeping sleep seconds each)."""
    table = plant.table(f"invoices_{uuid.uuid4().hex[:8]}", "id int PRIMARY KEY, amount int", rows=50, fill="i, i % 5")
    statement = f"SELECT pg_sleep(%s), id FROM {table} WHERE amount = %s"  # noqa: S608 -- a planted table

    def run(times: int, sleep: float = 0.0) -> None:
        for i in range(times):
            plant.sql(statement, [float(sleep), i % 5])  # always float8: an int would be another statement

    run.table = table
    run.plant = plant
    return run


def queryid_of(table: str) -> int:
    return QueryText.objects.get(query__contains=f"pg_sleep($1), id FROM {table}").queryid


def test_an_operator_sees_the_statement_run_in_the_window_with_its_calls_and_share(client_as, workload):
    take_snapshot(now=timezone.now() - timedelta(minutes=20))
    workload(7)
    take_snapshot(now=timezone.now() - timedelta(minutes=10))
    client = client_as("operator")
    response = client.get("/queries/", {"window": "1h", "order": "calls"})
    assert response.status_code == 200
    page = response.content.decode()
    # The statement wraps after dots and underscores (<wbr>), never inside a name.
    assert workload.table.replace(".", ".<wbr>").replace("_", "_<wbr>") in page and '<svg class="sparkline"' in page
    row = next(r for r in response.context["stats"].statements if workload.table in r.query)
    assert row.calls == 7 and 0 < row.share <= 1
    # The window ends now, its figures at the last snapshot ten minutes ago: the page says so.
    last = response.context["stats"].through
    assert last is not None and timedelta(minutes=9) < timezone.now() - last < timedelta(minutes=11)
    assert "as far as the last snapshot in it" in page
    # htmx gets the results partial only.
    partial = client.get("/queries/", {"window": "1h"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and b"<html" not in partial.content and b'id="results"' in partial.content


def test_a_window_without_snapshots_shows_the_live_view_and_says_so(client_as, workload):
    workload(2)
    response = client_as("operator").get("/queries/", {"window": "1h"})
    assert response.status_code == 200
    assert response.context["stats"].live
    assert b"No snapshots cover this window yet" in response.content


@pytest.mark.parametrize(
    "params, sentence",
    [
        ({"window": "garbage"}, "Select a valid choice"),
        ({"limit": "100000000"}, "Select a valid choice"),
        ({"order": "pg_sleep"}, "Select a valid choice"),
        ({"window": "custom"}, "A custom window needs a start."),
        ({"window": "custom", "start": "2026-12-02T10:00", "end": "2026-12-01T10:00"}, "The end must come after"),
        ({"window": "custom", "start": "yesterday"}, "Enter a valid date/time."),
        # Times given without a window are a custom window: they were ignored, and the last day shown.
        ({"start": "2026-12-02T10:00", "end": "2026-12-01T10:00"}, "The end must come after"),
        # A start in the future with no end: the start is what is wrong, not the empty end.
        ({"window": "custom", "start": "2999-01-01T00:00"}, "The start is in the future"),
        ({"database": "no-such-db\x00"}, "Select a valid choice"),
        # The regressions page compares with the window before, which year 1 has not.
        ({"window": "custom", "start": "0001-06-01T00:00", "end": "0001-12-31T00:00"}, "starts in 1970 or later"),
        # Days counted up to the end ran past the last date there is.
        ({"window": "custom", "start": "9999-12-30T00:00", "end": "9999-12-31T23:59"}, "ends in 9998 or earlier"),
    ],
)
def test_hostile_parameters_are_answered_with_a_sentence(client_as, params, sentence):
    client = client_as("operator")
    for url in ("/queries/", "/queries/regressions/"):
        response = client.get(url, params)
        assert response.status_code == 400, url
        assert sentence in response.content.decode()


def test_a_start_the_form_cannot_read_is_said_once(client_as):
    """ "yesterday" is no time: that is the sentence, without "a custom window needs a start" after it."""
    page = client_as("operator").get("/queries/", {"window": "custom", "start": "yesterday"}).content.decode()
    assert "Enter a valid date/time." in page and "needs a start" not in page


def test_a_statement_that_is_not_a_queryid_is_a_404(client_as):
    client = client_as("operator")
    assert client.get("/queries/abc/").status_code == 404
    for spelling in (
        "+5",
        "1_000",
        "%20123",
        "\u0663",
        "05x",
        "012",
        "-0",
        "-012",
    ):  # one URL per statement: no other spelling
        assert client.get(f"/queries/{spelling}/").status_code == 404, spelling
    assert client.get(f"/queries/{2**70}/").status_code == 404
    # Longer than int() reads (4,300 digits): a 500 before.
    assert client.get(f"/queries/{'9' * 100_000}/").status_code == 404
    assert client.get(f"/queries/-{'9' * 5_000}/").status_code == 404
    assert client.get("/queries/12345/").status_code == 404
    # The smallest bigint is a queryid too: bound as -9223372036854775808::bigint it would overflow.
    assert client.get(f"/queries/{-(2**63)}/").status_code == 404


def test_the_detail_shows_the_text_series_and_explain_this_only_to_dbas(
    client_as, workload, role_user, client, monkeypatch
):
    monkeypatch.setattr("schemaadmin.views.queries.server_version", lambda: 160004)  # plans $1 queries
    take_snapshot(now=timezone.now() - timedelta(minutes=20))
    workload(3)
    take_snapshot(now=timezone.now() - timedelta(minutes=10))
    queryid = queryid_of(workload.table)
    client.force_login(role_user("dba"))
    response = client.get(f"/queries/{queryid}/", {"window": "1h"})
    assert response.status_code == 200
    page = response.content.decode()
    assert f"SELECT pg_sleep($1), id FROM {workload.table} WHERE amount = $2" in page  # noqa: S608 -- expected text
    assert 'data-testid="explain-this"' in page and 'id="query-chart-data"' in page
    assert response.context["history"].calls == 3
    operator = client_as("operator").get(f"/queries/{queryid}/", {"window": "1h"})
    assert operator.status_code == 200 and b'data-testid="explain-this"' not in operator.content
    last_days = {"window": "custom", "start": "9999-12-01T00:00", "end": "9999-12-31T23:59"}
    refused = client.get(f"/queries/{queryid}/", last_days)
    assert refused.status_code == 400 and "ends in 9998 or earlier" in refused.content.decode()


def test_a_statement_the_console_would_refuse_is_not_offered_to_it_and_the_page_says_why(
    workload, client_as, monkeypatch
):
    """Explain this was offered for an UPDATE: it opened the console, which refused it and recorded the refusal."""
    monkeypatch.setattr("schemaadmin.views.queries.server_version", lambda: 160004)
    take_snapshot(now=timezone.now() - timedelta(minutes=20))
    workload(1)
    for i in range(2):
        workload.plant.sql(f"UPDATE {workload.table} SET amount = amount WHERE id = %s", [i])  # noqa: S608 -- planted
    take_snapshot(now=timezone.now() - timedelta(minutes=10))
    update = QueryText.objects.get(query__startswith=f"UPDATE {workload.table}").queryid
    dba = client_as("dba")
    page = dba.get(f"/queries/{update}/", {"window": "1h"}).content.decode()
    assert 'data-testid="explain-this"' not in page
    assert "which would refuse it: Only SELECT, WITH, VALUES and TABLE queries can be explained" in page
    select = dba.get(f"/queries/{queryid_of(workload.table)}/", {"window": "1h"}).content.decode()
    assert 'data-testid="explain-this"' in select and 'data-testid="not-explainable"' not in select
    # Before PostgreSQL 16 a $1 query has no generic plan: it was offered, and the console refused it.
    monkeypatch.setattr("schemaadmin.views.queries.server_version", lambda: 150008)
    older = dba.get(f"/queries/{queryid_of(workload.table)}/", {"window": "1h"}).content.decode()
    assert 'data-testid="explain-this"' not in older
    assert "which would refuse it: Queries with $1 placeholders need PostgreSQL 16 or newer" in older


@pytest.mark.parametrize("rows_per_probe", [0, 10**9], ids=["running totals", "summed deltas"])
def test_regressions_list_a_statement_whose_mean_time_rose(client_as, workload, monkeypatch, rows_per_probe):
    monkeypatch.setattr("schemaadmin.pg.query_windows.ROWS_PER_PROBE", rows_per_probe)
    now = timezone.now()
    take_snapshot(now=now - timedelta(minutes=100))
    workload(5, sleep=0)
    take_snapshot(now=now - timedelta(minutes=80))
    workload(5, sleep=0.02)
    take_snapshot(now=now - timedelta(minutes=20))
    response = client_as("operator").get("/queries/regressions/", {"window": "1h"})
    assert response.status_code == 200
    change = next(c for c in response.context["changes"] if workload.table in c.query)
    assert change.before_calls == 5 and change.after_calls == 5
    assert change.after_mean_ms >= 20 > change.before_mean_ms
    assert "statements called fewer than 5 times in either are left out" in response.content.decode()


def test_regressions_say_when_a_window_has_no_figures_to_compare(client_as, workload):
    operator = client_as("operator")
    now = timezone.now()
    take_snapshot(now=now - timedelta(minutes=30))
    workload(5, sleep=0)
    take_snapshot(now=now - timedelta(minutes=20))
    # Snapshots cover the last hour, not the hour before it: no rise is shown, and the page says why.
    page = operator.get("/queries/regressions/", {"window": "1h"}).content.decode()
    assert "Nothing to compare: no snapshot of the query statistics covers the earlier window." in page
    assert "mean time rose" not in page
    # Both halves of the last 40 minutes are covered: nothing rose there, and it says so.
    take_snapshot(now=now - timedelta(minutes=5))
    start = (now - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M")
    page = operator.get("/queries/regressions/", {"window": "custom", "start": start}).content.decode()
    assert "No statement's mean time rose between the two windows." in page


def _server_says(monkeypatch, **changes) -> None:
    """Make the pages read this state of pg_stat_statements: readable by all, but for the changes."""
    said = state(**changes)
    monkeypatch.setattr("schemaadmin.services.workload.availability.statements_state", lambda using: said)


def test_without_preload_the_page_says_which_cause_and_what_to_run(client_as, monkeypatch):
    _server_says(monkeypatch, preloaded=False, preload_setting="")
    client = client_as("operator")
    response = client.get("/queries/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "installed in database &#x27;default&#x27; but not in shared_preload_libraries" in page
    assert "ALTER SYSTEM SET shared_preload_libraries = &#x27;pg_stat_statements&#x27;;" in page
    assert "A restart of PostgreSQL is needed" in page
    # Nothing else: not "no statement ran" (the database is not idle), nor counters "since its last reset".
    assert 'data-testid="no-statements"' not in page and "since its last reset" not in page
    assert "pg_stat_statements cannot be read" in page
    regressions = client.get("/queries/regressions/").content.decode()
    assert "The worker takes one every few minutes" not in regressions


def test_a_window_long_past_without_snapshots_shows_no_figures_not_the_counters_since_the_reset(client_as, workload):
    page = (
        client_as("operator")
        .get("/queries/", {"window": "custom", "start": "2026-01-01T00:00", "end": "2026-01-02T00:00"})
        .content.decode()
    )
    assert "No snapshot of the query statistics covers this window" in page
    assert "since its last reset" not in page and 'data-testid="query-table"' not in page
    assert 'data-testid="no-statements"' not in page


def test_a_window_that_has_not_begun_says_so_not_the_counters_since_the_reset(client_as, workload):
    # It showed pg_stat_statements' counters since the reset, under "No snapshots cover this window yet".
    start = timezone.now() + timedelta(days=2)
    window = {
        "window": "custom",
        "start": f"{start:%Y-%m-%dT%H:%M}",
        "end": f"{start + timedelta(days=1):%Y-%m-%dT%H:%M}",
    }
    page = client_as("operator").get("/queries/", window).content.decode()
    assert "nothing has run in it yet" in page
    assert "since its last reset" not in page and 'data-testid="query-table"' not in page


def test_entries_evicted_in_the_window_are_said_to_leave_its_figures_short(client_as, workload):
    # pg_stat_statements_info.dealloc was stored with each snapshot and never shown.
    take_snapshot(now=timezone.now() - timedelta(minutes=50))
    workload(2)
    take_snapshot(now=timezone.now() - timedelta(minutes=40))
    workload(2)
    latest = take_snapshot(now=timezone.now() - timedelta(minutes=10))
    client = client_as("operator")
    assert 'data-testid="evictions"' not in client.get("/queries/", {"window": "1h"}).content.decode()
    type(latest).objects.filter(pk=latest.pk).update(evicted=3)
    page = client.get("/queries/", {"window": "1h"}).content.decode()
    assert "pg_stat_statements evicted 3 entries in this window" in page
    # Not a window the eviction is outside of.
    earlier = {"window": "custom", "start": f"{timezone.now() - timedelta(minutes=55):%Y-%m-%dT%H:%M}",
               "end": f"{timezone.now() - timedelta(minutes=30):%Y-%m-%dT%H:%M}"}  # fmt: skip
    assert 'data-testid="evictions"' not in client.get("/queries/", earlier).content.decode()


def test_without_pg_read_all_stats_the_page_names_the_database_role_to_grant(client_as, monkeypatch):
    _server_says(monkeypatch, reads_all=False, role="chat_app")
    page = client_as("operator").get("/queries/").content.decode()
    assert "GRANT pg_read_all_stats TO chat_app;" in page and "not counted here at all" in page


def test_every_page_says_which_alias_server_its_figures_come_from(client_as, settings):
    client = client_as("operator")
    name = settings.DATABASES["default"]["NAME"]
    for url in ("/queries/", "/queries/regressions/"):
        page = client.get(url, {"window": "1h"}).content.decode()
        assert "server of database alias <code>default</code>" in page and f"{name} included" in page, url
        assert "Not covered" not in page, url


def test_aliases_on_other_servers_are_named_as_not_covered(monkeypatch):
    from schemaadmin.services.workload import coverage as module

    class Alias:
        def __init__(self, host: str, vendor: str = "postgresql") -> None:
            self.settings_dict = {"HOST": host, "PORT": "5432", "NAME": "app"}
            self.vendor = vendor

    aliases = {
        "default": Alias("primary"),
        "replica": Alias("replica-1"),  # another server: its statements are not snapshotted
        "same": Alias("primary"),  # the same server: its pg_stat_statements is the one snapshotted
        "legacy": Alias("mysql-1", vendor="mysql"),
    }
    monkeypatch.setattr(module, "connections", aliases)
    assert module.coverage() == module.Coverage(alias="default", database="app", others=("replica",))


def test_a_statement_on_same_named_tables_of_two_schemas_says_its_figures_may_include_both(
    client_as, plant, role_user, client
):
    skip_below(180000, "a queryid stands for same-named tables of two schemas from PostgreSQL 18")
    suffix = uuid.uuid4().hex[:8]
    other = f"planted_other_{suffix}"
    plant.sql(f"CREATE SCHEMA {other}")
    try:
        mine = plant.table(f"orders_{suffix}", "id int, tenant int", rows=5, fill="i, i")
        theirs = f"{other}.orders_{suffix}"
        plant.sql(f"CREATE TABLE {theirs} (id int, tenant int)")
        unique = plant.table(f"lonely_{suffix}", "id int, tenant int", rows=5, fill="i, i")
        # A table named like a keyword, in both schemas: a statement that only says ORDER BY names no table of it.
        plant.table('"order"', "id int")
        plant.sql(f'CREATE TABLE {other}."order" (id int)')
        take_snapshot(now=timezone.now() - timedelta(minutes=20))
        for table in (mine, theirs, unique):
            for i in range(3):
                plant.sql(f"SELECT id FROM {table} WHERE tenant = %s ORDER BY id", [i])  # noqa: S608 -- planted
        take_snapshot(now=timezone.now() - timedelta(minutes=10))
        # PostgreSQL 18 names the statement by its tables' names: both schemas' runs are one statement.
        shared = QueryText.objects.get(query__contains=f"orders_{suffix} WHERE tenant")
        lonely = QueryText.objects.get(query__contains=f"lonely_{suffix} WHERE tenant")

        response = client_as("operator").get("/queries/", {"window": "1h", "limit": 100})
        rows = {row.queryid: row for row in response.context["stats"].statements}
        assert rows[shared.queryid].calls == 6
        note = rows[shared.queryid].schema_note
        schemas = ", ".join(sorted([other, plant.schema]))
        assert f"orders_{suffix} (in {schemas})" in note and "may include all of them" in note
        assert rows[lonely.queryid].schema_note == ""
        assert response.content.decode().count('data-testid="schema-note"') == 1

        client.force_login(role_user("dba"))
        detail = client.get(f"/queries/{shared.queryid}/", {"window": "1h"}).content.decode()
        assert 'data-testid="schema-note"' in detail and f"(in {schemas})" in detail
    finally:
        plant.sql(f"DROP SCHEMA {other} CASCADE")


def test_what_a_statement_says_is_escaped_in_the_rows(client_as, plant):
    table = f'{plant.schema}."t<b>{uuid.uuid4().hex[:6]}</b>"'
    plant.sql(f"CREATE TABLE {table} (id int)")
    take_snapshot(now=timezone.now() - timedelta(minutes=20))
    for _ in range(3):
        plant.sql(f"SELECT id FROM {table} WHERE id = %s", [1])  # noqa: S608 -- a planted table
    take_snapshot(now=timezone.now() - timedelta(minutes=10))
    page = client_as("operator").get("/queries/", {"window": "1h", "order": "calls", "limit": 100}).content.decode()
    assert "&quot;t&lt;b&gt;" in page and "<b>" not in page
