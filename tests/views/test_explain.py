"""The EXPLAIN console page: with and without htmx, bad input, history and permalinks."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from schemaadmin.models import AuditEvent, ChatUser, Conversation, ExplainRun
from schemaadmin.pg.explain_failures import CANCELLED
from schemaadmin.services.explain.summary import plan_summary
from tests.versions import skip_below

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_console_shows_the_form_presets_and_history(client_as):
    client = client_as("dba")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    user = ChatUser.objects.create(external_id="acct-explain")
    conversation = Conversation.objects.create(user=user, created_at=now, updated_at=now)
    page = client.get("/explain/").content.decode()
    assert 'name="sql"' in page and "font-monospace" in page
    assert "A user&#x27;s latest conversations" in page or "A user's latest conversations" in page
    assert f"conversation_id%20%3D%20{conversation.pk}%0A" in page  # the thread preset holds a real id
    assert "kNN over knowledge-base chunks" in page and "No runs yet." in page
    assert 'href="/explain/"' in page  # the navigation entry


def test_a_preset_link_fills_the_editor(client_as):
    page = client_as("dba").get("/explain/", {"sql": "SELECT 1\n    -- kept", "ef_search": "40"}).content.decode()
    assert "SELECT 1\n    -- kept</textarea>" in page
    assert 'value="40"' in page


@pytest.mark.parametrize(
    ("parameters", "said"),
    [
        ({"ef_search": "-5"}, "ef_search: Ensure this value is greater than or equal to 1."),
        ({"ef_search": "forty"}, "ef_search: Enter a whole number."),
        ({"compare": "maybe"}, "compare: Select a valid choice."),
        ({"runs": "bogus"}, "runs: Select a valid choice."),
        ({"sql": "SELECT 1 /*\x00*/"}, "sql: Null characters are not allowed."),
    ],
)
def test_a_link_s_wrong_parameter_is_said_and_not_filled_in(client_as, parameters, said):
    response = client_as("dba").get("/explain/", {"sql": "SELECT 2", "ef_search": "40", **parameters})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This link's parameters were not used" in page and said in page
    assert 'value="-5"' not in page and "\x00" not in page  # nothing of it in the form
    assert 'name="sql"' in page  # the console is there to use


def test_running_a_query_shows_summary_and_plan(client_as):
    client = client_as("dba")
    response = client.post("/explain/", {"sql": "SELECT count(*) FROM pg_class", "analyze": "on", "buffers": "on"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" in page.lower() and 'data-testid="explain-summary"' in page
    assert "Execution time" in page and "Slowest nodes" in page
    plan = json.loads(re.search(r'<script id="plan-json" type="application/json">(.*?)</script>', page, re.S)[1])
    assert plan[0]["Plan"]["Node Type"] == "Aggregate"
    run = ExplainRun.objects.get()
    assert run.outcome == "ok" and run.options["ANALYZE"] is True
    assert f'href="/explain/{run.pk}/"' in page
    assert AuditEvent.objects.filter(action="explain.run", target=f"explain:{run.pk}").exists()


# PEV2 holds the browser while it draws (a minute for 900 nested nodes): a plan past the limit is drawn when asked.
def test_a_plan_with_more_nodes_than_the_limit_is_not_drawn_until_asked(client_as, settings):
    client = client_as("dba")
    nested = "SELECT (SELECT (SELECT (SELECT 1)))"
    page = client.post("/explain/", {"sql": nested}).content.decode()
    assert 'data-pev2="plan-json"' in page and "data-pev2-deferred" not in page and "Draw the diagram" not in page
    nodes = plan_summary(ExplainRun.objects.get().plan).node_count
    assert nodes > 2
    settings.SCHEMAADMIN = {"EXPLAIN_DIAGRAM_MAX_NODES": nodes - 1}
    for page in (
        client.post("/explain/", {"sql": nested}, **HTMX).content.decode(),
        client.get(f"/explain/{ExplainRun.objects.latest('pk').pk}/").content.decode(),
    ):
        assert 'data-testid="explain-summary"' in page and 'id="plan-json"' in page  # the plan is on the page
        assert re.search(r'data-pev2="plan-json"[^>]* data-pev2-deferred [^>]*hidden>', page)
        assert f"Draw the diagram ({nodes} nodes, may be slow)</button>" in page


def test_a_query_with_placeholders_says_its_plan_is_generic_and_not_run(client_as):
    skip_below(160000, "EXPLAIN GENERIC_PLAN is PostgreSQL 16's")
    client = client_as("dba")
    page = client.post("/explain/", {"sql": "SELECT * FROM pg_class WHERE oid = $1", "analyze": "on"}).content.decode()
    assert 'data-testid="generic-plan"' in page and "not run, even with ANALYZE ticked" in page
    assert "tick ANALYZE for times" not in page
    page = client.post("/explain/", {"sql": "SELECT 1"}).content.decode()
    assert "tick ANALYZE for times" in page and 'data-testid="generic-plan"' not in page


def test_htmx_gets_only_the_result(client_as):
    response = client_as("dba").post("/explain/", {"sql": "SELECT 1"}, **HTMX)
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page.lower() and page.lstrip().startswith('<section id="result"')
    assert 'data-pev2="plan-json"' in page
    # The history list is swapped too (out of band), now holding the new run.
    run = ExplainRun.objects.get()
    assert 'id="history" hx-swap-oob="true"' in page and f'href="/explain/{run.pk}/"' in page


def test_a_refusal_is_a_sentence_not_a_traceback(client_as):
    response = client_as("dba").post("/explain/", {"sql": "DELETE FROM auth_user"}, **HTMX)
    assert response.status_code == 400
    page = response.content.decode()
    assert "DELETE writes rows" in page and "Traceback" not in page
    assert ExplainRun.objects.get().outcome == "refused"


def test_a_syntax_error_marks_the_position(client_as):
    response = client_as("dba").post("/explain/", {"sql": "SELECT 1\nFROMM x"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Syntax error" in page and "line 2: FROMM x" in page


@pytest.mark.parametrize(
    "data,says",
    [
        ({"sql": ""}, "Write a query to explain"),
        ({"sql": "   "}, "Enter a query to explain."),
        ({"sql": "\n\t \n"}, "Enter a query to explain."),
        ({"sql": "SELECT 1", "timeout_ms": "abc"}, "Enter a whole number."),
        ({"sql": "SELECT 1", "timeout_ms": "99999999"}, "At most 60,000 ms."),
        ({"sql": "SELECT 1", "database": "other"}, "Select a valid choice."),
        ({"sql": "SELECT " + "1+" * 20_000 + "1"}, "the limit is 20,000"),
        ({"sql": "SELECT 1 /*\x00*/"}, "Null characters are not allowed."),
        ({"sql": "SELECT 1 -- " + "x\x00" * 10**6}, "Null characters are not allowed."),
        ({"sql": "SELECT 1", "database": "x\x00" * 10**5}, "Select a valid choice."),
    ],
)
def test_bad_input_is_a_400_with_the_reason_and_audited_without_a_run(client_as, data, says):
    """Nothing was run, so no run is recorded; the refusal is audited, with a bounded excerpt of the text."""
    response = client_as("dba").post("/explain/", data, **HTMX)
    assert response.status_code == 400
    assert says in response.content.decode()
    assert not ExplainRun.objects.exists()
    assert not AuditEvent.objects.filter(action="explain.run").exists()
    event = AuditEvent.objects.get(action="explain.run_refused")
    database = data.get("database", "default")  # the database asked for, as the event's target: bounded, NUL-free
    assert (event.actor_username, event.target) == ("dba-user", database[:2_000].replace("\x00", "\ufffd"))
    assert says in event.detail["reason"] and len(event.detail["reason"]) <= 2_000
    sql = data["sql"]
    assert event.detail["sql_chars"] == len(sql) and event.detail["sql"] == sql[:500].replace("\x00", "\u2400")


def test_the_permalink_shows_a_recorded_run(client_as):
    client = client_as("dba")
    client.post("/explain/", {"sql": "SELECT relname FROM pg_class", "analyze": "on"})
    run = ExplainRun.objects.get()
    page = client.get(f"/explain/{run.pk}/").content.decode()
    assert "SELECT relname FROM pg_class</textarea>" in page
    assert 'data-testid="explain-summary"' in page and 'id="plan-json"' in page
    assert client.get("/explain/999999/").status_code == 404


def test_running_needs_the_permission(client_as):
    response = client_as("operator").post("/explain/", {"sql": "SELECT 1"})
    assert response.status_code == 403
    assert not ExplainRun.objects.exists()


def test_two_runs_compare_side_by_side(client_as):
    client = client_as("dba")
    client.post("/explain/", {"sql": "SELECT * FROM pg_class WHERE oid = 1259", "analyze": "on", "buffers": "on"})
    client.post("/explain/", {"sql": "SELECT * FROM pg_class ORDER BY relname", "analyze": "on", "buffers": "on"})
    before, after = ExplainRun.objects.order_by("pk")
    response = client.get("/explain/compare/", {"a": before.pk, "b": after.pk})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Execution time (ms)" in page and "Shared buffers (hit + read)" in page
    assert 'data-differs="1"' in page  # an index lookup against a sort over a scan
    assert 'data-testid="same-run"' not in page
    itself = client.get("/explain/compare/", {"a": before.pk, "b": before.pk}).content.decode()
    assert f"Both sides are run #{before.pk}: nothing differs." in itself
    # Two runs' queries and plans were shown: audited as a run's own page is.
    shown = AuditEvent.objects.filter(action="explain.compare").order_by("id")
    assert [(e.target, e.detail["compared_to"], e.actor_username) for e in shown] == [
        (f"explain:{before.pk}", after.pk, "dba-user"),
        (f"explain:{before.pk}", before.pk, "dba-user"),
    ]


def test_the_compare_page_opened_without_runs_is_a_form_to_fill_in(client_as):
    response = client_as("dba").get("/explain/compare/")
    page = response.content.decode()
    assert response.status_code == 200 and "This field is required" not in page and 'name="a"' in page
    assert not AuditEvent.objects.filter(action="explain.compare").exists()


@pytest.mark.parametrize("query,status", [({"a": "x", "b": "1"}, 400), ({"a": "999998", "b": "999999"}, 404)])
def test_comparing_needs_two_existing_runs(client_as, query, status):
    assert client_as("dba").get("/explain/compare/", query).status_code == status


def test_a_refused_run_cannot_be_compared(client_as):
    client = client_as("dba")
    client.post("/explain/", {"sql": "DELETE FROM auth_user"})
    client.post("/explain/", {"sql": "SELECT 1"})
    refused, ok = ExplainRun.objects.order_by("pk")
    response = client.get("/explain/compare/", {"a": refused.pk, "b": ok.pk})
    assert response.status_code == 400 and "Only completed runs" in response.content.decode()


def test_options_the_server_lacks_are_not_offered(client_as, monkeypatch):
    client = client_as("dba")
    monkeypatch.setattr("schemaadmin.views.explain.server_version", lambda: 180001)
    assert 'name="serialize"' in client.get("/explain/").content.decode()
    monkeypatch.setattr("schemaadmin.views.explain.server_version", lambda: 160004)
    page = client.get("/explain/").content.decode()
    assert 'name="serialize"' not in page and 'name="memory"' not in page and 'name="wal"' in page


# Runs are shared among DBAs: history lists one's own unless asked for everyone's; permalinks and comparisons
# work across DBAs; other roles see none of it.
def test_runs_are_shared_among_dbas_and_history_shows_ones_own_by_default(client, role_user):
    ann, bob = role_user("dba", "ann"), role_user("dba", "bob")
    client.force_login(ann)
    client.post("/explain/", {"sql": "SELECT 1 AS anns", "analyze": "on"})
    client.force_login(bob)
    client.post("/explain/", {"sql": "SELECT 2 AS bobs", "analyze": "on"})
    anns, bobs = ExplainRun.objects.order_by("pk")
    page = client.get("/explain/").content.decode()
    assert f'href="/explain/{bobs.pk}/"' in page and f'href="/explain/{anns.pk}/"' not in page
    assert 'aria-current="page" href="/explain/">Your runs' in page and "by bob" not in page
    page = client.get("/explain/", {"runs": "all"}).content.decode()
    assert f'href="/explain/{bobs.pk}/"' in page and f'href="/explain/{anns.pk}/"' in page
    assert "by ann" in page and "by bob" in page
    assert 'aria-current="page" href="/explain/?runs=all">All DBAs' in page
    page = client.get(f"/explain/{anns.pk}/").content.decode()
    assert "SELECT 1 AS anns</textarea>" in page and "by ann" in page
    assert client.get("/explain/compare/", {"a": anns.pk, "b": bobs.pk}).status_code == 200


@pytest.mark.parametrize("role", ["support", "operator"])
def test_other_roles_cannot_read_runs(client, role_user, role):
    dba = role_user("dba", "dana")
    client.force_login(dba)
    client.post("/explain/", {"sql": "SELECT 1", "analyze": "on"})
    client.post("/explain/", {"sql": "SELECT 2", "analyze": "on"})
    first, second = ExplainRun.objects.order_by("pk")
    client.force_login(role_user(role))
    assert client.get("/explain/").status_code == 403
    assert client.get("/explain/", {"runs": "all"}).status_code == 403
    assert client.get(f"/explain/{first.pk}/").status_code == 403
    assert client.get("/explain/compare/", {"a": first.pk, "b": second.pk}).status_code == 403


# The page says when the console lacks its own login role.
def test_the_page_warns_while_queries_run_through_set_role(client_as, settings):
    client = client_as("dba")
    settings.SCHEMAADMIN_EXPLAIN_LOGIN = None
    page = client.get("/explain/").content.decode()
    assert 'data-testid="explain-fallback"' in page and "No\n  temp-file limit holds" in page
    assert "<code>manage.py create_explain_role</code>" in page and "SCHEMAADMIN_EXPLAIN_DATABASE_URL" in page
    settings.SCHEMAADMIN_EXPLAIN_LOGIN = {"user": "schemaadmin_explain", "password": None, "host": None, "port": None}
    assert 'data-testid="explain-fallback"' not in client.get("/explain/").content.decode()


# A run is on record while it runs; one whose process died reads as interrupted.
def test_running_and_interrupted_runs_say_so(client_as, django_user_model):
    client = client_as("dba")
    user = django_user_model.objects.get()
    running = ExplainRun.objects.create(user=user, sql="SELECT 1", outcome="running", options={"timeout_ms": 100})
    died = ExplainRun.objects.create(user=user, sql="SELECT 2", outcome="running", options={"timeout_ms": 100})
    ExplainRun.objects.filter(pk=died.pk).update(created_at=datetime(2026, 1, 1, tzinfo=UTC))
    page = client.get("/explain/").content.decode()
    assert ">Running</span>" in page and ">Interrupted</span>" in page
    assert "This run has not finished yet." in client.get(f"/explain/{running.pk}/").content.decode()
    page = client.get(f"/explain/{died.pk}/").content.decode()
    assert "This run was interrupted: its process ended before it recorded how the run ended." in page


# A run another session cancelled is neither an error of the query nor timed out, in the history and its permalink.
def test_a_cancelled_run_says_so(client_as, django_user_model):
    client = client_as("dba")
    user = django_user_model.objects.get()
    run = ExplainRun.objects.create(
        user=user, sql="SELECT 1", outcome="cancelled", error=CANCELLED, options={"timeout_ms": 100}
    )
    assert '<span class="badge text-bg-warning">Cancelled</span>' in client.get("/explain/").content.decode()
    page = client.get(f"/explain/{run.pk}/").content.decode()
    assert ">Cancelled</span>" in page and "cancelled by another session" in page


# Time: the form keeps a run inside the web server's request timeout, and says so.
def test_the_timeout_field_says_and_keeps_its_limit(client_as, settings):
    client = client_as("dba")
    page = client.get("/explain/").content.decode()
    assert "at most 60,000 ms" in page and "90 s request timeout" in page
    settings.SCHEMAADMIN_REQUEST_TIMEOUT_SECONDS = 30
    page = client.get("/explain/").content.decode()
    assert "at most 15,000 ms" in page and "30 s request timeout" in page
    response = client.post("/explain/", {"sql": "SELECT 1", "timeout_ms": "20000"}, **HTMX)
    assert response.status_code == 400 and "At most 15,000 ms." in response.content.decode()
    assert not ExplainRun.objects.exists()
