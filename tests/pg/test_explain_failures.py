"""schemaadmin/pg/explain_failures.py: which server messages a failed run may show (the runs: test_explain.py)."""

from __future__ import annotations

import pytest

from schemaadmin.pg.explain_failures import names_only_what_was_written


@pytest.mark.parametrize(
    "message,statement,shown",
    [
        ('relation "users" does not exist', "SELECT * FROM Users", True),
        ('relation "alice@example.test" does not exist', "SELECT x::regclass FROM t", False),
        ("function alice(integer) does not exist", "SELECT x::regprocedure FROM t", False),
        ("function lower(integer) does not exist", "SELECT lower(1)", True),
        ("operator does not exist: alice@x", "SELECT x::regoper FROM t", False),
        ("operator does not exist: integer = text", "SELECT 1 = 'a'::text", True),
        ('syntax error at or near "FROMM"', "SELECT 1 FROMM t", True),
    ],
)
def test_planning_messages_are_shown_only_when_they_name_what_was_written(message, statement, shown):
    assert names_only_what_was_written(message, statement) is shown
