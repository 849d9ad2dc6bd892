"""schemaadmin/pg/stats.py: who a statement's counters belong to."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from schemaadmin.pg.stats import owner_names


def test_owner_names_name_every_database_and_only_login_roles_in_one_statement(db):
    with connection.cursor() as cur:
        cur.execute("SELECT current_database(), current_user, 'pg_monitor'::regrole::oid::bigint")
        database, role, monitor = cur.fetchone()
    with CaptureQueriesContext(connection) as queries:
        names = owner_names()
    assert len(queries) == 1
    assert database in names.databases.values() and "template1" in names.databases.values()
    assert role in names.roles.values()
    assert monitor not in names.roles  # a role that cannot log in runs no statements
