"""The page links a list's pager offers, read from the page as a user's browser follows them."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

from django.http import HttpResponse


def pager_token(response: HttpResponse, rel: str) -> str | None:
    """Return the cursor of the pager's rel ("next" or "prev") link on the page, or None when it offers none."""
    found = re.search(rf'rel="{rel}" href="([^"]*)"', response.content.decode())
    if found is None:
        return None
    query = parse_qs(urlsplit(unescape(found.group(1))).query)
    return (query.get("after") or query.get("before") or [None])[0]
