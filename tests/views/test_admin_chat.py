"""Django admin over the chat tables (schemaadmin/admin_chat.py): read-only, every read audited, no whole-table
count or read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from schemaadmin.models import AuditEvent, ChatUser, Conversation, ConversationPreference, Message
from tests.chat_data import copy_messages

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def thread(db):
    """Return a user's conversation and its message (and the user's preferences)."""
    user = ChatUser.objects.create(external_id="acct-admin", email="Ada@Example.test")
    ConversationPreference.objects.create(user=user, language="en")
    conversation = Conversation.objects.create(user=user, created_at=NOW, updated_at=NOW, title="private")
    message = Message.objects.create(
        conversation=conversation, user=user, role="user", content="my card is 4111", created_at=NOW
    )
    return conversation, message


def admin_events() -> list[tuple[str, str, dict]]:
    events = AuditEvent.objects.filter(action__startswith="admin.").order_by("id")
    return [(e.action, e.target, e.detail) for e in events]


def test_superuser_reads_of_the_chat_records_are_audited_once_a_page(client_as, thread):
    conversation, message = thread
    user = conversation.user
    root = client_as("superuser")
    AuditEvent.objects.all().delete()
    listed_messages = {"messages": [message.pk], "conversations": [conversation.pk]}
    pages = [
        ("/admin/schemaadmin/message/", "schemaadmin.message", listed_messages),
        ("/admin/schemaadmin/conversation/", "schemaadmin.conversation", {"conversations": [conversation.pk]}),
        ("/admin/schemaadmin/chatuser/", "schemaadmin.chatuser", {"users": [str(user.pk)]}),
        ("/admin/schemaadmin/conversationpreference/", "schemaadmin.conversationpreference", {"users": [str(user.pk)]}),
    ]
    for path, label, shown in pages:
        assert root.get(path).status_code == 200
        assert admin_events()[-1] == ("admin.list", label, shown)
    opened = root.get(f"/admin/schemaadmin/message/{message.pk}/change/")
    assert opened.status_code == 200 and b"my card is 4111" in opened.content
    assert admin_events()[-1] == (
        "admin.view",
        f"message:{message.pk}",
        {"model": "schemaadmin.message", "conversations": [conversation.pk], "user_id": str(user.pk)},
    )
    assert root.get(f"/admin/schemaadmin/conversation/{conversation.pk}/change/").status_code == 200
    assert admin_events()[-1] == (
        "admin.view",
        f"conversation:{conversation.pk}",
        {"model": "schemaadmin.conversation", "user_id": str(user.pk)},
    )
    assert root.get(f"/admin/schemaadmin/chatuser/{user.pk}/change/").status_code == 200
    assert admin_events()[-1] == ("admin.view", f"user:{user.pk}", {"model": "schemaadmin.chatuser"})
    assert root.get(f"/admin/schemaadmin/conversation/{conversation.pk}/history/").status_code == 200
    assert admin_events()[-1][1:] == (
        f"conversation:{conversation.pk}",
        {"model": "schemaadmin.conversation", "user_id": str(user.pk), "page": "history"},
    )
    # A search is audited with what it asked; a missing record is no read.
    assert root.get("/admin/schemaadmin/message/", {"q": str(conversation.pk)}).status_code == 200
    assert admin_events()[-1][2]["query"] == f"q={conversation.pk}"
    events = len(admin_events())
    assert root.get("/admin/schemaadmin/message/999999/change/").status_code == 302
    assert len(admin_events()) == events


def test_no_one_adds_changes_or_deletes_chat_records_in_the_admin(client_as, thread):
    from schemaadmin.admin_chat import READ_ONLY

    conversation, message = thread
    root = client_as("superuser")
    AuditEvent.objects.all().delete()
    listed = root.get("/admin/schemaadmin/conversation/").content.decode()
    assert "/admin/schemaadmin/conversation/add/" not in listed and 'name="action"' not in listed
    opened = root.get(f"/admin/schemaadmin/conversation/{conversation.pk}/change/").content.decode()
    assert "/delete/" not in opened and 'name="_save"' not in opened
    assert root.get("/admin/schemaadmin/message/add/").status_code == 403
    changed = root.post(f"/admin/schemaadmin/message/{message.pk}/change/", {"content": "rewritten", "role": "user"})
    assert changed.status_code == 403
    assert root.get(f"/admin/schemaadmin/conversation/{conversation.pk}/delete/").status_code == 403
    deleted = root.post(f"/admin/schemaadmin/conversation/{conversation.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()
    assert Message.objects.get(pk=message.pk).content == "my card is 4111"
    # Each refusal is in the audit log, as the dashboard's are: the path, the method, and that no one may.
    refused = AuditEvent.objects.filter(action="access.denied").order_by("id")
    assert [(e.target, e.detail["method"], e.detail["permission"]) for e in refused] == [
        ("/admin/schemaadmin/message/add/", "GET", READ_ONLY),
        (f"/admin/schemaadmin/message/{message.pk}/change/", "POST", READ_ONLY),
        (f"/admin/schemaadmin/conversation/{conversation.pk}/delete/", "GET", READ_ONLY),
        (f"/admin/schemaadmin/conversation/{conversation.pk}/delete/", "POST", READ_ONLY),
    ]


def _counts_of_a_whole_table(queries: list[dict]) -> list[str]:
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "LIMIT" not in q["sql"].upper()]


def _unbounded_reads(queries: list[dict], table: str) -> list[str]:
    bounded = ("LIMIT", "WHERE")
    return [
        q["sql"]
        for q in queries
        if re.search(rf'FROM "{table}"', q["sql"]) and not any(word in q["sql"].upper() for word in bounded)
    ]


def test_the_chat_lists_count_no_whole_table_and_read_related_rows_with_their_page(client_as, thread):
    conversation, message = thread
    user = conversation.user
    copy_messages((conversation.pk, user.pk, "assistant", f"a {k}", 3, NOW + timedelta(seconds=k)) for k in range(30))
    for k in range(30):  # other users' conversations: list rows each naming a user
        other = ChatUser.objects.create(external_id=f"acct-{k}")
        Conversation.objects.create(user=other, created_at=NOW, updated_at=NOW, title=f"t{k}")
    root = client_as("superuser")
    root.get("/admin/")  # the session and the layout's once-a-minute reads, out of the way
    for path in ("/admin/schemaadmin/message/", "/admin/schemaadmin/conversation/"):
        with CaptureQueriesContext(connection) as listed:
            page = root.get(path)
        assert page.status_code == 200
        assert not _counts_of_a_whole_table(listed.captured_queries)
        # The session and its user, the total, the page with its conversations and users, the audit event: no
        # query per row.
        assert len(listed.captured_queries) <= 7, [q["sql"] for q in listed.captured_queries]
    with CaptureQueriesContext(connection) as opened:
        root.get(f"/admin/schemaadmin/message/{message.pk}/change/")
    assert not _unbounded_reads(opened.captured_queries, "conversations")
    assert not _unbounded_reads(opened.captured_queries, "users")


def test_the_chat_lists_page_only_so_deep_and_sort_by_their_key(client_as, thread, settings):
    conversation, message = thread
    copy_messages(
        (conversation.pk, conversation.user_id, "user", f"m {k}", 1, NOW + timedelta(seconds=k)) for k in range(300)
    )
    settings.SCHEMAADMIN = {"ADMIN_PAGES": 2}
    root = client_as("superuser")
    assert root.get("/admin/schemaadmin/message/", {"p": 2}).status_code == 200
    # Page 3 of 301 messages exists, but the admin offers two pages: OFFSET goes no deeper.
    assert root.get("/admin/schemaadmin/message/", {"p": 3})["Location"].endswith("/message/?e=1")
    with CaptureQueriesContext(connection) as listed:
        page = root.get("/admin/schemaadmin/message/", {"o": "4"})  # the content column: ignored
    ids = [row.pk for row in page.context["cl"].result_list]
    assert ids == sorted(ids, reverse=True)
    orders = [q["sql"].partition("ORDER BY")[2] for q in listed.captured_queries]
    assert not [order for order in orders if '"content"' in order]


def test_the_chat_lists_search_and_filter_only_by_indexed_keys(client_as, thread):
    conversation, message = thread
    root = client_as("superuser")

    def shown(path: str, **query: str) -> list[int]:
        return [row.pk for row in root.get(path, query).context["cl"].result_list]

    assert shown("/admin/schemaadmin/message/", q=str(message.pk)) == [message.pk]
    assert shown("/admin/schemaadmin/message/", q=str(conversation.pk)) == [message.pk]
    assert shown("/admin/schemaadmin/message/", q="card") == []  # message text is /conversations/'s search
    assert shown("/admin/schemaadmin/message/", conversation__id__exact=str(conversation.pk)) == [message.pk]
    assert shown("/admin/schemaadmin/chatuser/", q="ada@example.TEST") == [conversation.user_id]
    assert shown("/admin/schemaadmin/chatuser/", q="acct-admin") == [conversation.user_id]
    assert shown("/admin/schemaadmin/conversation/", q=str(conversation.user_id)) == [conversation.pk]
    # A filter of the model's own fields in the URL, which Django's admin allows by default: a LIKE over every message.
    assert root.get("/admin/schemaadmin/message/", {"content__icontains": "card"}).status_code == 400


def test_a_staff_account_without_superuser_status_reads_only_what_it_may_and_is_audited(client, role_user, thread):
    conversation, message = thread
    staff = role_user(None, "staff")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    AuditEvent.objects.all().delete()
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/schemaadmin/message/").status_code == 403
    assert client.get(f"/admin/schemaadmin/message/{message.pk}/change/").status_code == 403
    assert [(e.target, e.detail["permission"]) for e in AuditEvent.objects.filter(action="access.denied")] == [
        ("/admin/schemaadmin/message/", "schemaadmin.view_message"),
        (f"/admin/schemaadmin/message/{message.pk}/change/", "schemaadmin.view_message"),
    ]
    # Given the view and even the change and delete permissions, it reads (audited) and changes nothing.
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label="schemaadmin", codename__endswith="_message")
    )
    assert client.get("/admin/schemaadmin/message/").status_code == 200
    assert client.get(f"/admin/schemaadmin/message/{message.pk}/change/").status_code == 200
    assert [action for action, _, _ in admin_events()] == ["admin.list", "admin.view"]
    assert client.post(f"/admin/schemaadmin/message/{message.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Message.objects.filter(pk=message.pk).exists()
