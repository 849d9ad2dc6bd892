"""Full-text search questions asked of the server."""

from __future__ import annotations

from dataclasses import dataclass

from schemaadmin.models.chat import SEARCH_CONFIG
from schemaadmin.pg.connection import fetch_row

__all__ = ["SearchTerms", "only_common_words", "search_terms"]

# querytree()'s answer for a query whose every row could match (only excluded words): no index can look it up.
MATCHES_EVERYTHING = "T"


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """What the server makes of a search: its tsquery, the part a GIN index can look up, whether it is walkable."""

    query: str  # websearch_to_tsquery(); '' when nothing in the search is a word
    indexed: str  # querytree(query): the words a match must contain; 'T' when it needs none (only exclusions)
    walkable: bool  # plain words, each among the most common lexemes (see only_common_words)

    @property
    def matchable(self) -> bool:
        return bool(self.query)

    @property
    def indexable(self) -> bool:
        """Whether the GIN index can find the matches: at least one word a match must contain."""
        return self.indexed not in ("", MATCHES_EVERYTHING)


def search_terms(text: str, *, using: str = "default") -> SearchTerms:
    """Return what the server makes of text: its tsquery, the part the GIN index looks up, whether it is walkable.

    walkable: the search is plain words (no phrase, no exclusion), each among the most common lexemes. Such a search
    meets a page of hits within a few thousand rows of a newest-first walk of the messages. A phrase or an exclusion
    can match almost nothing even when its words are common ("the the the", "the -the"), and a word missing from
    pg_stats.most_common_elems is rarer than every word listed there: those go through the GIN index. Without
    statistics nothing counts as common. One statement answers all three (the form and the search both ask).
    """
    terms = fetch_row(
        SearchTerms,
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
        SELECT
            query.terms::text AS query,
            querytree(query.terms) AS indexed,
            query.terms::text <> ''
            AND query.terms::text !~ '<[0-9-]+>|!'
            AND EXISTS (SELECT 1 FROM statistics)
            AND NOT EXISTS (
                SELECT 1
                FROM lexemes, statistics
                WHERE NOT (lexemes.lexeme = ANY (statistics.common))
            ) AS walkable
        FROM query
        """,
        {"config": SEARCH_CONFIG, "text": text},
        using=using,
    )
    return terms or SearchTerms(query="", indexed="", walkable=False)


def only_common_words(text: str, *, using: str = "default") -> bool:
    """Return whether the search is plain words, each among the most common lexemes (SearchTerms.walkable)."""
    return search_terms(text, using=using).walkable
