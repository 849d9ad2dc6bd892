"""Search snippets: the marks put around a search's terms, and the marked text as safe HTML. The hit list
(services/message_search.py, which gives ts_headline a long message through pg.search.HitWindow) and the thread
(services/thread_search.py) mark text the same way.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Value
from django.db.models.functions import Replace
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from schemaadmin.pg.search import Without

__all__ = ["MARK_END", "MARK_START", "headline_source", "highlighted", "unprotected"]

# Control characters no one types, but a chat's text may hold them (whatever a client sent): the text given to
# ts_headline is read without them (pg.search.Without), so that each mark in a snippet is one the search put there.
MARK_START, MARK_END = "\x01", "\x02"
# ts_headline drops what its parser reads as an HTML tag: `print("<b>x</b>")` came back as `print(" x ")`. It is
# given each "<" as this character instead, and the text gets them back (unprotected) before it is escaped.
TAG_OPEN = "\x03"


def headline_source(expression: Any) -> Replace:
    """Return the text ts_headline is given for expression: without the marks' characters, its "<" protected."""
    return Replace(Without(expression, MARK_START + MARK_END + TAG_OPEN), Value("<"), Value(TAG_OPEN))


def unprotected(headline: str) -> str:
    """Return ts_headline's text with its "<" back."""
    return headline.replace(TAG_OPEN, "<")


def highlighted(snippet: str) -> SafeString:
    """Return the snippet escaped, with the search marks turned into <mark> (message text is untrusted)."""
    return mark_safe(escape(unprotected(snippet)).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))
