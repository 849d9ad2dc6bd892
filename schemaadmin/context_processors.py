"""Template context every page's layout needs: navigation and the database it is looking at."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest

from schemaadmin.permissions import NAVIGATION, has_any_role, navigation_for
from schemaadmin.pg.server import server_name

__all__ = ["NavLink", "layout", "shortcut_keys"]

# The page "/" opens when it has no search field of its own.
_SEARCH_PAGE = "Conversations"
# More entries than this and the less used ones (NavItem.more) go under "More", so the bar keeps one row at 1200 px.
_BAR_ENTRIES = 9


@dataclass(frozen=True, slots=True)
class NavLink:
    """A menu entry as the layout shows it: label, URL and its "g" shortcut letter."""

    label: str
    url: str
    key: str
    search: bool = False
    current: str = ""  # aria-current: "page" on the entry's own page, "true" on a page under it, "" elsewhere


@cache
def shortcut_keys() -> dict[str, str]:
    """Return label -> letter for "g <letter>": each page's first letter not taken by a page before it in the menu.

    Taken over the whole NAVIGATION, not one user's share of it, so a letter means the same page for every role.
    """
    keys: dict[str, str] = {}
    for item in NAVIGATION:
        letter = next((c for c in item.label.lower() if c.isalpha() and c not in keys.values() and c != "g"), "")
        keys[item.label] = letter
    return keys


_SERVER_LABEL_TTL = 60.0
_server_label: tuple[float, str] | None = None


def _database_label() -> str:
    """Return "dbname · PostgreSQL 18.1", asked of the server at most once a minute per process."""
    global _server_label
    now = time.monotonic()
    if _server_label is None or now - _server_label[0] > _SERVER_LABEL_TTL:
        try:
            info = server_name()  # not server_info(): the database's size is not shown here
            label = f"{info.database} · PostgreSQL {info.version.split()[0]}"
        except DatabaseError:
            label = "database unreachable"
        _server_label = (now, label)
    return _server_label[1]


def layout(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not has_any_role(user):
        return {"nav_items": [], "nav_bar": [], "nav_more": [], "database_label": ""}
    keys = shortcut_keys()
    entries = navigation_for(user)
    section = _section(request.path, [url for _, url in entries])
    links = [
        NavLink(label, url, keys.get(label, ""), label == _SEARCH_PAGE, _current(request.path, url, section))
        for label, url in entries
    ]
    more = _more_labels() if len(links) > _BAR_ENTRIES else frozenset()
    return {
        "nav_items": links,
        "nav_bar": [link for link in links if link.label not in more],
        "nav_more": [link for link in links if link.label in more],
        "database_label": _database_label(),
    }


def _section(path: str, urls: list[str]) -> str:
    """Return the menu URL the page at path is under: the longest that starts it ("/" only for itself), or ""."""
    under = [url for url in urls if path == url or (url != "/" and url.endswith("/") and path.startswith(url))]
    return max(under, key=len, default="")


def _current(path: str, url: str, section: str) -> str:
    if url != section:
        return ""
    return "page" if path == url else "true"


@cache
def _more_labels() -> frozenset[str]:
    return frozenset(item.label for item in NAVIGATION if item.more)
