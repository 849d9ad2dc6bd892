"""JSON on screen is formatted JSON, never a Python repr; audit details are labelled fields linked to their records."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.utils import timezone

from schemaadmin.models import AuditEvent, ChatUser, Conversation, ConversationPreference, ExplainRun, IndexRebuild

pytestmark = pytest.mark.django_db

PYTHON_REPR = re.compile(r"\{'|': |=None|\bFalse\b|\bTrue\b|\bNone\b")


def visible_text(html: str) -> str:
    """Return what a person reads: the page without tags and attributes."""
    body = html[html.index("<main") :]
    return re.sub(r"<[^>]+>", " ", body)


def test_preferences_show_formatted_json(client_as):
    user = ChatUser.objects.create(external_id="acct-prefs")
    ConversationPreference.objects.create(
        user=user, language="en", settings={"notifications": {"email": False, "sms": None}, "topics": ["billing", 3]}
    )
    page = client_as("support").get(f"/users/{user.pk}/").content.decode()
    settings_html = page[page.index('data-testid="preference-settings"') :]
    settings_html = settings_html[: settings_html.index("</dd>")]
    assert '<span class="json-key">email</span>: <span class="json-bool">false</span>' in settings_html
    assert '<span class="json-null">null</span>' in settings_html
    assert '<span class="json-string">&quot;billing&quot;</span>' in settings_html
    assert "<details" in settings_html  # collapsible
    assert not PYTHON_REPR.search(visible_text(page)), PYTHON_REPR.search(visible_text(page))


def test_audit_details_are_labelled_fields_with_links_to_their_records(client_as):
    run = ExplainRun.objects.create(sql="SELECT 1", outcome="ok")
    rebuild = IndexRebuild.objects.create(index_name="users_pkey", state="failed")
    AuditEvent.objects.create(
        action="explain.run", target=f"explain:{run.pk}", detail={"outcome": "ok", "error": "", "database": "default"}
    )
    AuditEvent.objects.create(
        action="rebuild.requested",
        target="public.users_pkey",
        detail={"rebuild": rebuild.pk, "retry_of": None, "settings": {"maintenance_work_mem": "2GB"}, "dry": False},
    )
    AuditEvent.objects.create(action="conversation.view", target="conversation:7", detail={"around": 2312})
    AuditEvent.objects.create(
        action="activity.cancel",
        target="4242",
        detail={"pid": 14862, "calls": 12345, "backend_start": "2026-12-06T11:46:13.038761+00:00"},
    )
    AuditEvent.objects.create(
        action="conversation.search", target="messages", detail={"q": "refund", "conversations": [7, 9]}
    )
    AuditEvent.objects.create(
        action="user.search",
        target="users",
        detail={"users": ["9e1d7a3c-5b2f-4c8e-a6d4-0f1e2d3c4b5b", "not-a-uuid"]},
    )
    AuditEvent.objects.create(  # keys of the other kind match no URL pattern: shown, never a 500
        action="conversation.list",
        target="conversations",
        detail={"conversations": [7, "9e1d7a3c-5b2f-4c8e-a6d4-0f1e2d3c4b5c"], "users": [12]},
    )
    page = client_as("dba").get("/audit/").content.decode()
    # A user's id is linked to the user's page; something else in the list is shown as it is.
    assert (
        '<details><summary>2 users</summary><a href="/users/9e1d7a3c-5b2f-4c8e-a6d4-0f1e2d3c4b5b/">'
        "9e1d7a3c-5b2f-4c8e-a6d4-0f1e2d3c4b5b</a> not-a-uuid</details>" in page
    )
    # What a search showed: counted, each conversation linked.
    assert (
        '<details><summary>2 conversations</summary><a href="/conversations/7/">#7</a> '
        '<a href="/conversations/9/">#9</a></details>' in page
    )
    assert "<summary>1 user</summary>" in page  # one of a kind is said in the singular, not "1 users"
    # Numbers that name a thing read as their pages write them; an amount keeps its separators.
    assert "<dt>Around</dt><dd>#2312</dd>" in page and "<dt>pid</dt><dd>14862</dd>" in page
    assert "<dt>Calls</dt><dd>12,345</dd>" in page
    # A stored instant reads as the page's times do, in the viewer's zone, not as ISO text.
    assert '<dt>Backend start</dt><dd><time datetime="2026-12-06T11:46:13Z"' in page
    assert "2026-12-06T11:46:13.038761+00:00" not in visible_text(page)
    # Events of one minute are told apart by their seconds.
    assert re.search(
        r'<time datetime="[^"]+" title="[^"]+" data-when="seconds">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC', page
    )
    assert f'<a href="/explain/{run.pk}/">explain:{run.pk}</a>' in page
    assert 'href="/indexes/public.users_pkey/"' in page
    assert f'<a href="/rebuilds/{rebuild.pk}/">rebuild {rebuild.pk}</a>' in page
    assert "<dt>Retry of</dt>" in page and "<dt>Outcome</dt><dd>ok</dd>" in page
    assert '<span class="json-key">maintenance_work_mem</span>' in page
    assert "<dt>Dry</dt><dd>no</dd>" in page
    text = visible_text(page)
    assert "retry_of=None" not in text and "error=," not in text
    assert not PYTHON_REPR.search(text), PYTHON_REPR.search(text)


@pytest.mark.parametrize("target", ["public.items_hnsw", 'public."n.idx"', "public.N Idx", 's."trail "', "a/b.c"])
def test_a_rebuild_s_target_links_to_its_index_however_its_name_is_written(target):
    from django.urls import reverse

    from schemaadmin.tables.audit_detail import target_html

    assert f'href="{reverse("schemaadmin:index", args=[target])}"' in target_html("rebuild.requested", target)
    assert "href" not in target_html("rebuild.requested", "no dot")


@pytest.mark.parametrize("levels", [3_000, 12_000])
def test_preferences_nested_thousands_deep_do_not_break_the_users_pages(client_as, levels):
    """A user's settings are what the product stored: 3,000 levels of [[…]] broke the drawing (a 500 on the user's
    and every thread's page), 12,000 Python's JSON decoder itself. Both pages open; the settings show what they can."""
    user = ChatUser.objects.create(external_id="acct-deep")
    ConversationPreference.objects.create(user=user, language="en")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE conversation_preferences SET settings = (repeat('[', %s) || repeat(']', %s))::jsonb"
            " WHERE user_id = %s",
            [levels, levels, user.pk],
        )
    now = timezone.now()
    thread = Conversation.objects.create(user=user, title="Deep", created_at=now, updated_at=now)
    support = client_as("support")
    for url in (f"/users/{user.pk}/", f"/conversations/{thread.pk}/"):
        response = support.get(url)
        assert response.status_code == 200, url
        shown = response.content.decode()
        assert "[[[[" in shown or "too deeply nested to read" in shown, url
