"""Full-text search questions asked of the server."""

from __future__ import annotations

from schemaadmin.models.chat import SEARCH_CONFIG
from schemaadmin.pg.connection import fetch_one

__all__ = ["searchable_terms", "term_is_common"]


def searchable_terms(text: str, *, using: str = "default") -> str:
    """Return the tsquery websearch_to_tsquery makes of text ('' when nothing in it is searchable)."""
    row = fetch_one(
        "SELECT websearch_to_tsquery(%(config)s::regconfig, %(text)s)::text AS query",
        {"config": SEARCH_CONFIG, "text": text},
        using=using,
    )
    return row[0] if row else ""


def term_is_common(text: str, *, using: str = "default") -> bool:
    """Return whether any word of the search is among the most common lexemes ANALYZE recorded for messages.

    A word missing from pg_stats.most_common_elems is rarer than every word listed there, however many hits
    the planner guesses for it; without statistics nothing counts as common.
    """
    row = fetch_one(
        """
        WITH query AS (
            SELECT websearch_to_tsquery(%(config)s::regconfig, %(text)s) AS terms
        ),
        lexemes AS (
            SELECT DISTINCT replace(match[1], '''''', '''') AS lexeme
            FROM query, regexp_matches(query.terms::text, '''((?:[^'']|'''')+)''', 'g') AS match
        ),
        statistics AS (
            SELECT most_common_elems::text::text[] AS common
            FROM pg_stats
            WHERE schemaname = current_schema()
              AND tablename = 'conversation_messages'
              AND attname = 'search_vector'
        )
        SELECT EXISTS (
            SELECT 1 FROM lexemes, statistics WHERE lexemes.lexeme = ANY (statistics.common)
        ) AS common
        """,
        {"config": SEARCH_CONFIG, "text": text},
        using=using,
    )
    return bool(row and row[0])
