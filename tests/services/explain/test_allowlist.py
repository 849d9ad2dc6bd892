"""The EXPLAIN console's function allowlist, judged against the real catalog."""

from __future__ import annotations

import uuid

import pglast
import pytest

from schemaadmin.services.explain.allowlist import MAX_BUILT_BYTES, function_refusal
from schemaadmin.services.explain.presets import presets

pytestmark = pytest.mark.django_db


def refusal(text: str) -> str | None:
    (raw,) = pglast.parse_sql(text)
    return function_refusal(raw.stmt)


AUDIT = (
    "SELECT CASE WHEN set_config('role','none',true) IS NOT NULL THEN (SELECT string_agg(word, ',') FROM "
    "ts_stat('select to_tsvector(''simple'', pg_read_file(''/etc/hostname''))'))::regclass END"
)

REFUSED = [
    # settings, the role among them, in every spelling the parser folds to one name
    (AUDIT, "set_config(), which changes settings"),
    ("SELECT set_config('role', 'none', true)", "set_config(), which changes settings"),
    ("SELECT PG_CATALOG.\"set_config\"('role', 'none', true)", "pg_catalog.set_config()"),
    ("SELECT U&\"\\0073et_config\"('role', 'none', true)", "set_config()"),
    ("SELECT set_config(setting_name => 'role', new_value => 'none', is_local => true)", "set_config()"),
    ("SELECT * FROM set_config('role', 'none', true)", "set_config()"),
    ("SELECT 1 FROM pg_class ORDER BY set_config('role', 'none', true)", "set_config()"),
    ("WITH r AS (SELECT set_config('role', 'none', true)) SELECT * FROM r", "set_config()"),
    ("SELECT (SELECT (SELECT set_config('role', 'none', true)))", "set_config()"),
    # SQL text planned at run time, as the session user
    ("SELECT * FROM ts_stat('SELECT search_vector FROM conversation_messages')", "ts_stat(), which runs SQL text"),
    ("SELECT ts_rewrite('a'::tsquery, 'SELECT t, s FROM aliases')", "ts_rewrite(), which runs SQL text"),
    ("SELECT query_to_xml('SELECT * FROM django_session', true, false, '')", "query_to_xml(), which runs SQL"),
    ("SELECT query_to_xml_and_xmlschema('SELECT 1', true, false, '')", "query_to_xml_and_xmlschema()"),
    ("SELECT cursor_to_xml('c', 1, true, false, '')", "cursor_to_xml()"),
    ("SELECT table_to_xml('django_session', true, false, '')", "table_to_xml(), which runs SQL"),
    ("SELECT schema_to_xml('public', true, false, '')", "schema_to_xml()"),
    ("SELECT database_to_xmlschema(true, false, '')", "database_to_xmlschema()"),
    ("SELECT xpath('/a', query_to_xml('SELECT 1', true, false, ''))", "query_to_xml()"),
    # files, large objects, WAL, replication
    ("SELECT pg_read_file('/etc/hostname')", "pg_read_file(), which reads or writes server files"),
    ("SELECT pg_read_binary_file('/etc/hostname')", "pg_read_binary_file()"),
    ("SELECT * FROM pg_ls_dir('.')", "pg_ls_dir()"),
    ("SELECT pg_stat_file('postgresql.conf')", "pg_stat_file()"),
    ("SELECT ('/etc/hostname'::text).pg_read_file", "pg_read_file(), which reads or writes server files"),
    ("SELECT lo_import('/etc/hostname')", "lo_import(), which reads or writes server files"),
    ("SELECT lo_from_bytea(0, 'x')", "lo_from_bytea(), which reads or writes large objects"),
    ("SELECT loread(lo_open(1, 262144), 10)", "loread()"),
    ("SELECT pg_logical_emit_message(true, 'x', 'y')", "pg_logical_emit_message(), which writes WAL"),
    ("SELECT pg_create_logical_replication_slot('s', 'pgoutput')", "pg_create_logical_replication_slot()"),
    ("SELECT pg_drop_replication_slot('s')", "pg_drop_replication_slot()"),
    ("SELECT pg_replication_origin_create('o')", "pg_replication_origin_create()"),
    ("SELECT pg_switch_wal()", "pg_switch_wal()"),
    # other backends, server state, statistics
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "pg_terminate_backend(), which signals"),
    ("SELECT pg_cancel_backend(1)", "pg_cancel_backend()"),
    ("SELECT pg_stat_reset()", "pg_stat_reset(), which changes the server's state"),
    ("SELECT pg_stat_reset_single_table_counters('users'::regclass)", "pg_stat_reset_single_table_counters()"),
    ("SELECT pg_reload_conf()", "pg_reload_conf()"),
    ("SELECT pg_rotate_logfile()", "pg_rotate_logfile()"),
    ("SELECT pg_import_system_collations('pg_catalog')", "pg_import_system_collations()"),
    ("SELECT pg_restore_relation_stats('relation', 'users'::regclass)", "pg_restore_relation_stats()"),
    ("SELECT pg_log_backend_memory_contexts(1)", "pg_log_backend_memory_contexts()"),
    ("SELECT pg_notify('c', 'x')", "pg_notify(), which sends a notification"),
    # locks, sequences, transaction ids
    ("SELECT pg_advisory_lock(1)", "pg_advisory_lock(), which takes advisory locks"),
    ("SELECT pg_try_advisory_xact_lock(1, 2)", "pg_try_advisory_xact_lock()"),
    ("SELECT nextval('users_id_seq')", "nextval(), which advances a sequence"),
    ("SELECT setval('users_id_seq', 1)", "setval()"),
    ("SELECT pg_current_xact_id()", "pg_current_xact_id(), which assigns a transaction id"),
    ("SELECT txid_current()", "txid_current()"),
    ("SELECT pg_export_snapshot()", "pg_export_snapshot()"),
    # volatile by the catalog, not on the short list
    ("SELECT lastval()", "lastval(), which is volatile (lastval())"),
    ("SELECT setseed(0.5)", "setseed(), which is volatile"),
    ("SELECT pg_stat_clear_snapshot()", "pg_stat_clear_snapshot(), which is volatile"),
    # names the catalog does not know: a quoted name keeps its case
    ("SELECT \"SET_CONFIG\"('role', 'none', true)", '"SET_CONFIG"(), which does not exist (a quoted name keeps'),
    ("SELECT no_such_function(1)", "no_such_function(), which does not exist; the console"),  # nothing quoted
    ("SELECT public.set_config('role', 'none', true)", "public.set_config(), which changes settings"),
    ("SELECT nosuchschema.lower('A')", "nosuchschema.lower(), which does not exist in schema nosuchschema"),
    ("SELECT 1 OPERATOR(pg_catalog.===) 1", "the operator pg_catalog.===, which does not exist"),
    # computed values turned into names: the lookup's error would repeat them
    ("SELECT email::regclass FROM users", "computed value into regclass"),
    ("SELECT (SELECT session_key FROM django_session LIMIT 1)::regclass", "into regclass"),
    ("SELECT CAST(email AS pg_catalog.regtype) FROM users", "into regtype"),
    ("SELECT email::text::regproc FROM users", "into regproc"),
    ("SELECT (u.email || 'oid')::regclass FROM users AS u", "into regclass"),
    ("SELECT regclass(email) FROM users", "into regclass"),
    ('SELECT * FROM jsonb_to_record(\'{"a": "x"}\') AS r(a regclass)', "into regclass"),
    # values too large to build
    ("SELECT length(repeat('x', 1000000000))", "repeat() for a value of about 1,000,000,000 bytes"),
    ("SELECT repeat('abcd', 5000000)", "about 20,000,000 bytes"),
    ("SELECT repeat(repeat('x', 10000), 100000)", "about 1,000,000,000 bytes"),
    ("SELECT repeat(lpad('', 1000) || 'x', 100000)", "about 100,100,000 bytes"),
    ("SELECT repeat('x', 1e9::int)", "repeat()"),
    ("SELECT repeat('x', 1000 * 1000 * 1000)", "repeat()"),
    ("SELECT repeat('x', (2 ^ 30)::int)", "repeat()"),
    ("SELECT lpad('', 100000000)", "lpad() for a value"),
    ("SELECT rpad('x', 100000000, 'y')", "rpad()"),
    ("SELECT array_fill(0, ARRAY[100000, 100000])", "array_fill()"),
    ("SELECT array_fill(0, '{100000000}')", "array_fill()"),
    ("SELECT array_fill(1, ARRAY[(SELECT 100000000)])", "array_fill() with a size computed while the query runs"),
    ("SELECT format('%1000000000s', 'x')", "format()"),
]


@pytest.mark.parametrize("text,says", REFUSED, ids=[text[:50] for text, _ in REFUSED])
def test_refused(text, says):
    sentence = refusal(text)
    assert sentence is not None and says in sentence, sentence
    assert sentence.startswith("The query ") and sentence.endswith(".")


ALLOWED = [
    "SELECT 1",
    "SELECT now(), clock_timestamp(), statement_timestamp(), random(), gen_random_uuid()",
    "SELECT count(*) FROM users",
    "SELECT date_trunc('day', created_at), count(*) FROM conversation_messages GROUP BY 1 ORDER BY 1",
    "SELECT payload->>'a', payload #>> '{a,b}', payload @> '{\"a\": 1}' FROM (SELECT '{}'::jsonb AS payload) p",
    "SELECT to_tsvector('simple', content) @@ websearch_to_tsquery('english', 'index -scan') "
    "FROM conversation_messages",
    "SELECT id FROM knowledge_base_chunks ORDER BY (embedding::halfvec(3072)) <=> "
    "(SELECT q.embedding::halfvec(3072) FROM knowledge_base_chunks AS q LIMIT 1) LIMIT 10",
    "SELECT 'users'::regclass, 'users'::text::regclass, 'int4'::regtype, NULL::regclass",
    "SELECT c.oid::regclass, i.indexrelid::regclass, a.atttypid::regtype FROM pg_class AS c, pg_index AS i, "
    "pg_attribute AS a",
    "SELECT pg_size_pretty(pg_total_relation_size('users')), pg_relation_size(c.oid) FROM pg_class AS c",
    "SELECT c.relname, c.reltuples FROM pg_class AS c WHERE c.relname LIKE 'user%' AND c.relpages BETWEEN 1 AND 9",
    "SELECT u.email FROM users AS u WHERE u.id = ANY (SELECT user_id FROM conversations) ORDER BY u.id USING >",
    "SELECT x FROM generate_series(1, 10) AS x WHERE x IS DISTINCT FROM 3 AND x NOT IN (4, 5)",
    "SELECT 'a' SIMILAR TO 'b', 'a' ILIKE 'A', -1, 2 ^ 3, NULLIF(1, 2), current_setting('work_mem')",
    "SELECT repeat('-', 80), lpad('7', 3, '0'), array_fill(0, ARRAY[3]), format('%10s|', 'x')",
    "SELECT pg_sleep(0.01)",
    "SELECT xpath('/a/text()', '<a>1</a>'::xml)",
    "SELECT * FROM users WHERE id = $1",
    # fields named like functions SQL cannot call (TABLESAMPLE's system(internal)) are only fields
    "SELECT t.system, (t).bernoulli FROM (SELECT 1 AS system, 2 AS bernoulli) AS t",
    "SELECT count(*) FROM users TABLESAMPLE system (10)",
]


@pytest.mark.parametrize("text", ALLOWED, ids=[text[:50] for text in ALLOWED])
def test_allowed(text):
    assert refusal(text) is None


def test_the_presets_pass(plant):
    for preset in presets():
        assert refusal(preset.sql) is None, preset.key


def test_a_thousand_nested_selects_are_walked_without_recursion():
    deep = "SELECT " + "(SELECT " * 1000 + "1" + ")" * 1000
    assert refusal(deep) is None
    hidden = "SELECT " + "(SELECT " * 1000 + "set_config('role', 'none', true)" + ")" * 1000
    assert "set_config()" in refusal(hidden)


@pytest.fixture
def public_functions(planter):
    """Plant functions in the public schema, as a user of the product database could; drop them afterwards."""
    tag = uuid.uuid4().hex[:8]
    names = {key: f"planted_{key}_{tag}" for key in ("volatile", "definer", "pure", "op_fn")}
    operator = "###"
    planter.sql(f"CREATE FUNCTION public.{names['volatile']}() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 1'")
    planter.sql(
        f"CREATE FUNCTION public.{names['definer']}() RETURNS int LANGUAGE sql STABLE SECURITY DEFINER AS 'SELECT 1'"
    )
    planter.sql(f"CREATE FUNCTION public.{names['pure']}(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1'")
    planter.sql(
        f"CREATE FUNCTION public.{names['op_fn']}(int, int) RETURNS int LANGUAGE sql VOLATILE AS 'SELECT $1 + $2'"
    )
    planter.sql(
        f"CREATE OPERATOR public.{operator} (LEFTARG = int, RIGHTARG = int, FUNCTION = public.{names['op_fn']})"
    )
    try:
        yield {**names, "operator": operator}
    finally:
        planter.sql(f"DROP OPERATOR public.{operator} (int, int)")
        for name in names.values():
            planter.sql(f"DROP FUNCTION public.{name}")


def test_user_defined_functions_are_judged_by_the_catalog(public_functions, db):
    names = public_functions
    assert f"{names['volatile']}(), which is volatile" in refusal(f"SELECT {names['volatile']}()")
    assert f"public.{names['volatile']}(), which is volatile" in refusal(f"SELECT public.{names['volatile']}()")
    assert "SECURITY DEFINER" in refusal(f"SELECT {names['definer']}()")
    assert refusal(f"SELECT {names['pure']}(1), public.{names['pure']}(2)") is None
    # attribute notation calls a one-argument function: x.f is f(x)
    assert refusal(f"SELECT (1).{names['pure']}") is None
    sentence = refusal("SELECT 1 ### 2")
    assert f"operator ###, whose function {names['op_fn']}() is volatile" in sentence
    assert "operator public.###" in refusal("SELECT 1 OPERATOR(public.###) 2")


def test_the_size_bound_is_ten_megabytes():
    assert MAX_BUILT_BYTES == 10 * 1024 * 1024
    assert refusal(f"SELECT repeat('x', {MAX_BUILT_BYTES})") is None
    assert refusal(f"SELECT repeat('x', {MAX_BUILT_BYTES + 1})") is not None
    # A size read while the query runs is past any check: array_fill(1, ARRAY[(SELECT 100000000)]) built 800 MB.
    for text in ("SELECT repeat('x', n) FROM generate_series(1, 3) AS n", "SELECT lpad('', (SELECT 100000000))"):
        assert "with a size computed while the query runs" in refusal(text), text
