"""Functions and operators by name, as the catalog knows them."""

from __future__ import annotations

import pytest
from django.db import connection

from schemaadmin.pg.connection import UnknownDatabase
from schemaadmin.pg.functions import RoutineName, overloads

pytestmark = pytest.mark.django_db


def test_the_catalog_lookup_returns_every_overload_and_operator_function():
    found = overloads(
        [
            RoutineName("function", None, "set_config"),
            RoutineName("function", "pg_catalog", "random"),
            RoutineName("function", "public", "random"),
            RoutineName("operator", None, "<=>"),
            RoutineName("attribute", None, "pg_read_file"),
            RoutineName("attribute", None, "random"),
            RoutineName("function", None, "SET_CONFIG"),
        ],
        search_schemas=["public"],
    )
    by_name: dict[tuple[str, str | None, str], list] = {}
    for overload in found:
        by_name.setdefault((overload.kind, overload.written_schema, overload.name), []).append(overload)
    (set_config,) = by_name["function", None, "set_config"]
    assert set_config.schema == "pg_catalog" and set_config.volatility == "v" and not set_config.security_definer
    assert set_config.signature == "set_config(text,text,boolean)"
    # random() and, from PostgreSQL 17, random(min, max) for each numeric type
    assert len(by_name["function", "pg_catalog", "random"]) >= (2 if connection.pg_version >= 170000 else 1)
    assert ("function", "public", "random") not in by_name
    assert {o.function for o in by_name["operator", None, "<=>"]} >= {"cosine_distance"}
    assert {o.schema for o in by_name["operator", None, "<=>"]} == {"public"}  # pgvector's
    assert [o.signature for o in by_name["attribute", None, "pg_read_file"]] == ["pg_read_file(text)"]
    assert ("attribute", None, "random") not in by_name  # random takes no argument, or two
    assert ("function", None, "SET_CONFIG") not in by_name


def test_an_unknown_alias_is_refused():
    with pytest.raises(UnknownDatabase):
        overloads([RoutineName("function", None, "lower")], using="nowhere")


def test_functions_sql_cannot_call_are_left_out():
    # TABLESAMPLE's system(internal) and bernoulli(internal): a field named system is no call.
    found = overloads([RoutineName("attribute", None, "system"), RoutineName("function", None, "bernoulli")])
    assert found == []
