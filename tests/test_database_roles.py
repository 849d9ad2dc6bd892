"""The roles SchemaAdmin runs as: the application is no superuser, the console's login can only read the product."""

from __future__ import annotations

import tempfile
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from schemaadmin.checks import app_role_problems, check_explain_role, explain_login_problems
from schemaadmin.embedded import EMBEDDED_SUPERUSER, bootstrap, start_server
from schemaadmin.pg.connection import own_connection
from schemaadmin.pg.roles import EXPLAIN_ROLE_SETTINGS, RoleFacts, role_facts

embedded_only = pytest.mark.skipif(
    settings.EMBEDDED_PGDATA is None, reason="the embedded server's bootstrap (DATABASE_URL is set)"
)


def _login(**overrides: object) -> psycopg.Connection:
    db = connection.settings_dict
    params = {
        "host": db["HOST"],
        "port": db["PORT"] or None,
        "dbname": db["NAME"],
        **settings.SCHEMAADMIN_EXPLAIN_LOGIN,
    }
    return psycopg.connect(**{**params, **overrides}, autocommit=True)


@embedded_only
@pytest.mark.django_db
def test_the_application_connects_as_an_owner_role_without_superuser():
    app = role_facts()
    assert app.name == "schemaadmin" and not app.superuser
    assert not (app.create_role or app.replication or app.bypass_rls)
    # What the dashboard needs: drift replays, every session's statistics, cancelling sessions.
    assert app.create_db and {"pg_monitor", "pg_read_all_stats", "pg_read_all_settings", "pg_signal_backend"} <= set(
        app.member_of
    )
    with connection.cursor() as cur:
        cur.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
        assert cur.fetchone() == ("schemaadmin",)
    assert app_role_problems("default", app) == []


@embedded_only
@pytest.mark.django_db(transaction=True)
def test_the_console_login_reads_the_product_and_nothing_else():
    facts = role_facts(str(settings.SCHEMAADMIN_EXPLAIN_LOGIN["user"]))
    assert facts.exists and facts.can_login and not facts.superuser
    # A member of no role: not of the application's, not of pg_read_all_stats (other sessions' query text).
    assert facts.member_of == ()
    assert explain_login_problems("default", facts) == []
    with _login() as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() is not None
        for setting, value in EXPLAIN_ROLE_SETTINGS.items():
            assert conn.execute("SELECT current_setting(%s)", [setting]).fetchone() == (value,)
        for refused in (
            "SELECT count(*) FROM django_session",
            "SELECT count(*) FROM auth_user",
            "SELECT pg_read_file('/etc/hostname')",
            "SELECT set_config('role', 'schemaadmin', false)",
            "SELECT set_config('temp_file_limit', '-1', false)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(refused)
        # Resetting the role goes back to the login itself, which is all it ever was.
        conn.execute("SELECT set_config('role', 'none', false)")
        assert conn.execute("SELECT current_user, session_user").fetchone() == ("schemaadmin_explain",) * 2
        # Other sessions' query text is hidden from it.
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE query <> '<insufficient privilege>') FROM pg_stat_activity "
            "WHERE usename <> current_user AND backend_type = 'client backend'"
        ).fetchone()
        assert row == (0,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TEMP TABLE t (x int)")


@embedded_only
def test_bootstrap_hands_an_old_superuser_owned_database_to_the_owner_role_and_keeps_its_data():
    with tempfile.TemporaryDirectory(prefix="schemaadmin-old-pg-") as tmp:
        server = start_server(Path(tmp) / "data", throwaway=True)
        admin = {"host": str(server.socket_dir), "user": EMBEDDED_SUPERUSER, "autocommit": True}
        with psycopg.connect(**admin, dbname="postgres") as conn:
            conn.execute("CREATE DATABASE legacy")  # owned by the superuser, as before this release
        with psycopg.connect(**admin, dbname="legacy") as conn:
            conn.execute("CREATE TYPE mood AS ENUM ('ok', 'bad')")
            conn.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, body text, m mood)")
            conn.execute("CREATE SEQUENCE standalone_seq")
            conn.execute("CREATE VIEW note_bodies AS SELECT body FROM notes")
            conn.execute("CREATE FUNCTION shout(t text) RETURNS text LANGUAGE sql AS $$ SELECT upper(t) $$")
            conn.execute("INSERT INTO notes (body, m) VALUES ('kept', 'ok')")

        bootstrap(server.socket_dir, "legacy")

        with psycopg.connect(host=str(server.socket_dir), user="schemaadmin", dbname="legacy") as conn:
            # Every object of ours; the vector extension's own objects stay the extension's.
            owners = conn.execute(
                """
                SELECT DISTINCT pg_get_userbyid(owner) FROM (
                    SELECT oid, relowner AS owner FROM pg_class WHERE relnamespace = 'public'::regnamespace
                    UNION ALL SELECT oid, proowner FROM pg_proc WHERE pronamespace = 'public'::regnamespace
                    UNION ALL SELECT oid, typowner FROM pg_type WHERE typnamespace = 'public'::regnamespace
                    UNION ALL SELECT oid, datdba FROM pg_database WHERE datname = 'legacy'
                ) AS o
                WHERE NOT EXISTS (SELECT 1 FROM pg_depend AS d WHERE d.objid = o.oid AND d.deptype = 'e')
                """
            ).fetchall()
            assert owners == [("schemaadmin",)]
            assert conn.execute("SELECT body, shout(body) FROM notes").fetchall() == [("kept", "KEPT")]
            # The owner can now change what it owns, as migrations will.
            conn.execute("ALTER TABLE notes ADD COLUMN extra int")
            conn.execute("SELECT nextval('standalone_seq')")
        # A second bootstrap finds everything in place.
        bootstrap(server.socket_dir, "legacy")


def _facts(**changes: object) -> RoleFacts:
    base = dict(
        name="schemaadmin_explain",
        exists=True,
        superuser=False,
        can_login=True,
        create_db=False,
        create_role=False,
        bypass_rls=False,
        replication=False,
        member_of=(),
    )
    return RoleFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_checks_name_what_is_wrong_with_the_roles():
    (fallback,) = explain_login_problems("default", None)
    assert fallback.id == "schemaadmin.W011" and "create_explain_role" in fallback.hint
    assert "no temp-file limit holds" in fallback.msg  # a role's own applies at login, not after SET ROLE
    (error,) = explain_login_problems("default", _facts(superuser=True, member_of=("schemaadmin",)))
    assert error.id == "schemaadmin.E012"
    assert "is a superuser" in error.msg and "member of schemaadmin" in error.msg
    (missing,) = explain_login_problems("default", _facts(exists=False))
    assert "does not exist" in missing.msg
    (superuser_app,) = app_role_problems("default", _facts(name="app", superuser=True))
    assert superuser_app.id == "schemaadmin.W012" and "superuser" in superuser_app.msg


@pytest.mark.django_db
def test_the_check_warns_when_the_console_has_no_login_of_its_own(settings):
    settings.SCHEMAADMIN_EXPLAIN_LOGIN = None
    assert "schemaadmin.W011" in [p.id for p in check_explain_role(databases=["default"])]
    settings.SCHEMAADMIN_EXPLAIN_LOGIN = {"user": "no_such_console_role"}
    (problem,) = check_explain_role(databases=["default"])
    assert problem.id == "schemaadmin.E012" and "does not exist" in problem.msg


@embedded_only
@pytest.mark.django_db
def test_the_embedded_server_preloads_pg_stat_statements_and_every_new_database_has_it():
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('shared_preload_libraries')")
        assert "pg_stat_statements" in cur.fetchone()[0]
        # The test database was made from template1, as drift replays are: both extensions come with it.
        cur.execute("SELECT array_agg(extname ORDER BY extname) FROM pg_extension")
        assert {"pg_stat_statements", "vector"} <= set(cur.fetchone()[0])
    # A statement of a session of its own, finished: recorded, and readable by the app's role (pg_monitor).
    with own_connection() as other:
        # (Column aliases are not part of a statement's identity: the shape itself must be new.)
        other.execute("SELECT count(*) FROM conversation_preferences WHERE tone = 'marker' AND language = 'xx'")
        rows = other.execute(
            "SELECT query FROM pg_stat_statements WHERE query LIKE %s", ["%WHERE tone = $1 AND language = $2%"]
        ).fetchall()
    assert rows == [("SELECT count(*) FROM conversation_preferences WHERE tone = $1 AND language = $2",)]
