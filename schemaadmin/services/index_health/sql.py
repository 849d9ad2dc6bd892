"""Fix SQL helpers for finding rules: re-exported from pg/ddl.py, whose quote_identifier() is the one quoting."""

from __future__ import annotations

from schemaadmin.pg.ddl import index_name_for, literal, qualified, quote_identifier

__all__ = ["index_name_for", "literal", "qualified", "quote_identifier"]
