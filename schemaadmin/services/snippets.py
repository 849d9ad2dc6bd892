"""Search snippets: the marks put around a search's terms, and the marked text as safe HTML. The hit list
(services/message_search.py, which gives ts_headline a long message through pg.search.HitWindow) and the thread
(services/thread_search.py) mark text the same way.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

__all__ = ["MARK_END", "MARK_START", "highlighted"]

# Control characters no one types, but a chat's text may hold them (whatever a client sent): the text given to
# ts_headline is read without them (pg.search.Without), so that each mark in a snippet is one the search put there.
MARK_START, MARK_END = "\x01", "\x02"


def highlighted(snippet: str) -> SafeString:
    """Return the snippet escaped, with the search marks turned into <mark> (message text is untrusted)."""
    return mark_safe(escape(snippet).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))
