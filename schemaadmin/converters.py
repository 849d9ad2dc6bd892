"""URL converters."""

from __future__ import annotations

__all__ = ["QualifiedNameConverter"]


class QualifiedNameConverter:
    """Match schema.name as pg.names.qualify() writes it: any text with a dot, slashes too (a name may hold one);
    the view splits it (pg.names.split_qualified) and answers 404 for text that names nothing."""

    regex = r"[^\x00]+\.[^\x00]+"  # a name may hold a newline, which "." would not match; never a NUL

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
