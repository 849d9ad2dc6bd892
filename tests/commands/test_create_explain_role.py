"""`manage.py create_explain_role` makes the console's login on a server the operator runs, and prints its URL."""

from __future__ import annotations

import io
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from schemaadmin.embedded import EMBEDDED_SUPERUSER, explain_login_from_url
from schemaadmin.pg.roles import explain_login_refusal, role_facts

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(settings.EMBEDDED_PGDATA is None, reason="needs the embedded server's superuser"),
]


def _admin_url() -> str:
    db = connection.settings_dict
    return f"postgresql://{EMBEDDED_SUPERUSER}@{quote(db['HOST'], safe='')}/{db['NAME']}"


def test_it_creates_a_login_that_reads_the_product_only_and_prints_a_url_that_works(superuser_sql):
    superuser_sql("DO $$ BEGIN CREATE ROLE console_reader NOLOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    superuser_sql("GRANT pg_read_all_stats, pg_read_all_data TO console_reader")  # as an older release left it
    out = io.StringIO()
    call_command("create_explain_role", role="console_reader", admin_url=_admin_url(), stdout=out, stderr=io.StringIO())

    (line,) = [line for line in out.getvalue().splitlines() if line.startswith("SCHEMAADMIN_EXPLAIN_DATABASE_URL=")]
    login = explain_login_from_url(line.partition("=")[2])
    assert login["user"] == "console_reader" and login["password"]
    facts = role_facts("console_reader")
    assert facts.can_login and not facts.superuser and facts.member_of == ()

    with psycopg.connect(**login, dbname=connection.settings_dict["NAME"], autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM knowledge_base_chunks").fetchone() == (0,)
        assert conn.execute("SHOW temp_file_limit").fetchone() == ("1GB",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT session_key FROM django_session")


def test_a_role_that_may_not_create_roles_gets_a_sentence():
    # The application's own role has no CREATEROLE: the command says to run it as an administrator.
    with pytest.raises(CommandError, match="--admin-url"):
        call_command("create_explain_role", role="console_other", stdout=io.StringIO())


def test_a_grant_refused_leaves_no_login_role_behind(superuser_sql):
    """An administrator that may create roles but not grant on the product's tables (CREATEROLE, as on managed
    services): the command fails with its sentence, and the login it had created, whose password nobody was shown,
    is gone with it."""
    superuser_sql("DO $$ BEGIN CREATE ROLE role_maker LOGIN CREATEROLE; EXCEPTION WHEN duplicate_object THEN END $$")
    db = connection.settings_dict
    admin_url = f"postgresql://role_maker@{quote(db['HOST'], safe='')}/{db['NAME']}"
    with pytest.raises(CommandError, match="--admin-url"):
        call_command("create_explain_role", role="console_orphan", admin_url=admin_url, stdout=io.StringIO())
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'console_orphan'")
        assert cursor.fetchone() == (0,)


@pytest.mark.parametrize(
    "role, refusal",
    [
        ("pg_console", "a name PostgreSQL reserves"),
        ("public", "a name PostgreSQL reserves"),
        ("x" * 64, "1 to 63 bytes"),
        (EMBEDDED_SUPERUSER, "a role SchemaAdmin or this command connects as"),
    ],
)
def test_a_role_it_must_not_narrow_is_refused_and_left_as_it_was(role, refusal):
    with pytest.raises(CommandError, match=refusal):
        call_command("create_explain_role", role=role, admin_url=_admin_url(), stdout=io.StringIO())


def test_the_app_s_own_role_and_any_role_with_powers_or_objects_are_left_untouched(superuser_sql):
    """Narrowing rewrites a role's password, attributes and memberships: the app's own role lost its CREATEDB, its
    memberships and its writes (read-only by default), and the command said it had succeeded."""
    app_role = connection.settings_dict["USER"]
    before = role_facts(app_role)
    with pytest.raises(CommandError, match="connects as"):
        call_command("create_explain_role", role=app_role, admin_url=_admin_url(), stdout=io.StringIO())
    superuser_sql("DO $$ BEGIN CREATE ROLE team_lead LOGIN CREATEDB; EXCEPTION WHEN duplicate_object THEN END $$")
    superuser_sql("DO $$ BEGIN CREATE ROLE app_group NOLOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    superuser_sql("GRANT app_group TO team_lead")
    with pytest.raises(CommandError, match="has CREATEDB"):
        call_command("create_explain_role", role="team_lead", admin_url=_admin_url(), stdout=io.StringIO())
    with pytest.raises(CommandError, match="has members"):
        call_command("create_explain_role", role="app_group", admin_url=_admin_url(), stdout=io.StringIO())
    assert role_facts(app_role) == before
    assert "app_group" in role_facts("team_lead").member_of


def test_the_console_role_whose_member_is_the_application_s_role_is_still_narrowed(superuser_sql):
    """Where the SET ROLE fallback is granted, the application's role is a member of the console's role (bootstrap,
    docker/initdb.sh, migration 0005's role granted by hand): the documented `create_explain_role` must go on."""
    superuser_sql("DO $$ BEGIN CREATE ROLE fallback_console NOLOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    superuser_sql("DO $$ BEGIN CREATE ROLE some_app LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    superuser_sql("GRANT fallback_console TO some_app")
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], user=EMBEDDED_SUPERUSER, dbname=db["NAME"], autocommit=True) as admin:
        assert explain_login_refusal(admin, "fallback_console", protected={"some_app"}) is None
        assert "has members" in explain_login_refusal(admin, "fallback_console", protected=set())


def test_a_second_run_by_the_createrole_administrator_that_made_the_role_narrows_it_again(superuser_sql):
    """PostgreSQL 16+ makes a role's creator, when not a superuser, a member of it (ADMIN OPTION): the command's own
    role was refused on a second run (a password rotation) as one "with members"."""
    superuser_sql("DO $$ BEGIN CREATE ROLE role_maker3 LOGIN CREATEROLE; EXCEPTION WHEN duplicate_object THEN END $$")
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], user="role_maker3", dbname=db["NAME"], autocommit=True) as admin:
        admin.execute("DO $$ BEGIN CREATE ROLE console_again LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
        # The administrator's own connection is protected without being named: it is the creator member.
        assert explain_login_refusal(admin, "console_again", protected={db["USER"]}) is None
