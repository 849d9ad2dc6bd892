"""pg/explain_role.py: the EXPLAIN console's role (what it may read, whether the application may switch to it) and
the console's own login, on the real test server."""

from __future__ import annotations

import psycopg
import pytest

from schemaadmin.pg.connection import connection_params
from schemaadmin.pg.explain_role import explain_role_state, login_params

ROLE = "schemaadmin_explain"


def _other_connection() -> psycopg.Connection:
    return psycopg.connect(**connection_params("default"), autocommit=True)


@pytest.mark.django_db
def test_the_role_exists_reads_no_more_than_granted_and_the_fallback_may_switch_to_it():
    state = explain_role_state(ROLE)
    assert state.exists
    if not state.usable:
        pytest.skip("the application's role may not SET ROLE to it on this server (docker/initdb.sh): it logs in")
    with _other_connection() as conn:
        row = conn.execute(
            "SELECT rolsuper, rolinherit, pg_has_role(%(r)s, 'pg_read_all_data', 'MEMBER'), "
            "pg_has_role(%(r)s, 'pg_read_all_stats', 'MEMBER') FROM pg_roles WHERE rolname = %(r)s",
            {"r": ROLE},
        ).fetchone()
    assert row == (False, True, False, False)


def test_login_params_keep_the_aliases_database_and_take_the_logins_other_keys():
    params = login_params({"user": "console", "password": None, "host": "/elsewhere", "port": 6543, "dbname": "x"})
    own = connection_params("default")
    assert params["user"] == "console" and params["host"] == "/elsewhere" and params["port"] == 6543
    assert params["dbname"] == own["dbname"] and params.get("password") == own.get("password")
