"""A hostile corpus through the whole EXPLAIN console: nothing changed, nothing leaked, nothing left behind.

Every statement goes through the public explain() service with ANALYZE, against the live server, under three
ways the console can run: its own LOGIN role, the SET ROLE fallback from the application's connection, and that
fallback from a superuser session (the audit's set-up). Around each run a second connection takes a snapshot
of what a query could change or leave behind; planted secrets (a product user's email, a django_session key, a
row of a planted table, a file on the server) must appear nowhere in the result, the ExplainRun or the audit.
"""

# ruff: noqa: S608 -- the SQL names objects planted by the test itself

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pglast
import psycopg
import pytest
from django.conf import settings
from django.db import connections

from schemaadmin.embedded import EMBEDDED_SUPERUSER
from schemaadmin.models import AuditEvent, ExplainRun
from schemaadmin.pg.connection import connection_params
from schemaadmin.services.explain.allowlist import function_refusal
from schemaadmin.services.explain.run import explain
from schemaadmin.services.explain.statement import Refused, checked_statement

# The audit's statement, verbatim: set_config resets the role, ts_stat plans its SQL text as the session user,
# and the regclass cast's error message would print what pg_read_file read.
AUDIT = (
    "SELECT CASE WHEN set_config('role','none',true) IS NOT NULL THEN (SELECT string_agg(word, ',') FROM "
    "ts_stat('select to_tsvector(''simple'', pg_read_file(''/etc/hostname''))'))::regclass END"
)

# REFUSED: the console must not run it at all. NOT_OK: refused, failed or timed out. ANY: may even run.
REFUSED, NOT_OK, ANY = "refused", "not ok", "any"
DEEP = 1000

HOSTILE: list[tuple[str, str]] = [
    # SQL text planned at run time, as the session user
    (AUDIT, REFUSED),
    ("SELECT * FROM ts_stat('SELECT to_tsvector(''simple'', session_key) FROM django_session')", REFUSED),
    ("SELECT string_agg(word, ',') FROM ts_stat('SELECT to_tsvector(''simple'', token) FROM {t}')", REFUSED),
    (
        "SELECT ts_rewrite('a'::tsquery, "
        "'SELECT to_tsquery(''simple'', session_key), ''a''::tsquery FROM django_session')",
        REFUSED,
    ),
    ("SELECT ts_rewrite('a'::tsquery, 'a'::tsquery, 'b'::tsquery)", REFUSED),
    ("SELECT query_to_xml('SELECT * FROM django_session', true, false, '')", REFUSED),
    ("SELECT query_to_xml_and_xmlschema('SELECT pg_read_file(''{file}'')', true, false, '')", REFUSED),
    ("SELECT query_to_xmlschema('SELECT 1', true, false, '')", REFUSED),
    ("SELECT table_to_xml('django_session', true, false, '')", REFUSED),
    ("SELECT table_to_xml('{t}', true, false, '')::text::regclass", REFUSED),
    ("SELECT schema_to_xml('public', true, false, '')", REFUSED),
    ("SELECT database_to_xml(true, false, '')", REFUSED),
    ("SELECT cursor_to_xml('c', 10, true, false, '')", REFUSED),
    ("SELECT xpath('//text()', query_to_xml('SELECT session_key FROM django_session', true, false, ''))", REFUSED),
    (
        "SELECT * FROM XMLTABLE('//row' PASSING query_to_xml('SELECT * FROM django_session', true, false, '') "
        "COLUMNS k text PATH 'session_key')",
        REFUSED,
    ),
    ("SELECT xmlparse(document '<!DOCTYPE x [<!ENTITY e SYSTEM \"file://{file}\">]><x>&e;</x>')", ANY),
    ("SELECT xpath('/x/text()', '<!DOCTYPE x [<!ENTITY e SYSTEM \"file://{file}\">]><x>&e;</x>'::xml)", ANY),
    ("SELECT dblink('dbname=postgres', 'SELECT 1')", REFUSED),
    # the role and session authorization, in every spelling
    ("SELECT set_config('role', 'none', true)", REFUSED),
    ("SELECT set_config('session_authorization', '" + EMBEDDED_SUPERUSER + "', true)", REFUSED),
    ("SELECT PG_CATALOG.set_config('role', 'none', true)", REFUSED),
    ("SELECT pg_catalog.\"set_config\"('role', 'none', true)", REFUSED),
    ("SELECT \"set_config\"('role', 'none', true)", REFUSED),
    ("SELECT \"SET_CONFIG\"('role', 'none', true)", REFUSED),
    ("SELECT set_config(setting_name => 'role', new_value => 'none', is_local => true)", REFUSED),
    ("SELECT set_config(x, 'none', true) FROM (VALUES ('role')) AS v(x)", REFUSED),
    ("SELECT * FROM set_config('role', 'none', true) AS s, django_session", REFUSED),
    ("SELECT 1 FROM pg_class WHERE set_config('role', 'none', true) IS NOT NULL LIMIT 1", REFUSED),
    ("SELECT 1 FROM (SELECT 1) AS s ORDER BY set_config('role', 'none', true)", REFUSED),
    ("SELECT count(*) FILTER (WHERE set_config('role', 'none', true) IS NULL) FROM pg_class", REFUSED),
    ("SELECT array_agg(x ORDER BY set_config('role', 'none', true)) FROM generate_series(1, 2) AS x", REFUSED),
    (
        "WITH r AS MATERIALIZED (SELECT set_config('role', 'none', true)) "
        "SELECT (SELECT session_key FROM django_session LIMIT 1) FROM r",
        REFUSED,
    ),
    ("VALUES (set_config('role', 'none', true))", REFUSED),
    ("SELECT set_config('search_path', '{schema}, pg_catalog', true)", REFUSED),
    ("SELECT set_config('transaction_read_only', 'off', true)", REFUSED),
    ("SELECT set_config('default_transaction_read_only', 'off', false)", REFUSED),
    ("SELECT set_config('statement_timeout', '0', true), pg_sleep(5)", REFUSED),
    ("SELECT CASE WHEN set_config('role', 'none', true) IS NOT NULL THEN pg_terminate_backend({victim}) END", REFUSED),
    (
        "SELECT CASE WHEN set_config('role', 'none', true) IS NOT NULL "
        "THEN pg_create_physical_replication_slot('hostile_slot') END",
        REFUSED,
    ),
    ("SELECT CASE WHEN set_config('role', 'none', true) IS NOT NULL THEN pg_stat_reset() END", REFUSED),
    # attribute notation: x.f is f(x)
    ("SELECT ('{file}'::text).pg_read_file", REFUSED),
    ("SELECT (x).pg_read_file FROM (SELECT '{file}'::text AS x) AS s", REFUSED),
    ("SELECT ('role'::text).set_config", NOT_OK),
    ("SELECT (s.k).pg_ls_dir FROM (SELECT '/tmp'::text AS k) AS s", REFUSED),
    # error messages as oracles: they may run, but must not carry the value
    ("SELECT email::regclass FROM users", REFUSED),
    ("SELECT (SELECT session_key FROM django_session LIMIT 1)::regclass", REFUSED),
    ("SELECT email::regtype FROM users", REFUSED),
    ("SELECT email::regproc FROM users", REFUSED),
    ("SELECT email::regnamespace FROM users", REFUSED),
    ("SELECT email::regrole FROM users", REFUSED),
    ("SELECT CAST(token AS pg_catalog.regclass) FROM {t}", REFUSED),
    ("SELECT regclass(email) FROM users", REFUSED),
    ("SELECT quote_ident(email)::regclass FROM users", REFUSED),
    ("SELECT 1 FROM users WHERE email::regclass IS NOT NULL", REFUSED),
    (
        "SELECT * FROM jsonb_to_record(jsonb_build_object('a', (SELECT email FROM users LIMIT 1))) AS r(a regclass)",
        REFUSED,
    ),
    (
        "SELECT * FROM JSON_TABLE(jsonb_build_object('a', (SELECT email FROM users LIMIT 1)), '$' "
        "COLUMNS (a regclass PATH '$.a')) AS j",
        REFUSED,
    ),
    ("SELECT to_tsvector(email::regconfig, 'x') FROM users", REFUSED),
    ("SELECT to_regclass(email) FROM users", ANY),
    ("SELECT email::int FROM users", NOT_OK),
    ("SELECT token::numeric FROM {t}", NOT_OK),
    ("SELECT token::uuid FROM {t}", NOT_OK),
    ("SELECT token::json FROM {t}", NOT_OK),
    ("SELECT ('{{\"a\":' || token || '}}')::jsonb FROM {t}", NOT_OK),
    ("SELECT jsonb_path_query('{{}}', email::jsonpath) FROM users", NOT_OK),
    ("SELECT jsonb_path_query('{{\"a\": 1}}', ('$.' || token || ' ?')::jsonpath) FROM {t}", NOT_OK),
    ("SELECT jsonb_path_query(jsonb_build_object('a', token), 'strict $.a.b') FROM {t}", NOT_OK),
    ("SELECT 1 / (CASE WHEN email LIKE '%@example.test' THEN 0 ELSE 1 END) FROM users", ANY),
    ("SELECT to_date(token, 'YYYY') FROM {t}", NOT_OK),
    ("SELECT to_timestamp(email, 'HH24') FROM users", NOT_OK),
    ("SELECT xmlparse(document token) FROM {t}", NOT_OK),
    ("SELECT 'a' ~ (token || '(') FROM {t}", NOT_OK),
    ("SELECT pg_relation_size(email) FROM users", NOT_OK),
    ("SELECT pg_table_size(token) FROM {t}", NOT_OK),
    ("SELECT current_setting(email) FROM users", NOT_OK),
    ("SELECT has_table_privilege(email, 'SELECT') FROM users", NOT_OK),
    ("SELECT has_schema_privilege(token, 'USAGE') FROM {t}", NOT_OK),
    ("SELECT pg_get_serial_sequence(token, 'id') FROM {t}", NOT_OK),
    ("SELECT pg_input_is_valid('1', token) FROM {t}", NOT_OK),
    ("SELECT array_to_string(ARRAY(SELECT email FROM users), ',')::int", NOT_OK),
    ("SELECT json_agg(s) FROM django_session AS s", ANY),
    ("TABLE django_session", ANY),
    ("SELECT * FROM django_session WHERE session_key LIKE 'a%'", ANY),
    # WAL, large objects, files
    ("SELECT pg_logical_emit_message(false, 'hostile', 'x')", REFUSED),
    ("SELECT pg_logical_emit_message(true, 'hostile', 'x')", REFUSED),
    ("SELECT lo_from_bytea(0, 'x')", REFUSED),
    ("SELECT lo_import('{file}')", REFUSED),
    ("SELECT lo_create(424242)", REFUSED),
    ("SELECT lo_put(424242, 0, 'x')", REFUSED),
    ("SELECT lo_export(0, '/tmp/hostile-export')", REFUSED),
    ("SELECT pg_read_file('{file}')", REFUSED),
    ("SELECT pg_read_binary_file('{file}')", REFUSED),
    ("SELECT * FROM pg_ls_dir('/tmp')", REFUSED),
    ("SELECT pg_stat_file('{file}')", REFUSED),
    ("SELECT pg_switch_wal()", REFUSED),
    # other backends
    ("SELECT pg_terminate_backend({victim})", REFUSED),
    ("SELECT pg_catalog.pg_terminate_backend({victim}, 1000)", REFUSED),
    ("SELECT pg_cancel_backend({victim})", REFUSED),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = {victim}", REFUSED),
    ("SELECT pg_log_backend_memory_contexts({victim})", REFUSED),
    ("SELECT pg_notify('hostile', 'x')", REFUSED),
    ("SELECT pg_reload_conf()", REFUSED),
    # statistics
    ("SELECT pg_stat_reset()", REFUSED),
    ("SELECT pg_stat_reset_single_table_counters('{t}'::regclass)", REFUSED),
    ("SELECT pg_stat_reset_shared('bgwriter')", REFUSED),
    ("SELECT pg_stat_reset_slru()", REFUSED),
    ("SELECT pg_clear_relation_stats('{schema}', 'secrets')", REFUSED),
    (
        "SELECT pg_restore_relation_stats('schemaname', '{schema}', 'relname', 'secrets', 'reltuples', 1e9::real)",
        REFUSED,
    ),
    # replication
    ("SELECT pg_create_physical_replication_slot('hostile_slot')", REFUSED),
    ("SELECT * FROM pg_create_logical_replication_slot('hostile_slot', 'pgoutput', true)", REFUSED),
    ("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots", REFUSED),
    ("SELECT pg_replication_origin_create('hostile_origin')", REFUSED),
    # advisory locks
    ("SELECT pg_advisory_lock(4242)", REFUSED),
    ("SELECT pg_advisory_lock_shared(4242)", REFUSED),
    ("SELECT pg_try_advisory_lock(1, 2)", REFUSED),
    ("SELECT pg_advisory_xact_lock(4243)", REFUSED),
    ("SELECT pg_advisory_unlock_all()", REFUSED),
    # sequences and transaction ids
    ("SELECT nextval('{seq}')", REFUSED),
    ("SELECT nextval('{seq}'::regclass)", REFUSED),
    ("SELECT setval('{seq}', 100)", REFUSED),
    ("SELECT currval('{seq}')", REFUSED),
    ("SELECT lastval()", REFUSED),
    ("SELECT pg_current_xact_id()", REFUSED),
    ("SELECT txid_current()", REFUSED),
    ("SELECT pg_export_snapshot()", REFUSED),
    ("SELECT pg_current_xact_id_if_assigned()", ANY),
    # tables created, rows written, rows locked
    ("SELECT * INTO {schema}.evil FROM {t}", REFUSED),
    ("SELECT * INTO TEMP evil FROM {t}", REFUSED),
    ("CREATE TABLE {schema}.evil AS SELECT 1", REFUSED),
    ("CREATE TEMP TABLE evil AS SELECT * FROM {t}", REFUSED),
    ("CREATE MATERIALIZED VIEW {schema}.evil AS SELECT 1", REFUSED),
    ("WITH d AS (DELETE FROM {t} RETURNING *) SELECT * FROM d", REFUSED),
    ("WITH u AS (UPDATE {t} SET token = 'x' RETURNING 1) SELECT 1", REFUSED),
    ("WITH i AS (INSERT INTO {t} VALUES (9, 'x') RETURNING 1) SELECT 1", REFUSED),
    ("SELECT * FROM (WITH d AS (DELETE FROM {t} RETURNING 1) SELECT 1) AS s", REFUSED),
    ("SELECT * FROM {t} FOR UPDATE", REFUSED),
    ("SELECT * FROM {t} FOR KEY SHARE SKIP LOCKED", REFUSED),
    # transaction and session state
    ("SET TRANSACTION READ WRITE", REFUSED),
    ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", REFUSED),
    ("BEGIN TRANSACTION READ WRITE", REFUSED),
    ("START TRANSACTION READ WRITE", REFUSED),
    ("COMMIT; BEGIN READ WRITE", REFUSED),
    ("RESET ROLE", REFUSED),
    ("SET LOCAL ROLE NONE", REFUSED),
    ("SET SESSION AUTHORIZATION DEFAULT", REFUSED),
    ("PREPARE TRANSACTION 'hostile'", REFUSED),
    ("LISTEN hostile", REFUSED),
    # several statements
    ("SELECT 1; SELECT pg_read_file('{file}')", REFUSED),
    ("SELECT 1; COMMIT; SELECT set_config('role', 'none', false)", REFUSED),
    ("SELECT 1\n;\nDELETE FROM {t}", REFUSED),
    ("SELECT 1 /* ; */; DROP TABLE {t}", REFUSED),
    # COPY and DO
    ("COPY {t} TO '/tmp/hostile.csv'", REFUSED),
    ("COPY (SELECT * FROM django_session) TO STDOUT", REFUSED),
    ("COPY {t} FROM PROGRAM 'id'", REFUSED),
    ("DO $$ BEGIN PERFORM set_config('role', 'none', true); END $$", REFUSED),
    ("DO LANGUAGE plpgsql $x$ BEGIN EXECUTE 'DROP TABLE {t}'; END $x$", REFUSED),
    # values too large to build, runs too long
    ("SELECT length(repeat('x', 1000000000))", REFUSED),
    ("SELECT repeat('x', 1e9::int)", REFUSED),
    ("SELECT length(repeat(repeat('x', 10000), 100000))", REFUSED),
    ("SELECT lpad('x', 2000000000)", REFUSED),
    ("SELECT rpad('', 500000000, 'ab')", REFUSED),
    ("SELECT array_fill('x'::text, ARRAY[100000, 100000])", REFUSED),
    ("SELECT format('%2000000000s', 'x')", REFUSED),
    ("SELECT length(string_agg(repeat('x', 1000), '')) FROM generate_series(1, 20000)", ANY),
    ("SELECT count(*) FROM generate_series(1, 100000000000)", NOT_OK),
    ("SELECT pg_sleep(30)", NOT_OK),
    # nesting
    ("SELECT " + "(SELECT " * DEEP + "1" + ")" * DEEP, ANY),
    ("SELECT " + "(SELECT " * DEEP + "set_config('role', 'none', true)" + ")" * DEEP, REFUSED),
    ("SELECT " + "(" * 3000 + "1" + ")" * 3000, ANY),
    ("SELECT " + "abs(" * 500 + "pg_read_file('{file}')::int" + ")" * 500, REFUSED),
    # comments and odd whitespace
    ("SELECT/**/set_config('role', 'none', true)", REFUSED),
    ("SELECT set_config/* hidden */('role', 'none', true)", REFUSED),
    ("SELECT\tset_config\n(\n'role'\n,\t'none', true)", REFUSED),
    ("SELECT 1 -- \n; SELECT set_config('role', 'none', true)", REFUSED),
    ("/* SELECT 1 */ SELECT pg_read_file('{file}')", REFUSED),
    ("SELECT 1 /* nested /* comment */ ; DROP TABLE {t} */", ANY),
    ("SELECT pg_catalog . set_config ( 'role' , 'none' , true )", REFUSED),
    ("SELECT\u00a0set_config('role', 'none', true)", REFUSED),
    ("SELECT \uff33\uff25\uff34_config('role', 'none', true)", REFUSED),
    # unicode escapes
    ("SELECT U&\"\\0073et_config\"('role', 'none', true)", REFUSED),
    ("SELECT U&\"\\0073\\0065\\0074\\005f\\0063\\006f\\006e\\0066\\0069\\0067\"('role', 'none', true)", REFUSED),
    ("SELECT U&\"!0073et_config\" UESCAPE '!'('role', 'none', true)", REFUSED),
    ("SELECT pg_catalog.U&\"\\0070g_read_file\"('{file}')", REFUSED),
    ("SELECT set_config(U&'\\0072ole', 'none', true)", REFUSED),
    # dollar quoting
    ("SELECT set_config($$role$$, $$none$$, true)", REFUSED),
    ("SELECT * FROM ts_stat($q$SELECT to_tsvector('simple', session_key) FROM django_session$q$)", REFUSED),
    ("SELECT query_to_xml($a$SELECT pg_read_file('{file}')$a$, true, false, '')", REFUSED),
    ("SELECT $$; SELECT set_config('role', 'none', true); $$", ANY),
    ("SELECT $tag$ $$ $tag$, set_config('role', 'none', true)", REFUSED),
    # volatile and unknown functions
    ("SELECT setseed(0.5)", REFUSED),
    ("SELECT txid_status(1)", REFUSED),
    ("SELECT {schema}.no_such_function()", REFUSED),
    ("SELECT pg_sleep(0.01) FROM {t}", ANY),
]


def test_the_corpus_is_large_enough():
    assert len(HOSTILE) >= 100
    assert sum(1 for text, _ in HOSTILE if text == AUDIT) == 1


@pytest.fixture
def planted(planter, superuser_or_owner) -> Iterator[dict[str, Any]]:
    """Plant the secrets, committed so the console's own connection sees them; take them away afterwards."""
    # A word first, so that no secret happens to be a valid number, date or uuid.
    secret = {key: f"{key}{uuid.uuid4().hex}" for key in ("email", "session", "token", "file")}
    table = planter.table("secrets", "id int PRIMARY KEY, token text", rows=3, fill=f"i, '{secret['token']}'")
    planter.sql(f"CREATE SEQUENCE {planter.schema}.s")
    planter.sql("GRANT SELECT, USAGE ON SEQUENCE " + planter.schema + ".s TO PUBLIC")
    user_id = uuid.uuid4()
    planter.sql(
        "INSERT INTO users (id, external_id, display_name, email, created_at) VALUES (%s, %s, '', %s, now())",
        [user_id, f"hostile-{user_id.hex}", f"{secret['email']}@example.test"],
    )
    planter.sql(
        "INSERT INTO django_session (session_key, session_data, expire_date) "
        "VALUES (%s, 'x', now() + interval '1 day')",
        [secret["session"]],
    )
    path = Path(f"/tmp/schemaadmin-hostile-{uuid.uuid4().hex}.txt")
    path.write_text(secret["file"] + "\n")
    path.chmod(0o644)
    try:
        yield {"t": table, "schema": planter.schema, "seq": f"{planter.schema}.s", "file": str(path), "secret": secret}
    finally:
        path.unlink(missing_ok=True)
        planter.sql("DELETE FROM users WHERE id = %s", [user_id])
        planter.sql("DELETE FROM django_session WHERE session_key = %s", [secret["session"]])
        _clean_up_what_escaped(superuser_or_owner)


@pytest.fixture
def superuser_or_owner(planter) -> Iterator[psycopg.Connection]:
    """Return the most privileged connection the tests have, to clear away whatever a failed defence left."""
    if settings.EMBEDDED_PGDATA is None:
        yield planter.conn
        return
    db = connections["default"].settings_dict
    with psycopg.connect(host=db["HOST"], user=EMBEDDED_SUPERUSER, dbname=db["NAME"], autocommit=True) as conn:
        yield conn


def _clean_up_what_escaped(conn: psycopg.Connection) -> None:
    for statement in (
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'hostile%'",
        "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname LIKE 'hostile%'",
        "SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE oid = 424242",
    ):
        try:
            conn.execute(statement)
        except psycopg.Error:
            pass


@pytest.fixture
def victim(planted) -> Iterator[psycopg.Connection]:
    """Open another session of the application, which no console query may end."""
    with psycopg.connect(**connection_params("default"), autocommit=True) as conn:
        conn.execute("LISTEN hostile")
        yield conn


def _snapshot(conn: psycopg.Connection, planted: dict[str, Any]) -> dict[str, Any]:
    """Return everything a console query could change or leave behind, seen from another session."""

    def rows(statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        return conn.execute(statement, params).fetchall()

    return {
        "relations": rows(
            "SELECT n.nspname, c.relname, c.relkind, c.relpersistence FROM pg_class AS c "
            "JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg_toast%%' ORDER BY 1, 2"
        ),
        "slots": rows("SELECT slot_name FROM pg_replication_slots ORDER BY 1"),
        "origins": rows("SELECT roname FROM pg_replication_origin ORDER BY 1"),
        "large objects": rows("SELECT oid FROM pg_largeobject_metadata ORDER BY 1"),
        "stats reset": rows("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"),
        "planted stats": rows(
            "SELECT n_tup_ins, n_live_tup FROM pg_stat_user_tables WHERE relid = %s::regclass", [planted["t"]]
        ),
        "planted rows": rows(f"SELECT id, token FROM {planted['t']} ORDER BY id"),
        "sequence": rows(f"SELECT last_value, is_called FROM {planted['seq']}"),
        "advisory locks": rows(
            "SELECT classid, objid, objsubid, mode FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"  # not another run's
            " ORDER BY 1, 2, 3"
        ),
        "prepared transactions": rows("SELECT gid FROM pg_prepared_xacts ORDER BY 1"),
        "roles": rows(
            "SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, "
            "rolbypassrls FROM pg_roles ORDER BY 1"
        ),
        "memberships": rows("SELECT roleid, member FROM pg_auth_members ORDER BY 1, 2"),
        "role settings": rows("SELECT setdatabase, setrole, setconfig FROM pg_db_role_setting ORDER BY 1, 2"),
    }


def _backends(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
    ).fetchone()
    return int(row[0]) if row else 0


def _settles(read, expected, *, seconds: float = 60.0):
    """Return read() once it equals expected (polling), or its last value when it does not within seconds.

    The deadline is generous on purpose: on a busy machine a closed session can take a while to leave
    pg_stat_activity, and a poll returns as soon as the state is reached.
    """
    deadline = time.monotonic() + seconds
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


@contextmanager
def _console(configuration: str, settings) -> Iterator[None]:
    """Run the console as configured: its own login, the SET ROLE fallback, or that fallback from a superuser."""
    if configuration == "login":
        if not getattr(settings, "SCHEMAADMIN_EXPLAIN_LOGIN", None):
            pytest.skip("no login role of the console's own is configured")
        yield
        return
    settings.SCHEMAADMIN_EXPLAIN_LOGIN = None
    if configuration == "set role":
        yield
        return
    if settings.EMBEDDED_PGDATA is None:
        pytest.skip("needs the embedded server's superuser")
    # Only connections opened from here on (the console's own) log in as the superuser: the test's is open.
    connections["default"].ensure_connection()
    database = connections["default"].settings_dict
    saved = database["USER"]
    database["USER"] = EMBEDDED_SUPERUSER
    try:
        yield
    finally:
        database["USER"] = saved


def _secrets_in(texts: list[str], planted: dict[str, Any]) -> list[str]:
    found = [name for name, value in planted["secret"].items() if any(value in text for text in texts)]
    host = socket.gethostname().split(".")[0]
    if host and any(re.search(rf"\b{re.escape(host)}\b", text) for text in texts):
        found.append("host name")
    return found


CONFIGURATIONS = ["login", "set role", "superuser set role"]


@pytest.mark.django_db
@pytest.mark.parametrize("configuration", CONFIGURATIONS)
@pytest.mark.parametrize(
    "statement,expected", HOSTILE, ids=[f"{n:03d}-{text[:40]}" for n, (text, _) in enumerate(HOSTILE)]
)
def test_hostile_statement(planted, victim, planter, role_user, settings, configuration, statement, expected):
    text = statement.format(**{**planted, "victim": victim.info.backend_pid})
    user = role_user("dba")
    before = _snapshot(planter.conn, planted)
    planted_stats = before["planted stats"]
    assert planted_stats and planted_stats[0][0] == 3, "the planted table's statistics are published"
    backends = _backends(planter.conn)

    with _console(configuration, settings):
        result = explain(text, user=user, options={"ANALYZE": True}, timeout_ms=2_000)

    # Nothing left behind: the console's session is gone, the other sessions are not.
    assert _settles(lambda: _backends(planter.conn), backends) == backends
    assert victim.execute("SELECT pg_backend_pid()").fetchone() == (victim.info.backend_pid,)
    assert not list(victim.notifies(timeout=0.01, stop_after=1))
    # Nothing changed.
    after = _snapshot(planter.conn, planted)
    assert {k: v for k, v in after.items() if v != before[k]} == {}

    # Nothing leaked: not in the result, not in the records.
    run = ExplainRun.objects.get(pk=result.run.pk)
    event = AuditEvent.objects.get(action="explain.run", target=f"explain:{run.pk}")
    assert run.outcome == result.outcome and event.detail["outcome"] == result.outcome
    shown = [
        result.message,
        result.marked,
        json.dumps(result.plan, default=str),
        run.error,
        json.dumps(run.plan, default=str),
        json.dumps(run.options, default=str),
        json.dumps({key: value for key, value in event.detail.items() if key != "sql"}, default=str),
    ]
    assert _secrets_in(shown, planted) == [], (result.outcome, result.message)

    # And the layer meant to stop it did: checked last, so that a miss still shows what got through.
    if expected == REFUSED:
        assert result.outcome == "refused", (result.outcome, result.message)
    elif expected == NOT_OK:
        assert result.outcome in {"refused", "error", "timeout"}, (result.outcome, result.message)
    assert result.ok or result.message


@pytest.mark.django_db
@pytest.mark.parametrize("statement,expected", [case for case in HOSTILE if case[1] == REFUSED])
def test_the_parser_or_the_allowlist_alone_refuses(statement, expected):
    """The two layers before the server: every statement the console must refuse, refused without running it."""
    text = statement.format(t="s.t", schema="s", seq="s.q", file="/tmp/f", victim=1)
    try:
        checked_statement(text)
    except Refused:
        return
    (raw,) = pglast.parse_sql(text)
    assert function_refusal(raw.stmt) is not None
