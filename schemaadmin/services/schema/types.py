"""Column types as people write them: PostgreSQL's short aliases for format_type()'s long SQL-standard names."""

from __future__ import annotations

import re

__all__ = ["short_type"]

# format_type() spells the SQL standard's names; psql users and migrations write the aliases PostgreSQL accepts.
_ALIASES = (
    ("timestamp with time zone", "timestamptz"),
    ("timestamp without time zone", "timestamp"),
    ("time with time zone", "timetz"),
    ("time without time zone", "time"),
    ("character varying", "varchar"),
    ("bit varying", "varbit"),
    ("double precision", "float8"),
    ("character", "char"),
)
_PATTERNS = [(re.compile(rf"\b{re.escape(long)}\b"), short) for long, short in _ALIASES]


def short_type(pg_type: str) -> str:
    """Return "varchar(128)" for "character varying(128)", "timestamptz" for "timestamp with time zone", …"""
    for pattern, short in _PATTERNS:
        pg_type = pattern.sub(short, pg_type)
    # A precision comes before the zone words: "timestamp(3) with time zone", "time(0) without time zone".
    pg_type = re.sub(r"\b(timestamp|time)(\(\d+\)) with time zone\b", r"\1tz\2", pg_type)
    return re.sub(r"\b(timestamp|time)(\(\d+\)) without time zone\b", r"\1\2", pg_type)
