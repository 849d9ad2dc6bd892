"""schema.name as pages, URLs and lookups write it: every pair of names reads back as the same pair."""

from __future__ import annotations

import itertools

import pytest

from schemaadmin.pg.names import db_table_parts, qualify, split_qualified

ODD = [
    "s",
    "public",
    "a.b",
    "dot.sch",
    '"q"',
    'a""b',
    "trail ",
    " lead",
    "a/b",
    "My Table",
    "表",
    "new\nline",
    ".",
    '"',
]


def test_every_pair_of_names_splits_back_into_itself():
    for schema, name in itertools.product(ODD, ODD):
        assert split_qualified(qualify(schema, name)) == (schema, name), (schema, name, qualify(schema, name))


def test_two_tables_whose_dotted_names_read_alike_stay_two():
    assert qualify("dot.sch", "x") == '"dot.sch".x'
    assert qualify("dot", "sch.x") == 'dot."sch.x"'


def test_plain_names_are_written_as_they_are():
    assert qualify("public", "users") == "public.users"
    assert qualify("s", "My Table", "Col A") == "s.My Table.Col A"  # no dot, quote or edge space: as typed


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("public.a.b", ("public", "a.b")),  # an unquoted name is the rest, as before names were quoted
        ('s."trail "', ("s", "trail ")),
        ('"a""b".c', ('a"b', "c")),
        ("nodot", None),
        (".x", None),
        ("s.", None),
        ('"".x', None),
        ("public.users\x00", None),  # no PostgreSQL name holds a NUL
    ],
)
def test_split_qualified(text, parts):
    assert split_qualified(text) == parts


def test_rebuilds_of_look_alike_indexes_take_two_queueing_locks():
    from schemaadmin.services.rebuilds import control

    assert control._queueing_lock("default", "s.z", "i") != control._queueing_lock("default", "s", "z.i")


@pytest.mark.parametrize(
    ("db_table", "parts"),
    [
        ('"other"."legacy"', ("other", "legacy")),
        ('other"."legacy', ("other", "legacy")),  # Django quotes it into the same
        ('"Other"."legacy ""t"""', ("Other", 'legacy "t"')),
        ("legacy_t", (None, "legacy_t")),
        ("a.b", (None, "a.b")),  # unquoted, a dot is part of the name
    ],
)
def test_a_model_s_db_table_names_its_schema_only_when_quoted_so(db_table, parts):
    assert db_table_parts(db_table) == parts
