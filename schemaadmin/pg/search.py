"""Full-text search questions asked of the server."""

from __future__ import annotations

from dataclasses import dataclass

from schemaadmin.models.chat import SEARCH_CONFIG
from schemaadmin.pg.connection import fetch_one

__all__ = ["SearchTerms", "search_terms"]

# querytree()'s answer for a query whose every row could match (only excluded words): no index can look it up.
MATCHES_EVERYTHING = "T"


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """What the server makes of a search: its tsquery, and the part of it a GIN index can look up."""

    query: str  # websearch_to_tsquery(); '' when nothing in the search is a word
    indexed: str  # querytree(query): the words a match must contain; 'T' when it needs none (only exclusions)

    @property
    def matchable(self) -> bool:
        return bool(self.query)

    @property
    def indexable(self) -> bool:
        """Whether the GIN index can find the matches: at least one word a match must contain."""
        return self.indexed not in ("", MATCHES_EVERYTHING)


def search_terms(text: str, *, using: str = "default") -> SearchTerms:
    """Return the tsquery websearch_to_tsquery makes of text and the part of it the GIN index can look up."""
    row = fetch_one(
        """
        SELECT terms::text AS query,
               querytree(terms) AS indexed
        FROM websearch_to_tsquery(%(config)s::regconfig, %(text)s) AS terms
        """,
        {"config": SEARCH_CONFIG, "text": text},
        using=using,
    )
    return SearchTerms(query=row[0], indexed=row[1]) if row else SearchTerms(query="", indexed="")
