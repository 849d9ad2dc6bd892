"""Helpers the browsing views share: cursors from validated forms, partial rendering, 400 answers."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from schemaadmin.paging import Cursor, KeysetOrder

__all__ = ["cursor_from", "render_page"]


def cursor_from(data: dict[str, Any], order: KeysetOrder) -> Cursor | None:
    """Return the page cursor named in validated form data (raises CursorError when it is bad)."""
    if data.get("after"):
        return Cursor.decode(data["after"], order)
    if data.get("before"):
        return Cursor.decode(data["before"], order)
    return None


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], *, partial: str | None = None, status: int = 200
) -> HttpResponse:
    """Render the page, or only its named partial when htmx asks for it."""
    name = f"{template}#{partial}" if partial and getattr(request, "htmx", False) else template
    return render(request, name, context, status=status)
