"""Recall check pages: start from an index's page, watch the check, read recall and the ladder; bad input."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from schemaadmin.models import AuditEvent, JobState, RecallCheck
from schemaadmin.services.recall import run_recall_check, start_recall_check
from tests.recall_data import plant_items

HTMX = {"HTTP_HX_REQUEST": "true"}
FORM = {"k": "10", "samples": "20", "target": "0.9"}


@pytest.fixture
def items(plant):
    return plant_items(plant)


def test_a_dba_starts_a_check_and_is_sent_to_its_page(items, client_as):
    client = client_as("dba")
    response = client.post(f"/indexes/{items.schema}.items_ivf/recall", FORM)
    check = RecallCheck.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/recall/{check.pk}/"
    assert (check.schema_name, check.index_name, check.k, check.samples, check.target_recall) == (
        items.schema,
        "items_ivf",
        10,
        20,
        0.9,
    )
    assert check.state == JobState.QUEUED and check.job_id
    assert AuditEvent.objects.filter(action="recall.check_requested", target=f"{items.schema}.items_ivf").exists()

    page = client.get(response["Location"]).content.decode()
    assert "<html" in page and 'data-testid="state">Queued<' in page
    assert f'hx-get="/recall/{check.pk}/" hx-trigger="every 2s"' in page and "waiting for the worker" in page
    partial = client.get(response["Location"], **HTMX).content.decode()
    assert "<html" not in partial and partial.lstrip().startswith('<section id="check-state"')


def test_a_finished_check_shows_recall_latency_and_the_ladder(items, client_as):
    client = client_as("operator")
    check = start_recall_check(f"{items.schema}.items_ivf", user=None, k=10, samples=20, target=0.9)
    run_recall_check(check.pk)
    check.refresh_from_db()
    page = client.get(f"/recall/{check.pk}/").content.decode()
    assert 'data-testid="state">Succeeded<' in page and "hx-trigger" not in page
    result = check.result
    assert f'data-testid="recall">{result["recall"]:.3f}<' in page
    assert "<code>ivfflat.probes = 1</code>" in page
    for step in result["ladder"]:
        assert f"<td>{step['recall']:.3f}</td>" in page
    recommended = result["recommended"]
    assert recommended is not None
    assert f'data-testid="recommended">\n          <td>{recommended} <span class="badge' in page
    assert f"Set ivfflat.probes = {recommended}" in page
    # Times say their zone, and the viewer's browser shows the request time in theirs, as on other pages.
    assert f'<time datetime="{check.created_at:%Y-%m-%dT%H:%M:%SZ}"' in page
    assert f'started <time datetime="{check.started_at:%Y-%m-%dT%H:%M:%SZ}"' in page

    # The index's page shows the latest check to an operator, without the form.
    detail = client.get(f"/indexes/{items.schema}.items_ivf/").content.decode()
    assert (
        f'href="/recall/{check.pk}/">Check {check.pk}</a>, <time datetime="{check.created_at:%Y-%m-%dT%H:%M:%SZ}"'
        in detail
    )
    assert f"recall@10 <strong>{result['recall']:.3f}</strong>" in detail
    assert 'data-testid="recall-form"' not in detail
    # Its probes advice says which lists each value is for: the index's 20 now, or the 2 its rows call for.
    assert "4 with lists = 20 now; 1 once rebuilt with lists = 2" in detail


def test_a_failed_check_shows_its_reason(items, client_as):
    check = start_recall_check(f"{items.schema}.items_hnsw", user=None, samples=5)
    items.sql(f"DROP INDEX {items.schema}.items_hnsw")
    run_recall_check(check.pk)
    page = client_as("operator").get(f"/recall/{check.pk}/").content.decode()
    assert 'data-testid="state">Failed<' in page
    assert f'data-testid="failure">There is no index {items.schema}.items_hnsw.<' in page


def test_the_index_page_offers_the_form_to_a_dba_for_ann_indexes_only(items, client_as):
    client = client_as("dba")
    hnsw = client.get(f"/indexes/{items.schema}.items_hnsw/").content.decode()
    assert "No recall check yet." in hnsw
    assert f'action="/indexes/{items.schema}.items_hnsw/recall"' in hnsw and 'name="csrfmiddlewaretoken"' in hnsw
    btree = client.get(f"/indexes/{items.schema}.items_pkey/").content.decode()
    assert 'data-testid="recall-panel"' not in btree


def test_the_index_page_reads_the_latest_check_in_one_query(items, client_as, django_assert_max_num_queries):
    client = client_as("dba")
    for _ in range(3):
        start_recall_check(f"{items.schema}.items_hnsw", user=None, samples=5)
    newest = RecallCheck.objects.order_by("-id").first()
    client.get(f"/indexes/{items.schema}.items_hnsw/")  # warm the session and the permission cache
    with django_assert_max_num_queries(30) as captured:
        page = client.get(f"/indexes/{items.schema}.items_hnsw/").content.decode()
    assert f"Check {newest.pk}</a>" in page
    assert sum("schemaadmin_recallcheck" in q["sql"] for q in captured.captured_queries) == 1


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"k": "0"}, "k", "Ensure this value is greater than or equal to 1."),
        ({"samples": str(10**9)}, "samples", "Ensure this value is less than or equal to 1000."),
        ({"target": "2"}, "target", "Ensure this value is less than or equal to 1.0."),
        ({"target": "lots"}, "target", "Enter a number."),
        ({"k": ""}, "k", "This field is required."),
    ],
)
def test_bad_values_are_refused_with_the_form_again(items, client_as, form, field, message):
    response = client_as("dba").post(f"/indexes/{items.schema}.items_hnsw/recall", {**FORM, **form})
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(rf'data-testid="error-{field}"[^>]*>{re.escape(message)}<', page)
    assert not RecallCheck.objects.exists()
    event = AuditEvent.objects.get(action="recall.check_refused")
    assert (event.actor_username, event.target) == ("dba-user", f"{items.schema}.items_hnsw")
    assert message in event.detail["reason"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("items_pkey", "{s}.items_pkey is a btree index; recall is measured for approximate (hnsw or ivfflat)"),
        ("nope", "There is no index {s}.nope."),
    ],
)
def test_an_index_that_cannot_be_checked_is_refused_with_a_sentence(items, client_as, name, message):
    response = client_as("dba").post(f"/indexes/{items.schema}.{name}/recall", FORM)
    assert response.status_code == 400
    assert message.format(s=items.schema) in response.content.decode()
    assert not RecallCheck.objects.exists()
    event = AuditEvent.objects.get(action="recall.check_refused")
    assert (event.actor_username, event.target) == ("dba-user", f"{items.schema}.{name}")
    assert event.detail["reason"].startswith(message.format(s=items.schema))
    assert (event.detail["k"], event.detail["samples"], event.detail["target_recall"]) == (10, 20, 0.9)


@pytest.mark.django_db
def test_a_hostile_request_is_refused_and_audited_bounded(client_as):
    path = "/indexes/public." + "y" * 100_000 + "/recall"
    response = client_as("dba").post(path, {**FORM, "target": "x\x00" * 10**5})
    assert response.status_code == 400 and not RecallCheck.objects.exists()
    event = AuditEvent.objects.get(action="recall.check_refused")
    assert event.actor_username == "dba-user" and event.target.startswith("public.yyy") and len(event.target) <= 2_000
    assert event.detail["reason"] == "Target recall: Enter a number."


def test_operators_cannot_start_a_check_and_csrf_is_enforced(items, client_as, role_user):
    operator = client_as("operator")
    assert operator.post(f"/indexes/{items.schema}.items_hnsw/recall", FORM).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(role_user("dba", "dba-csrf"))
    assert strict.post(f"/indexes/{items.schema}.items_hnsw/recall", FORM).status_code == 403
    assert not RecallCheck.objects.exists()
    assert operator.get("/recall/999999/").status_code == 404
