"""A rebuild's live part says the state it is in, and keeps following until the recall check after it has ended."""

from __future__ import annotations

import pytest
from django.utils import timezone

from schemaadmin.models import IndexRebuild, JobState, RecallCheck

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def dba(client_as):
    return client_as("dba")


def succeeded(seconds_ago: float, **fields) -> IndexRebuild:
    now = timezone.now()
    values = {"schema_name": "public", "index_name": "kb_chunks_embedding_hnsw", "table_name": "knowledge_base_chunks"}
    return IndexRebuild.objects.create(
        **{"method": "hnsw", "state": JobState.SUCCEEDED, **values, **fields},
        started_at=now - timezone.timedelta(seconds=seconds_ago + 5),
        finished_at=now - timezone.timedelta(seconds=seconds_ago),
    )


def live(client, rebuild: IndexRebuild) -> str:
    response = client.get(f"/rebuilds/{rebuild.pk}/", **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_a_success_just_seen_keeps_polling_for_the_recall_check_queued_after_it(dba):
    rebuild = succeeded(1)
    page = live(dba, rebuild)
    assert 'hx-trigger="every 2s"' in page  # the check is queued a moment after the success: keep watching
    assert "A recall check of the rebuilt index follows" in page and "Queued" not in page

    check = RecallCheck.objects.create(
        schema_name="public", index_name=rebuild.index_name, state=JobState.QUEUED, rebuild=rebuild
    )
    page = live(dba, rebuild)
    assert 'hx-trigger="every 2s"' in page and f"Recall check {check.pk} of the rebuilt index is queued" in page
    assert 'data-testid="recall-checks"' in page and 'hx-swap-oob="true"' in page  # the list outside is updated

    RecallCheck.objects.filter(pk=check.pk).update(state=JobState.SUCCEEDED, result={"recall": 0.97})
    page = live(dba, rebuild)
    assert "hx-trigger" not in page and f"Recall check {check.pk}: succeeded, recall 0.970." in page


def test_polling_stops_when_no_check_can_follow(dba):
    assert "hx-trigger" not in live(dba, succeeded(300))  # long ago: the check would have been queued
    assert "hx-trigger" not in live(dba, succeeded(1, method="btree", index_name="users_pkey"))  # no recall
    failed = succeeded(1, state=JobState.FAILED, error="boom")
    page = live(dba, failed)
    assert "hx-trigger" not in page and "Failed; the old index is untouched." in page
