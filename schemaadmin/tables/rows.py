"""The rows of a table's <tbody> as django-tables2's template writes them, for the tables that write their own."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from django.utils.html import format_html

__all__ = ["Cell", "body_rows"]


class Cell(Protocol):
    def cell(self, record: Any) -> str: ...


def body_rows(
    records: Iterable[Any], row_open: Callable[[int, Any], str], columns: Sequence[Cell], empty_text: str | None
) -> list[str]:
    """Return the HTML parts of the rows: row_open(counter, record), a cell per column, </tr>; or the empty text."""
    parts: list[str] = []
    counter = -1
    for counter, record in enumerate(records):
        parts.append(row_open(counter, record))
        parts.extend([column.cell(record) for column in columns])
        parts.append("</tr>")
    if counter < 0 and empty_text:
        parts.append(format_html('<tr><td colspan="{}">{}</td></tr>', len(columns), empty_text))
    return parts
