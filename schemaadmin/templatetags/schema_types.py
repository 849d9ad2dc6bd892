"""A column's type as people write it (varchar(128), timestamptz), on the schema pages."""

from __future__ import annotations

from django import template

from schemaadmin.services.schema.types import short_type as _short_type

register = template.Library()


@register.filter
def short_type(pg_type: str) -> str:
    """Return the type with PostgreSQL's short aliases: "character varying(128)" reads "varchar(128)"."""
    return _short_type(pg_type)
