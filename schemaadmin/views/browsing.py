"""Helpers the browsing views share: cursors from validated forms, partial rendering, 400 answers."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_tables2 import RequestConfig, Table

from schemaadmin.forms.browse import PageCursor
from schemaadmin.forms.health import DEFAULT_PER_PAGE
from schemaadmin.paging import Cursor, CursorError, KeysetOrder, Page, keyset_page, list_scope
from schemaadmin.pg.estimates import RowTotal
from schemaadmin.services.conversations import listing_total
from schemaadmin.templatetags.browse import query_with

# The parameters of a keyset page link: a link that changes the filters starts at the first page.
PAGE_PARAMETERS = frozenset({"after", "before"})

__all__ = [
    "RecordPage",
    "Widening",
    "cursor_from",
    "cursor_in",
    "paginate_table",
    "record_page",
    "render_page",
    "sort_error",
    "widenings",
]


def cursor_from(request: HttpRequest, data: dict[str, Any], order: KeysetOrder) -> Cursor | None:
    """Return the page cursor named in validated form data (raises CursorError when it is bad), placed in the list
    the request shows only when it was made for that list (paging.list_scope)."""
    return cursor_in(data, order, list_scope(request))


def cursor_in(data: dict[str, Any], order: KeysetOrder, scope: str = "") -> Cursor | None:
    """Return the cursor of validated form data's after or before, read for the list scope names ("": for none)."""
    token = data.get("after") or data.get("before")
    return Cursor.decode(token, order, scope) if token else None


@dataclass(frozen=True, slots=True)
class RecordPage:
    """One keyset page of a list of records for the one pager (includes/pager.html), or why the link is bad."""

    page: Page | None
    total: RowTotal | None
    rows: list[Any] = field(default_factory=list)
    error: str = ""  # a sentence for a bad page link (the page answers 400)


def record_page(request: HttpRequest, queryset: Any, order: KeysetOrder, *, size: int) -> RecordPage:
    """Return the page of queryset in order that the request's after/before cursor names, with the list's total."""
    paging = PageCursor(request.GET)
    if not paging.is_valid():
        return RecordPage(None, None, error=" ".join(str(e) for errors in paging.errors.values() for e in errors))
    try:
        cursor = cursor_from(request, paging.cleaned_data, order)
    except CursorError as exc:
        return RecordPage(None, None, error=str(exc))
    page = keyset_page(queryset, order, cursor=cursor, size=size)
    return RecordPage(page, listing_total(queryset), rows=page.rows)


@dataclass(frozen=True, slots=True)
class Widening:
    """A filter an empty list was asked with, and the link to the same list without it."""

    name: str
    label: str
    value: str
    url: str


def widenings(request: HttpRequest, *bound: forms.Form, keep: Collection[str] = ()) -> list[Widening]:
    """Return, for each field of the bound forms set in the request, a link to the first page without it (what an
    empty list offers as its next step). keep: fields that are not filters (an order, a page size); a cursor is
    never kept."""
    links = []
    for form in bound:
        for name, form_field in form.fields.items():
            raw = request.GET.get(name, "").strip()
            if not raw or name in keep or name in PAGE_PARAMETERS:
                continue
            choices = dict(getattr(form_field, "choices", ()))
            url = query_with(request.GET, **dict.fromkeys((name, *PAGE_PARAMETERS)))  # page_url's, as a list's links
            links.append(Widening(name, str(form_field.label or name), str(choices.get(raw, raw)), url))
    return links


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], *, partial: str | None = None, status: int = 200
) -> HttpResponse:
    """Render the page, or only its named partial when htmx asks for it (not when it restores its history: it
    swaps the answer in as the whole page)."""
    htmx = getattr(request, "htmx", None)
    name = f"{template}#{partial}" if partial and htmx and not htmx.history_restore_request else template
    return render(request, name, context, status=status)


def paginate_table(request: HttpRequest, table: Table, form: forms.Form) -> None:
    """Order the table as the request asks and show the page the form names (the last one, past the end).

    A sort key that names no sortable column is a form error (the page answers 400 saying which keys exist).
    """
    if (error := sort_error(request.GET.get(table.prefixed_order_by_field, ""), table)) is not None:
        form.add_error(None, error)
    RequestConfig(request, paginate=False).configure(table)
    data = form.cleaned_data if form.is_valid() else {}
    per_page = data.get("per_page", DEFAULT_PER_PAGE)
    last = max(1, math.ceil(len(table.rows) / per_page))
    table.paginate(per_page=per_page, page=min(data.get("page", 1), last))


def sort_error(wanted: str, table: Table) -> str | None:
    """Return why the sort keys wanted ("size", "-size,name") cannot order table, or None when they can."""
    sortable = {column.name: str(column.header) for column in table.columns if column.orderable}
    unknown = [key for key in wanted.split(",") if key.strip() and key.strip().lstrip("-") not in sortable]
    if not unknown:
        return None
    offered = ", ".join(f"{name} ({header})" for name, header in sortable.items())
    return (
        f"There is no column “{unknown[0][:40]}” to sort by. Sort by one of: {offered}; “-” before it sorts descending."
    )


def filtered_table_page(
    request: HttpRequest, template: str, form: forms.Form, table: Table, partial: str, context: dict[str, Any]
) -> HttpResponse:
    """Render a list page: the table of the rows that passed the GET's filter form, sorted and paginated.

    With the form invalid the caller passes no rows, and the page answers 400 with the form's errors. The context
    gets form, table and shown (how many rows passed) besides what the caller put in it.
    """
    paginate_table(request, table, form)
    context = {"form": form, "table": table, "shown": len(table.rows), **context}
    return render_page(request, template, context, partial=partial, status=200 if form.is_valid() else 400)
