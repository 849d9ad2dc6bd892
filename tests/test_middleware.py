"""Web requests run their queries under WEB_STATEMENT_TIMEOUT_MS; a query it stops is a page that says so."""

from __future__ import annotations

import pytest
from django.db import connection

from schemaadmin import middleware
from schemaadmin.pg.connection import own_connection

# Transactional: a web request's session setting is committed as in production, not undone by a test's rollback.
pytestmark = pytest.mark.django_db(transaction=True)


def _statement_timeout() -> str:
    with connection.cursor() as cur:
        cur.execute("SHOW statement_timeout")
        return cur.fetchone()[0]


@pytest.fixture(autouse=True)
def fresh_sessions():
    """Start and end on a new connection, so no session setting leaks into another test."""
    connection.close()
    yield
    connection.close()


@pytest.fixture
def applied(monkeypatch) -> list[int]:
    """Record each time the middleware sets a session's statement_timeout (it still sets it)."""
    calls: list[int] = []
    real = middleware.set_statement_timeout

    def recording(milliseconds: int, *, using: str = "default") -> None:
        calls.append(milliseconds)
        real(milliseconds, using=using)

    monkeypatch.setattr(middleware, "set_statement_timeout", recording)
    return calls


def test_outside_web_requests_sessions_keep_the_server_s_setting(db):
    # The worker, migrations and management commands open connections like this one: no request, no timeout.
    assert _statement_timeout() == "0"


def test_a_web_request_sets_the_timeout_once_per_connection(client_as, settings, applied):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 4_321}
    client = client_as("support")
    assert client.get("/conversations/").status_code == 200
    assert _statement_timeout() == "4321ms"
    for _ in range(3):
        assert client.get("/conversations/").status_code == 200
    assert applied == [4_321]  # later requests on the same connection cost no round trip
    connection.close()  # a new physical connection starts without it
    assert client.get("/users/").status_code == 200
    assert applied == [4_321, 4_321] and _statement_timeout() == "4321ms"
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 9_000}  # a changed setting reaches open sessions
    client.get("/users/")
    assert applied[-1] == 9_000 and _statement_timeout() == "9s"


def test_a_query_the_timeout_stops_is_a_503_that_says_to_narrow_the_search(client_as, settings):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 300}
    client = client_as("support")
    # Another session holds the messages table: the search waits on it until its statement_timeout ends it. (Were
    # there no timeout, the holder's idle_in_transaction_session_timeout would end the wait, and the test fail; it
    # is long enough that two requests on a busy machine never outlast it, which would free the table too soon.)
    with own_connection(autocommit=False) as holder:
        holder.execute("SET idle_in_transaction_session_timeout = '60s'")
        holder.execute("LOCK TABLE public.conversation_messages IN ACCESS EXCLUSIVE MODE")
        page = client.get("/conversations/", {"q": "refund"})
        partial = client.get("/conversations/", {"q": "refund"}, headers={"HX-Request": "true"})
        holder.rollback()
    assert page.status_code == 503
    body = page.content.decode()
    assert "The search took too long" in body and "after 0.3 s" in body and "Narrow it" in body
    # htmx swaps the message in place of the page's content, whatever the form targeted.
    assert partial.status_code == 503 and "The search took too long" in partial.content.decode()
    assert (partial["HX-Retarget"], partial["HX-Reswap"], partial["HX-Reselect"]) == ("main", "outerHTML", "main")
    # The table is free again, and the session the timeout stopped serves the next search. Under the normal
    # timeout: 0.3 s could stop even a search that waits for nothing on a busy machine.
    settings.SCHEMAADMIN = {}
    assert client.get("/conversations/", {"q": "refund"}).status_code == 200
