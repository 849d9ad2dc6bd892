from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from schemaadmin.audit import asked, record_read
from schemaadmin.conf import app_settings
from schemaadmin.filters import users_matching
from schemaadmin.forms.browse import PageCursor, UserSearch
from schemaadmin.models import ChatUser, Conversation
from schemaadmin.paging import CursorError, KeysetOrder, keyset_page
from schemaadmin.permissions import permission_required
from schemaadmin.services.conversations import (
    CONVERSATION_ORDERS,
    DEFAULT_ORDER,
    conversation_page,
    listing_total,
    user_conversation_total,
)
from schemaadmin.services.preferences import preferences_of, with_preferences_lock
from schemaadmin.tables.browse import ConversationTable, UserTable
from schemaadmin.views.browsing import cursor_from, render_page

# Newest users first, over users (created_at DESC, id DESC).
USER_ORDER = KeysetOrder(
    "users", (("k_created", lambda: F("created_at")), ("k_id", lambda: F("id"))), True, kinds=(datetime, UUID)
)
# The users a search finds, by name then id: sorted after the finder's indexes found them (a few thousand at most for
# a surname at 100,000 users), a page at a time.
USER_NAME_ORDER = KeysetOrder(
    "users-by-name", (("k_name", lambda: F("display_name")), ("k_id", lambda: F("id"))), False, kinds=(str, UUID)
)


@permission_required("view_conversations")
@require_GET
def user_list(request: HttpRequest) -> HttpResponse:
    """Find a user by external id, email or the start of a name or surname; without a search, list the newest users."""
    form = UserSearch(request.GET)
    context: dict[str, object] = {"form": form}
    if not form.is_valid():
        return render_page(request, "schemaadmin/users/list.html", context, partial="results", status=400)
    size = _page_size()
    query = form.cleaned_data["q"]
    # A search's users by name, every page of them: the first 50 alone left 7 of 57 Garcias out of reach.
    order = USER_NAME_ORDER if query else USER_ORDER
    try:
        cursor = cursor_from(request, form.cleaned_data, order)
    except CursorError as exc:
        context["cursor_error"] = str(exc)
        return render_page(request, "schemaadmin/users/list.html", context, partial="results", status=400)
    users = users_matching(query) if query else ChatUser.objects.all()
    page = keyset_page(users, order, cursor=cursor, size=size)
    total = listing_total(users)
    action = "user.search" if form.cleaned_data["q"] else "user.list"
    record_read(request, action, "users", **asked(form.cleaned_data), users=[str(user.pk) for user in page.rows])
    context.update(page=page, table=UserTable(page.rows), total=total)
    return render_page(request, "schemaadmin/users/list.html", context, partial="results")


@permission_required("view_conversations")
@require_GET
def user_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    """Show one user: who they are, their preferences, their conversations (latest activity first)."""
    form = PageCursor(request.GET)
    order = CONVERSATION_ORDERS[DEFAULT_ORDER]
    try:
        if not form.is_valid():  # a link both ways, too long, or with a NUL: said, not read as the first page
            raise CursorError(" ".join(str(error) for errors in form.errors.values() for error in errors))
        cursor = cursor_from(request, form.cleaned_data, order)
    except CursorError as exc:
        user = _chat_user(pk)
        refused = {"chat_user": user, "preferences": preferences_of(user, user.pk), "cursor_error": str(exc)}
        record_read(request, "user.view", f"user:{user.pk}", refused=True)  # the card and preferences are shown
        return render_page(request, "schemaadmin/users/detail.html", refused, partial="conversations", status=400)
    conversations = Conversation.objects.filter(user_id=pk)
    # The user, and whether their preferences' table is locked, come with the page's rows (one round trip fewer);
    # read apart only for a user without conversations, or past the last page.
    page = conversation_page(with_preferences_lock(conversations.select_related("user")), order, cursor, _page_size())
    user = page.rows[0].user if page.rows else _chat_user(pk)
    preferences = preferences_of(page.rows[0] if page.rows else user, user.pk)
    # Which of their conversations the page listed (titles were read), as a list's event says it.
    shown = [conversation.pk for conversation in page.rows]
    record_read(request, "user.view", f"user:{user.pk}", **asked(form.cleaned_data), conversations=shown)
    context: dict[str, object] = {
        "chat_user": user,
        "preferences": preferences,
        "page": page,
        "table": ConversationTable(
            page.rows,
            exclude=("user",),
            empty_text="No conversations past this page." if cursor else "This user has no conversations yet.",
        ),
        "total": user_conversation_total(conversations),
    }
    return render_page(request, "schemaadmin/users/detail.html", context, partial="conversations")


def _chat_user(pk: UUID) -> ChatUser:
    return get_object_or_404(with_preferences_lock(ChatUser.objects.all()), pk=pk)


def _page_size() -> int:
    return app_settings()["PAGE_SIZES"][0]
