"""Links to one record's page, made without resolving the URL pattern per record (a list links hundreds)."""

from __future__ import annotations

from functools import cache
from uuid import UUID

from django.urls import get_script_prefix, reverse

__all__ = ["object_url"]

# A stand-in primary key per type: reversed once, then replaced by each row's key.
_STAND_IN_KEYS = {"int": "918273645546372819", "UUID": "9e1d7a3c-5b2f-4c8e-a6d4-0f1e2d3c4b5a"}


def object_url(name: str, pk: int | UUID, *, script_prefix: str | None = None) -> str:
    """Return reverse(name, args=[pk]) for an int or UUID key, resolving the URL pattern once, not per row
    (script_prefix: get_script_prefix(), read once by a caller making many)."""
    prefix = script_prefix if script_prefix is not None else get_script_prefix()
    head, tail = _url_around_key(name, type(pk).__name__, prefix)
    return f"{head}{pk}{tail}"


@cache
def _url_around_key(name: str, key_type: str, script_prefix: str) -> tuple[str, str]:
    stand_in = _STAND_IN_KEYS[key_type]
    head, found, tail = reverse(name, args=[stand_in]).partition(stand_in)
    assert found and stand_in not in tail, (name, stand_in)
    return head, tail
