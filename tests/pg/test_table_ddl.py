"""The table, sequence, extension and role statements that fixes propose: each runs on a real server as written,
and names and values are quoted whatever they hold."""

from __future__ import annotations

import pytest

from schemaadmin.pg import ddl, table_ddl
from schemaadmin.pg.ddl import Statement

pytestmark = pytest.mark.usefixtures("transactional_db")


def _run(planter, *statements: Statement) -> None:
    for statement in statements:
        assert statement.text == statement.render(planter.conn)
        statement.run(planter.conn)


def _column(planter, table: str, column: str) -> tuple | None:
    rows = planter.sql(
        """
        SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), co.collname,
               col_description(a.attrelid, a.attnum)
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON (d.adrelid, d.adnum) = (a.attrelid, a.attnum)
        LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
        WHERE a.attrelid = to_regclass(%s) AND a.attname = %s
        """,
        (table, column),
    )
    return rows[0] if rows else None


def test_column_changes_run_on_odd_names_as_written(planter):
    s = planter.schema
    planter.table('"Odd Table"', "\"Mixed Col\" varchar(10) NOT NULL DEFAULT 'a'", rows=3, fill="'x'")
    table = f'{s}."Odd Table"'
    _run(
        planter,
        table_ddl.alter_column_type(s, "Odd Table", "Mixed Col", "text", collation='pg_catalog."C"'),
        table_ddl.set_column_default(s, "Odd Table", "Mixed Col", None),
        table_ddl.set_not_null(s, "Odd Table", "Mixed Col", False),
        table_ddl.comment_on(s, "Odd Table", "Mixed Col", "it's the user's"),
    )
    assert _column(planter, table, "Mixed Col") == ("text", False, None, "C", "it's the user's")
    _run(
        planter,
        table_ddl.set_column_default(s, "Odd Table", "Mixed Col", "'b'::text"),
        table_ddl.set_not_null(s, "Odd Table", "Mixed Col", True),
        table_ddl.add_column(s, "Odd Table", "select", "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
    )
    assert _column(planter, table, "Mixed Col")[1:3] == (True, "'b'::text")
    assert _column(planter, table, "select")[:2] == ("bigint", True)
    keys = "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'p'"
    [(key,)] = planter.sql(keys, (table,))
    _run(planter, table_ddl.drop_constraint(s, "Odd Table", key), table_ddl.drop_column(s, "Odd Table", "select"))
    assert planter.sql(keys, (table,)) == []
    assert _column(planter, table, "select") is None


def test_constraints_primary_key_and_storage_parameters(planter):
    s = planter.schema
    table = planter.table("t", "id int NOT NULL, n int", rows=5, fill="i, i")
    planter.sql(f"CREATE UNIQUE INDEX t_id ON {table} (id)")
    _run(
        planter,
        table_ddl.add_constraint(s, "t", "n positive", "CHECK (n > 0) NOT VALID"),
        table_ddl.validate_constraint(s, "t", "n positive"),
        table_ddl.add_primary_key_using_index(s, "t", "t_id"),
        table_ddl.reset_table_parameters(s, "t", ["autovacuum_enabled", "toast.autovacuum_enabled"]),
    )
    constraints = planter.sql(
        "SELECT conname, contype, convalidated FROM pg_constraint WHERE conrelid = %s::regclass AND contype <> 'n' "
        "ORDER BY 1",
        (table,),
    )
    assert constraints == [("n positive", "c", True), ("t_id", "p", True)]  # the index became the key, its name kept
    assert planter.sql("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (table,)) == [(None,)]
    _run(planter, table_ddl.analyze(s, "t"), table_ddl.vacuum(s, "t", full=True, analyze=True))
    assert table_ddl.vacuum(freeze=True).text == "VACUUM (FREEZE)"
    with pytest.raises(ValueError, match="schema"):
        table_ddl.vacuum(table="t")


def test_sequence_statements_lift_a_bound_and_widen_the_type(planter):
    s = planter.schema
    planter.sql(f'CREATE SEQUENCE {s}."Seq" AS integer MAXVALUE 100')
    _run(planter, table_ddl.alter_sequence(s, "Seq", no_bound="MAXVALUE"))
    assert planter.sql("SELECT max_value FROM pg_sequences WHERE schemaname = %s", (s,)) == [(2**31 - 1,)]
    _run(planter, table_ddl.alter_sequence(s, "Seq", as_bigint=True))
    assert planter.sql("SELECT data_type::text FROM pg_sequences WHERE schemaname = %s", (s,)) == [("bigint",)]
    for wrong in ({}, {"as_bigint": True, "no_bound": "MAXVALUE"}, {"no_bound": "MAXVALUE; DROP TABLE x"}):
        with pytest.raises(ValueError):
            table_ddl.alter_sequence(s, "Seq", **wrong)


def test_role_server_and_extension_statements_quote_what_they_are_given():
    # Written for a DBA to run as a superuser: here their text, each name and value quoted whatever it holds.
    assert (
        ddl.script(table_ddl.alter_system("shared_preload_libraries", "pg_stat_statements, it's"))
        == "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements, it''s';"
    )
    assert table_ddl.alter_system("max_connections", 200).text == "ALTER SYSTEM SET max_connections = 200"
    assert (
        table_ddl.alter_role_setting('app"; DROP ROLE x; --', "idle_in_transaction_session_timeout", "5min").text
        == """ALTER ROLE "app""; DROP ROLE x; --" SET idle_in_transaction_session_timeout = '5min'"""
    )
    assert table_ddl.grant_role("pg_read_all_stats", "App").text == 'GRANT pg_read_all_stats TO "App"'
    assert table_ddl.grant_select_on_sequences("s", "r").text == "GRANT SELECT ON ALL SEQUENCES IN SCHEMA s TO r"
    assert table_ddl.update_extension("vector", to="0.8.0'").text == "ALTER EXTENSION vector UPDATE TO '0.8.0'''"
    assert table_ddl.create_extension("Odd").text == 'CREATE EXTENSION IF NOT EXISTS "Odd"'
    assert table_ddl.drop_extension("vector").text == "DROP EXTENSION vector"


def test_trigger_and_function_statements_run_on_odd_names_as_written(planter):
    s = planter.schema
    planter.table('"Odd Table"', "id int")
    planter.sql(f'CREATE FUNCTION {s}."Odd fn"(a int, "b b" text) RETURNS int LANGUAGE sql AS $$SELECT a$$')
    planter.sql(f'CREATE FUNCTION {s}."touch"() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$')
    made = f'CREATE TRIGGER "Odd; trg" BEFORE INSERT ON {s}."Odd Table" FOR EACH ROW EXECUTE FUNCTION {s}.touch()'
    _run(planter, table_ddl.create_from_catalog(made + "\n"))

    def firing() -> list:
        return planter.sql("SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'Odd; trg'")

    for wanted, flag in (("disabled", "D"), ("enabled replica", "R"), ("enabled always", "A"), ("enabled", "O")):
        _run(planter, table_ddl.set_trigger_firing(s, "Odd Table", "Odd; trg", wanted))
        assert firing() == [(flag,)]
    _run(planter, table_ddl.drop_trigger(s, "Odd Table", "Odd; trg"), table_ddl.drop_trigger(s, "Odd Table", "gone"))
    assert firing() == []
    arguments = planter.sql(
        "SELECT pg_get_function_identity_arguments(p.oid) FROM pg_proc p WHERE p.proname = 'Odd fn'"
    )[0][0]
    assert arguments == 'a integer, "b b" text'
    _run(planter, table_ddl.drop_function(s, "Odd fn", arguments))
    assert planter.sql("SELECT 1 FROM pg_proc WHERE proname = 'Odd fn'") == []
