"""Full-text search questions asked of the server."""

from __future__ import annotations

from schemaadmin.models.chat import SEARCH_CONFIG
from schemaadmin.pg.connection import fetch_one

__all__ = ["searchable_terms"]


def searchable_terms(text: str, *, using: str = "default") -> str:
    """Return the tsquery websearch_to_tsquery makes of text ('' when nothing in it is searchable)."""
    row = fetch_one(
        "SELECT websearch_to_tsquery(%(config)s::regconfig, %(text)s)::text AS query",
        {"config": SEARCH_CONFIG, "text": text},
        using=using,
    )
    return row[0] if row else ""
