"""schemaadmin/pg/explain_failures.py: which server messages a failed run may show (the runs: test_explain.py)."""

from __future__ import annotations

import pytest

from schemaadmin.pg.explain_failures import CANCELLED, TERMINATED, names_only_what_was_written, stopped_failure


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


# One SQLSTATE (57014) for a statement_timeout and a cancel request: the message tells them apart, and where the
# server translates it, the time the statement ran (a statement_timeout never comes before it).
@pytest.mark.parametrize(
    "state,message,ran_ms,kind,says",
    [
        (
            "57014",
            "canceling statement due to statement timeout",
            1_000.5,
            "timeout",
            "after 1000 ms (statement_timeout)",
        ),
        ("57014", "canceling statement due to user request", 20.0, "cancelled", CANCELLED),
        ("57014", "canceling statement due to user request", 5_000.0, "cancelled", CANCELLED),
        ("57014", "Abbruch der Anfrage wegen Zeitüberschreitung", 1_000.5, "timeout", "(statement_timeout)"),
        ("57014", "Abbruch der Anfrage auf Benutzeranforderung", 20.0, "cancelled", CANCELLED),
        ("55P03", "canceling statement due to lock timeout", 300.0, "timeout", "for a lock (lock_timeout)"),
        ("57P01", "terminating connection due to administrator command", 20.0, "cancelled", TERMINATED),
    ],
)
def test_a_stopped_statement_says_what_stopped_it(state, message, ran_ms, kind, says):
    failure = stopped_failure(state, message, timeout_ms=1_000, lock_timeout_ms=300, ran_ms=ran_ms)
    assert failure is not None and failure.kind == kind and says in failure.message and failure.sqlstate == state


def test_other_failures_are_not_stops():
    assert stopped_failure("22012", "division by zero", timeout_ms=1_000, lock_timeout_ms=300, ran_ms=5.0) is None
