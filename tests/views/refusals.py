"""How a page says a refused filter: once, in the alert that stands in for its results, its field marked refused."""

from __future__ import annotations

import re

__all__ = ["said_once"]


def said_once(page: str, region: str, message: str) -> str:
    """Assert the page says message once, in a role="alert" within region (the part of the page standing in for the
    results), and that its one refused field is described by an element there; return that element's id."""
    assert page.count(message) == 1, page.count(message)
    assert 'role="alert"' in region and message in region
    (field,) = re.findall(r"<(?:input|select)[^>]*aria-invalid=\"true\"[^>]*>", page)
    described = re.search(r'aria-describedby="(?:[^"]* )?([^" ]*_error)[ "]', field)
    assert described and f'id="{described.group(1)}"' in region, field
    return described.group(1)
