"""URL converters."""

from __future__ import annotations

__all__ = ["QualifiedNameConverter"]


class QualifiedNameConverter:
    """Match schema.name (split at the first dot by the view); PostgreSQL names never contain a slash here."""

    regex = r"[^/.]+\.[^/]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
