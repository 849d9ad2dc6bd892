from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from schemaadmin.audit import asked, record_read
from schemaadmin.conf import app_settings
from schemaadmin.filters import ConversationFilter, MessageSearchFilter
from schemaadmin.forms.browse import (
    ListControls,
    ThreadControls,
    hit_link_query,
    list_query,
    operators_rewritten,
    searched_query,
    unread_operators,
)
from schemaadmin.models import Conversation, Message
from schemaadmin.paging import CursorError
from schemaadmin.permissions import permission_required
from schemaadmin.services.conversations import (
    CONVERSATION_ORDERS,
    DEFAULT_ORDER,
    SEARCH_ORDER,
    conversation_results,
    export_json,
    export_markdown,
    other_conversations,
    thread_window,
)
from schemaadmin.services.message_search import search_page
from schemaadmin.services.preferences import preferences_of, with_preferences_lock
from schemaadmin.services.thread_search import mark_hits, thread_hits
from schemaadmin.tables.browse import ConversationTable, SearchHitTable, object_url
from schemaadmin.views.browsing import PAGE_PARAMETERS, cursor_from, cursor_in, render_page, widenings

LIST_TEMPLATE = "schemaadmin/conversations/list.html"
THREAD_TEMPLATE = "schemaadmin/conversations/detail.html"


@permission_required("view_conversations")
@require_GET
def conversation_list(request: HttpRequest) -> HttpResponse:
    """List conversations by filters and order, or the messages matching a search, a keyset page at a time."""
    controls, filters = _list_forms(request.GET)
    searching = isinstance(filters, MessageSearchFilter)
    context: dict[str, object] = {
        "controls": controls,
        "filters": filters,
        "searching": searching,
        "form_key": filter_form_key(request),
        "more_filters_used": more_filters_used(request),
    }
    if not (controls.is_valid() & filters.is_valid()):
        return render_page(request, LIST_TEMPLATE, context, partial="results", status=400)

    data = controls.cleaned_data
    order = SEARCH_ORDER if searching else CONVERSATION_ORDERS[data["sort"]]
    try:
        cursor = cursor_from(request, data, order)
    except CursorError as exc:
        context["cursor_error"] = str(exc)
        return render_page(request, LIST_TEMPLATE, context, partial="results", status=400)

    if isinstance(filters, MessageSearchFilter):
        result = search_page(filters.qs, data["q"], cursor, data["size"], walk_scope=filters.walk_scope())
        role = filters.form.cleaned_data.get("role") or ""
        context["searched_role"] = Message.Role(role).label if role else ""
        context["searched_until"] = filters.form.cleaned_data.get("active_to")
        table: ConversationTable | SearchHitTable = SearchHitTable(result.page.rows)
        # A hit opens its thread at the message with the search's words marked, its role's hits stepped through, and
        # a way back to this very page of the search (its filters and cursor).
        table.hit_params = hit_link_query(data["q"], role, list_query(request.GET))
        context["operator_note"] = unread_operators(data["q"])
        if context["operator_note"]:
            context["operator_rewrite"] = operators_rewritten(data["q"])
    else:
        result = conversation_results(filters.qs, order, cursor, data["size"])
        table = ConversationTable(result.page.rows)
    # Titles, names and snippets of users' messages were read: the list and the search are audited as a thread is
    # (a search's order is always newest first: the sort asked is not what it used).
    # Which conversations the page showed, so "who saw conversation X" is answered for lists and searches too.
    action, target = ("conversation.search", "messages") if searching else ("conversation.list", "conversations")
    shown = list(dict.fromkeys(row.conversation_id if searching else row.pk for row in result.page.rows))
    asked_for = asked(data, filters.form.cleaned_data, unused={"sort"} if searching else ())
    record_read(request, action, target, **asked_for, conversations=shown)
    context.update(page=result.page, table=table, total=result.total, searched_only=result.searched_only)
    if not result.page.rows and cursor is None and not result.searched_only:
        # Nothing at all: the page says how to find more, each filter with a link to the list without it.
        widened = widenings(request, controls, filters.form, keep={"sort", "size"})
        # A search alone: listing every conversation instead is not a way to find what it looked for.
        context["widenings"] = [] if [w.name for w in widened] == ["q"] else widened
    return render_page(request, LIST_TEMPLATE, context, partial="results")


def _list_forms(query: QueryDict) -> tuple[ListControls, ConversationFilter | MessageSearchFilter]:
    """Return the list's controls and filters bound to query: a search's (the hits' filters) when q has text."""
    if query.get("q", "").strip():
        return ListControls(query), MessageSearchFilter(query, queryset=Message.objects.all())
    return ListControls(query), ConversationFilter(query, queryset=Conversation.objects.all())


def more_filters_used(request: HttpRequest) -> bool:
    """Return whether a filter besides the search is set, or an order or page size other than the first (every
    submit sends those two): the form then shows every filter on a phone too. A wrong value counts as set."""
    defaults = {"sort": DEFAULT_ORDER, "size": str(app_settings()["PAGE_SIZES"][0])}
    return any(
        str(request.GET.get(key, "")).strip() not in ("", defaults.get(key, ""))
        for key in request.GET
        if key != "q" and key not in PAGE_PARAMETERS
    )


def filter_form_key(request: HttpRequest) -> str:
    """Return what the filter form's markup depends on: the parameters (not the cursor) and the page sizes offered."""
    # Pages of one listing share the key, so paging reuses the cached form (see list.html).
    parameters = urlencode(sorted((k, v) for k, v in request.GET.lists() if k not in PAGE_PARAMETERS), doseq=True)
    return f"{parameters} {app_settings()['PAGE_SIZES']}"


def _conversation(pk: int) -> Conversation:
    return get_object_or_404(with_preferences_lock(Conversation.objects.select_related("user")), pk=pk)


def _answered_back(back: str, text: str, role: str) -> str:
    """Return back, the list's query a thread goes back to, when the list answers it with this very search (its words
    and role; its filters, page size and cursor valid); "" otherwise (back to the search alone), so "Back to the
    search" never leads to a refusal or to another search."""
    if not back:
        return ""
    controls, filters = _list_forms(QueryDict(back))
    if not isinstance(filters, MessageSearchFilter) or not (controls.is_valid() & filters.is_valid()):
        return ""
    if controls.cleaned_data["q"].strip() != text or (filters.form.cleaned_data.get("role") or "") != role:
        return ""
    try:
        cursor_in(controls.cleaned_data, SEARCH_ORDER)
    except CursorError:
        return ""
    return back


@permission_required("view_conversations")
@require_GET
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a thread: its latest messages, or the window around/before/after one message."""
    conversation = _conversation(pk)
    controls = ThreadControls(request.GET)
    # Each message links to itself: the thread's URL is reversed once, not once per message.
    thread_url = object_url("schemaadmin:conversation", conversation.pk)
    context: dict[str, object] = {"conversation": conversation, "controls": controls, "thread_url": thread_url}
    if not controls.is_valid():
        # The page still shows whose thread it is (title, user, preferences): read, so audited, as refused.
        record_read(
            request,
            "conversation.view",
            f"conversation:{conversation.pk}",
            user_id=str(conversation.user_id),
            refused=True,
        )
        context["preferences"] = preferences_of(conversation, conversation.user_id)
        return render_page(request, THREAD_TEMPLATE, context, partial="messages", status=400)
    anchor = controls.anchor()
    size = app_settings()["THREAD_WINDOW"]
    if anchor is None:
        window = thread_window(conversation, size=size)
    else:
        kind, message_id = anchor
        message = Message.objects.filter(conversation=conversation, pk=message_id).defer("search_vector").first()
        if message is None:
            raise Http404(f"Conversation {conversation.pk} has no message {message_id}.")
        window = thread_window(conversation, size=size, **{kind: message})
    text, role = controls.cleaned_data["q"], controls.cleaned_data["role"]
    # "Load older/newer": only the new messages and the next button, swapped in for the clicked one.
    loading = anchor[0] if anchor and anchor[0] in ("before", "after") and getattr(request, "htmx", False) else None
    others = [] if loading else other_conversations(conversation)
    # Opened from a search, the view says which: who searched what and read which thread; and the titles of the
    # user's other conversations the page listed beside it, as a list's event names them.
    searched = {"q": text, **({"role": role} if role else {})} if text else {}
    record_read(
        request,
        "conversation.view",
        f"conversation:{conversation.pk}",
        user_id=str(conversation.user_id),
        **({anchor[0]: anchor[1]} if anchor else {}),
        **searched,
        **({"conversations": [other.pk for other in others]} if others else {}),
    )
    context["window"] = window
    if text:
        # Opened from a search hit: the terms marked in every matching message shown (of the search's role), and the
        # thread's other hits; each link on from here keeps the search and the list's query to go back to.
        mark_hits(window.messages, text, role=role)
        # The message the page was opened at, as read above: its place among the hits is counted from it.
        current = message if anchor and anchor[0] == "around" else None
        context["hits"] = thread_hits(conversation, text, role=role, current=current)
        back = _answered_back(controls.cleaned_data["back"], text, role)
        context["search_params"] = hit_link_query(text, role, back)
        context["back_query"] = back or searched_query(text, role)
        context["operator_note"] = unread_operators(text)
    if loading:
        context["chunk"] = True
        return render_page(request, THREAD_TEMPLATE, context, partial=f"load_{loading}")
    context["other_conversations"] = others
    context["preferences"] = preferences_of(conversation, conversation.user_id)
    return render_page(request, THREAD_TEMPLATE, context)


@permission_required("view_conversations")
@require_GET
def conversation_export(request: HttpRequest, pk: int, fmt: str) -> StreamingHttpResponse:
    """Download the whole conversation as JSON or Markdown, streamed."""
    conversation = _conversation(pk)
    record_read(request, "conversation.export", f"conversation:{conversation.pk}", format=fmt)
    if fmt == "json":
        body, content_type = export_json(conversation), "application/json; charset=utf-8"
    else:
        body, content_type = export_markdown(conversation), "text/markdown; charset=utf-8"
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="conversation-{conversation.pk}.{fmt}"'
    return response
