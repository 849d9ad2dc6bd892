"""Search snippets: the marks put around a search's terms, the part of a long message that is searched for a snippet,
and the marked text as safe HTML. The hit list (services/conversations.py) and the thread (services/thread_search.py)
mark text the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db.models import Func, TextField
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

__all__ = ["MARK_END", "MARK_START", "SNIPPET_LEAD", "SNIPPET_WINDOW", "HitWindow", "highlighted", "query_words"]

MARK_START, MARK_END = "\x01", "\x02"

# ts_headline parses all of the text it is given, ~0.1 ms per kB here: snippets for a page of 51 answers of 5 kB took
# 27 ms. A message longer than SNIPPET_WINDOW characters is given from SNIPPET_LEAD characters before its first hit:
# a snippet is at most 40 words (~250 characters) around the hit, so the window holds it with room on both sides.
SNIPPET_WINDOW = 800
SNIPPET_LEAD = 300

# A lexeme in tsquery text: quoted, with quotes and backslashes doubled.
_LEXEME = re.compile(r"'((?:[^'\\]|''|\\.)*)'")


def query_words(querytree: str) -> list[str]:
    """Return the lexemes of querytree()'s text (the words a match must contain; 'T' when none), unquoted."""
    return [re.sub(r"''|\\(.)", lambda m: m.group(1) or "'", word) for word in _LEXEME.findall(querytree)]


class HitWindow(Func):
    """SNIPPET_WINDOW characters of a text, from SNIPPET_LEAD before a place where one of words appears, or from its
    start when none does: a text at most SNIPPET_WINDOW long whose hits are near its start is given whole.

    The place is where the word stands as written (a lexeme is lower-case: usually found without lower-casing the
    whole text, the costly part), else where it stands in the lower-cased text, for each word; the earliest of
    them. It finds text, not words: "before" in "beforehand" counts. When such a place comes first and the word
    itself stands more than SNIPPET_WINDOW - SNIPPET_LEAD characters after it, the snippet shows no mark.
    """

    output_field = TextField()

    def __init__(self, expression: Any, words: Sequence[str]) -> None:
        super().__init__(expression)
        self.words = list(words)

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, tuple[Any, ...]]:  # type: ignore[override]
        text, params = compiler.compile(self.get_source_expressions()[0])
        # {text} is the compiled column; the words and sizes are parameters.
        found = f"coalesce(nullif(strpos({text}, w), 0), nullif(strpos(lower({text}), w), 0))"
        first_hit = f"(SELECT min({found}) FROM unnest(%s::text[]) AS w)"  # noqa: S608
        sql = f"substr({text}, greatest(1, coalesce({first_hit}, 1) - %s), %s)"
        return sql, (*params, *params, *params, self.words, SNIPPET_LEAD, SNIPPET_WINDOW)


def highlighted(snippet: str) -> SafeString:
    """Return the snippet escaped, with the search marks turned into <mark> (message text is untrusted)."""
    return mark_safe(escape(snippet).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))
