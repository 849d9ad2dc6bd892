"""DDL statements on a real server: recreated definitions, quoting, leftovers, lock retries, notices, cancel."""

from __future__ import annotations

import psycopg
import pytest

from schemaadmin.pg import ddl, identifiers, table_ddl
from schemaadmin.pg.bulk import index_definition
from schemaadmin.pg.index_builds import (
    LockRetriesExhausted,
    build_settings,
    build_settings_in_use,
    cancel_build,
    leftover_indexes,
    open_build_connection,
    run_under_lock_timeout,
    setting_reset_bytes,
    temporary_index_name,
)
from schemaadmin.pg.indexes import index as index_state
from tests.planting import connect_to_test_database

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture
def build_conn():
    notices: list[str] = []
    conn = open_build_connection(application_name="test ddl", on_notice=notices.append)
    conn.notices = notices  # type: ignore[attr-defined]
    yield conn
    conn.close()


def _definition_without_name(definition: str, name: str) -> str:
    return definition.replace(f"INDEX {name} ON", "INDEX ? ON", 1)


def _recreate(build_conn, schema: str, index_name: str, **changes) -> ddl.Statement:
    """Build a copy of index schema.index_name from its catalog parts, with changes; return the statement run."""
    info = index_state(schema, index_name)
    assert info is not None
    statement = ddl.create_index(ddl.index_definition_of(info, **changes))
    statement.run(build_conn)
    return statement


def test_replacement_keeps_keys_collation_order_include_and_predicate(planter, build_conn):
    table = planter.table("docs", "id int, title text, body text", rows=50, fill="i, 'title ' || i, 'b'")
    planter.sql(
        f'CREATE INDEX docs_title ON {table} (title COLLATE "C" DESC NULLS LAST, lower(body)) '
        "INCLUDE (id) WITH (fillfactor = 70) WHERE id > 3"
    )
    old = index_definition("docs_title", schema=planter.schema)
    assert old is not None
    _recreate(build_conn, planter.schema, "docs_title", name="docs_title_new", options={"fillfactor": 80})
    new = index_definition("docs_title_new", schema=planter.schema)
    assert new is not None
    expected = _definition_without_name(old, "docs_title").replace("fillfactor='70'", "fillfactor='80'")
    assert _definition_without_name(new, "docs_title_new") == expected


def test_ivfflat_to_hnsw_keeps_the_halfvec_cast_and_operator_class(planter, build_conn):
    table = planter.table(
        "chunks", "id int, embedding vector(8)", rows=200, fill="i, array_fill(i::real, ARRAY[8])::vector"
    )
    planter.sql(
        f"CREATE INDEX chunks_ivf ON {table} USING ivfflat ((embedding::halfvec(8)) halfvec_cosine_ops) "
        "WITH (lists = 4)"
    )
    _recreate(
        build_conn,
        planter.schema,
        "chunks_ivf",
        name="chunks_hnsw",
        method="hnsw",
        options={"m": 8, "ef_construction": 32},
    )
    state = index_state(planter.schema, "chunks_hnsw")
    assert state is not None and state.is_valid and state.method == "hnsw"
    new = index_definition("chunks_hnsw", schema=planter.schema)
    assert "USING hnsw (((embedding)::halfvec(8)) halfvec_cosine_ops) WITH (m='8', ef_construction='32')" in new


def test_quoted_names_and_parentheses_inside_literals(planter, build_conn):
    planter.sql(f'CREATE TABLE {planter.schema}."Odd (table)" ("we(ird" text)')
    planter.sql(f"""CREATE INDEX "odd (idx)" ON {planter.schema}."Odd (table)" (("we(ird" || ') WITH (')) """)
    old = index_definition("odd (idx)", schema=planter.schema)
    statement = _recreate(build_conn, planter.schema, "odd (idx)", name="odd new", options={})
    assert statement.text.startswith(f'CREATE INDEX CONCURRENTLY "odd new" ON {planter.schema}."Odd (table)"')
    new = index_definition("odd new", schema=planter.schema)
    assert _definition_without_name(new, '"odd new"') == _definition_without_name(old, '"odd (idx)"')


def _invalid_unique_index(planter, table: str, name: str) -> None:
    """Leave an INVALID index behind the way a failed concurrent build does."""
    with pytest.raises(psycopg.errors.UniqueViolation):
        planter.sql(f'CREATE UNIQUE INDEX CONCURRENTLY "{name}" ON {table} (v)')


def test_leftovers_are_this_index_s_invalid_ccnew_ccold_and_temporary_only(planter, build_conn):
    table = planter.table("t", "v int", rows=10, fill="1")
    planter.sql(f"CREATE INDEX t_v ON {table} (v)")
    for name in ("t_v_ccnew", "t_v_ccold1", temporary_index_name("t_v"), "other_ccnew", "t_v_bak"):
        _invalid_unique_index(planter, table, name)
    assert leftover_indexes(planter.schema, "t", "t_v") == ["t_v_ccnew", "t_v_ccold1", "t_v_sa_new"]
    for name in leftover_indexes(planter.schema, "t", "t_v"):
        run_under_lock_timeout(build_conn, ddl.drop_index(planter.schema, name, if_exists=True))
    assert leftover_indexes(planter.schema, "t", "t_v") == []
    assert index_state(planter.schema, "t_v").is_valid
    assert index_state(planter.schema, "other_ccnew") is not None


def test_a_leftover_of_an_index_whose_name_starts_another_s_is_not_that_other_s(planter, build_conn):
    """t_v_ccnew is REINDEX's leftover of t_v, not of t_v_long: a rebuild of t_v_long dropped it. A name cut to fit
    63 bytes is still found: REINDEX of a 62-character name leaves its first 57 characters + _ccnew."""
    table = planter.table("t", "v int", rows=10, fill="1")
    long = "k" * 60 + "_x"
    for name in ("t_v", "t_v_long", long):
        planter.sql(f"CREATE INDEX {name} ON {table} (v)")
    cut = "k" * 57 + "_ccnew"
    for name in ("t_v_ccnew", "t_v_long_ccold", cut):
        _invalid_unique_index(planter, table, name)
    assert leftover_indexes(planter.schema, "t", "t_v_long") == ["t_v_long_ccold"]
    assert leftover_indexes(planter.schema, "t", "t_v") == ["t_v_ccnew"]
    assert leftover_indexes(planter.schema, "t", long) == [cut]


def test_a_leftover_name_of_60_bytes_or_more_is_a_cut_one_only_when_the_whole_would_not_fit(planter, build_conn):
    """REINDEX of x*55 leaves x*55_ccnew, 61 bytes and whole: it is not the leftover of x*55_b, whose own would not
    have been cut (57 + 6 bytes fit). A multibyte name is cut at a character's edge: REINDEX of é*31 (62 bytes)
    leaves é*28_ccnew, 62 bytes; y*58 + _ccold is 64 bytes, cut to y*57_ccold."""
    table = planter.table("t", "v int", rows=10, fill="1")
    short, longer, accented, just_over = "x" * 55, "x" * 55 + "_b", "é" * 31, "y" * 58
    for name in (short, longer, accented, just_over):
        planter.sql(f'CREATE INDEX "{name}" ON {table} (v)')
    _invalid_unique_index(planter, table, short + "_ccnew")
    _invalid_unique_index(planter, table, "é" * 28 + "_ccnew")
    _invalid_unique_index(planter, table, "y" * 57 + "_ccold")  # y*58 + _ccold is 64 bytes: cut by one
    assert leftover_indexes(planter.schema, "t", longer) == []
    assert leftover_indexes(planter.schema, "t", short) == [short + "_ccnew"]
    assert leftover_indexes(planter.schema, "t", accented) == ["é" * 28 + "_ccnew"]
    assert leftover_indexes(planter.schema, "t", just_over) == ["y" * 57 + "_ccold"]


def test_temporary_name_fits_postgres_limit():
    long = "x" * 63
    assert len(temporary_index_name(long).encode()) == 63
    assert temporary_index_name("é" * 40).endswith("_sa_new")
    assert len(temporary_index_name("é" * 40).encode()) <= 63
    assert temporary_index_name("items_hnsw") == "items_hnsw_sa_new"


def test_two_long_names_sharing_their_first_56_bytes_get_different_temporary_names():
    """Both were cut to the same kkk…k_sa_new: one rebuild's clean-up dropped the other's only valid replacement."""
    first, second = "k" * 56 + "_a", "k" * 56 + "_b"
    assert temporary_index_name(first) != temporary_index_name(second)
    assert all(len(temporary_index_name(name).encode()) <= 63 for name in (first, second))
    assert temporary_index_name(first) == temporary_index_name(first)  # found again by the next clean-up


def test_rename_retries_until_the_lock_is_free(planter, build_conn):
    table = planter.table("r", "v int")
    planter.sql(f"CREATE INDEX r_v ON {table} (v)")
    holder = connect_to_test_database(autocommit=False)
    # A transaction holding a lock on the index that renaming needs too.
    holder.execute(f"ALTER INDEX {planter.schema}.r_v SET (fillfactor = 80)")
    retries: list[int] = []

    def release_after_the_first_refusal(attempt: int, why: str) -> None:
        # Released once the first attempt was refused, not after a guessed time: on a busy machine a timer could
        # release the lock before the first attempt asked for it, and the rename would not have been retried.
        retries.append(attempt)
        if attempt == 1:
            holder.rollback()

    try:
        attempts = run_under_lock_timeout(
            build_conn,
            ddl.rename_index(planter.schema, "r_v", "r_v2"),
            lock_timeout_ms=100,
            attempts=50,
            pause=0.05,
            on_retry=release_after_the_first_refusal,
        )
    finally:
        holder.close()
    assert attempts == 2 and retries == [1]
    assert index_state(planter.schema, "r_v2") is not None
    assert build_conn.execute("SHOW lock_timeout").fetchone()[0] == "0"


def test_rename_gives_up_after_its_attempts(planter, build_conn):
    table = planter.table("g", "v int")
    planter.sql(f"CREATE INDEX g_v ON {table} (v)")
    with connect_to_test_database(autocommit=False) as holder:
        holder.execute(f"ALTER INDEX {planter.schema}.g_v SET (fillfactor = 80)")
        with pytest.raises(LockRetriesExhausted, match="3 attempts"):
            rename = ddl.rename_index(planter.schema, "g_v", "g_v2")
            run_under_lock_timeout(build_conn, rename, lock_timeout_ms=50, attempts=3, pause=0.01)
    assert index_state(planter.schema, "g_v") is not None


def test_session_settings_and_notices(build_conn):
    for statement in build_settings(maintenance_work_mem_bytes=256 * 2**20, max_parallel_maintenance_workers=0):
        statement.run(build_conn)
    used = build_settings_in_use(build_conn)
    assert used == {"maintenance_work_mem": "256MB", "max_parallel_maintenance_workers": "0"}
    # Only this session changed: a new session still gets the server's value.
    assert setting_reset_bytes("maintenance_work_mem") != 256 * 2**20
    build_conn.execute("DO $$ BEGIN RAISE NOTICE 'hnsw graph no longer fits'; END $$")
    assert build_conn.notices == ["NOTICE: hnsw graph no longer fits"]


def test_cancel_build_touches_only_a_backend_that_builds(build_conn):
    assert cancel_build(build_conn.info.backend_pid) is False
    assert build_conn.execute("SELECT 1").fetchone() == (1,)


def test_ivfflat_with_the_default_operator_class_becomes_hnsw(planter, build_conn):
    # pg_get_indexdef leaves ivfflat's default vector_l2_ops out, and hnsw has no default for vector.
    table = planter.table(
        "docs", "id int, embedding vector(4)", rows=50, fill="i, array_fill(i::real, ARRAY[4])::vector"
    )
    planter.sql(f"CREATE INDEX docs_ivf ON {table} USING ivfflat (embedding) WITH (lists = 2)")
    _recreate(build_conn, planter.schema, "docs_ivf", name="docs_hnsw", method="hnsw", options={"m": 8})
    assert "USING hnsw (embedding vector_l2_ops) WITH (m='8')" in index_definition("docs_hnsw", schema=planter.schema)


def test_every_key_part_survives_a_copy_from_the_catalog(planter, build_conn):
    # Collations (of a key and of a column declared with one), opclasses, ordering, expressions, INCLUDE, WHERE.
    table = planter.table("parts", 'a int, "B c" text COLLATE "C", f text, e vector(3)')
    planter.sql(
        f'CREATE UNIQUE INDEX parts_all ON {table} ((e::halfvec(3)), lower(f) COLLATE "POSIX" DESC NULLS LAST, '
        f'"B c" text_pattern_ops, (a + 1) NULLS FIRST) INCLUDE (f) WHERE a IS NOT NULL'
    )
    old = index_definition("parts_all", schema=planter.schema)
    _recreate(build_conn, planter.schema, "parts_all", name="parts_copy")
    new = index_definition("parts_copy", schema=planter.schema)
    assert _definition_without_name(new, "parts_copy") == _definition_without_name(old, "parts_all")


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("users", "users"),
        ("user", '"user"'),  # reserved
        ("between", '"between"'),  # a column-name keyword: quote_ident() quotes it too
        ("name", "name"),  # unreserved
        ("Users", '"Users"'),
        ("a b", '"a b"'),
        ('say "hi"', '"say ""hi"""'),
        ("9lives", '"9lives"'),
        ("été", '"été"'),
        ("a$b", '"a$b"'),
    ],
)
def test_names_are_quoted_as_quote_ident_quotes_them(name, written, planter):
    assert identifiers.quote_identifier(name) == written
    assert planter.conn.execute("SELECT quote_ident(%s)", (name,)).fetchone()[0] == written


def test_a_name_with_nul_is_refused():
    with pytest.raises(ValueError, match="NUL"):
        ddl.drop_index("public", "a\x00b")


def test_statements_render_as_they_run(planter, build_conn):
    table = planter.table("shown", "v int")
    planter.sql(f"CREATE INDEX shown_v ON {table} (v)")
    for statement in (
        ddl.setting("lock_timeout", "1500ms"),
        ddl.rename_index(planter.schema, "shown_v", "Shown V"),
        ddl.reindex_index(planter.schema, "Shown V"),
        ddl.setting_reset("lock_timeout"),
        ddl.drop_index(planter.schema, "Shown V", if_exists=True),
    ):
        statement.run(build_conn)
        assert statement.text == statement.render(build_conn)
    assert index_state(planter.schema, "Shown V") is None
    assert ddl.script(table_ddl.analyze("s", "t"), "-- then", table_ddl.vacuum("s", "t", analyze=True)) == (
        "ANALYZE s.t;\n-- then\nVACUUM (ANALYZE) s.t;"
    )


def test_what_create_index_does_not_write_is_set_by_statements_of_its_own(planter, build_conn):
    """A replacement's tablespace, comment, CLUSTER mark and statistics targets (services/rebuilds/script.py)."""
    s = planter.schema
    table = planter.table("kept", "id int, title text", rows=10, fill="i, 'x' || i")
    planter.sql(f'CREATE INDEX "Kept lower" ON {table} (id, lower(title))')
    index = index_state(s, "Kept lower")
    assert (index.tablespace, index.comment, index.is_clustered) == (None, None, False)
    assert index.key_statistics == (None, None) and index.may_create_in_tablespace
    in_default = ddl.create_index(ddl.index_definition_of(index, name="k2", tablespace="pg_default"))
    assert in_default.text.endswith("USING btree (id, lower(title)) TABLESPACE pg_default")
    in_default.run(build_conn)
    for statement in (
        ddl.comment_on_index(s, "Kept lower", "it's the \\ one"),
        ddl.set_index_column_statistics(s, "Kept lower", 2, 500),
        ddl.cluster_on(s, "kept", "Kept lower"),
    ):
        statement.run(build_conn)
        assert statement.text == statement.render(build_conn)
    assert ddl.cluster_on(s, "kept", "Kept lower").text == f'ALTER TABLE {s}.kept CLUSTER ON "Kept lower"'
    index = index_state(s, "Kept lower")
    assert (index.comment, index.is_clustered, index.key_statistics) == ("it's the \\ one", True, (None, 500))
    ddl.comment_on_index(s, "Kept lower", None).run(build_conn)
    assert index_state(s, "Kept lower").comment is None


def test_a_partitioned_index_is_made_again_over_every_partition_from_the_server_s_text_or_not_at_all():
    made = ddl.create_over_partitions(
        "Select",
        unique=True,
        server_definition='CREATE UNIQUE INDEX "Select" ON ONLY s.t USING btree (a) NULLS NOT DISTINCT',
    )
    assert made is not None and made.text == 'CREATE UNIQUE INDEX "Select" ON s.t USING btree (a) NULLS NOT DISTINCT'
    # Text that does not read as the server writes this index's definition: the caller builds it from its parts.
    assert ddl.create_over_partitions("x", unique=False, server_definition="CREATE INDEX x ON s.t (a)") is None
    assert ddl.create_over_partitions("x", unique=True, server_definition="CREATE INDEX x ON ONLY s.t (a)") is None
    assert ddl.create_over_partitions("X", unique=False, server_definition="CREATE INDEX X ON ONLY s.t (a)") is None
