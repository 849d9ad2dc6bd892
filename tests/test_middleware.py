"""Web requests run their queries under WEB_STATEMENT_TIMEOUT_MS and WEB_LOCK_TIMEOUT_MS; a query either stops is a
page that says which."""

from __future__ import annotations

import pytest
from django.db import connection

from schemaadmin import middleware
from tests.blocking import holding

# Transactional: a web request's session setting is committed as in production, not undone by a test's rollback.
pytestmark = pytest.mark.django_db(transaction=True)


def _statement_timeout() -> str:
    return _setting("statement_timeout")


def _setting(name: str) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting(%s)", [name])
        return cur.fetchone()[0]


@pytest.fixture(autouse=True)
def fresh_sessions():
    """Start and end on a new connection, so no session setting leaks into another test."""
    connection.close()
    yield
    connection.close()


@pytest.fixture
def applied(monkeypatch) -> list[int]:
    """Record the statement_timeout each time the middleware sets a session's timeouts (it still sets them)."""
    calls: list[int] = []
    real = middleware.set_session_timeouts

    def recording(statement_ms: int, lock_ms: int, *, using: str = "default") -> None:
        calls.append(statement_ms)
        real(statement_ms, lock_ms, using=using)

    monkeypatch.setattr(middleware, "set_session_timeouts", recording)
    return calls


def held(table: str):
    """Another session holds table ACCESS EXCLUSIVE inside the block (its idle transaction ends after 60 s: were
    there no timeout in the web's session, that would end the wait, and the test fail)."""
    return holding(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")


def test_outside_web_requests_sessions_keep_the_server_s_setting(db):
    # The worker, migrations and management commands open connections like this one: no request, no timeout.
    assert _statement_timeout() == "0" and _setting("lock_timeout") == "0"


def test_a_web_request_sets_the_timeout_once_per_connection(client_as, settings, applied):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 4_321, "WEB_LOCK_TIMEOUT_MS": 1_234}
    client = client_as("support")
    assert client.get("/conversations/").status_code == 200
    assert _statement_timeout() == "4321ms" and _setting("lock_timeout") == "1234ms"
    for _ in range(3):
        assert client.get("/conversations/").status_code == 200
    assert applied == [4_321]  # later requests on the same connection cost no round trip
    connection.close()  # a new physical connection starts without it
    assert client.get("/users/").status_code == 200
    assert applied == [4_321, 4_321] and _statement_timeout() == "4321ms"
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 9_000}  # a changed setting reaches open sessions
    client.get("/users/")
    assert applied[-1] == 9_000 and _statement_timeout() == "9s" and _setting("lock_timeout") == "3s"


def test_a_query_the_timeout_stops_is_a_503_that_says_to_narrow_the_search(client_as, settings):
    # No lock_timeout: the wait on the lock below runs until the statement_timeout ends it.
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 300, "WEB_LOCK_TIMEOUT_MS": 0}
    client = client_as("support")
    # Another session holds the messages table: the search waits on it until its statement_timeout ends it.
    with held("public.conversation_messages"):
        page = client.get("/conversations/", {"q": "refund"})
        partial = client.get("/conversations/", {"q": "refund"}, headers={"HX-Request": "true"})
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


def test_a_page_that_waits_too_long_for_a_lock_says_a_table_is_locked_and_where_to_look(client_as, settings):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 60_000, "WEB_LOCK_TIMEOUT_MS": 300}
    support = client_as("support")
    with held("public.conversation_messages"):
        searched = support.get("/conversations/", {"q": "refund"}).content.decode()
        page = support.get("/conversations/", {"q": "refund"}, headers={"HX-Request": "true"})
        support.logout()
        operator = client_as("operator")
        as_operator = operator.get("/conversations/", {"q": "refund"})
    assert page.status_code == 503 and page["HX-Retarget"] == "main"
    for body in (searched, page.content.decode()):
        assert "A table this page reads is locked" in body and "after 0.3 s" in body
        assert "Try again" in body and "took too long" not in body
        assert 'href="/activity/"' not in body  # support cannot open Activity: no link to a 403
    # Whoever may watch the sessions is sent where the one holding the lock is shown.
    assert as_operator.status_code == 503 and 'href="/activity/"' in as_operator.content.decode()
    assert operator.get("/conversations/", {"q": "refund"}).status_code == 200  # the table is free again


def test_a_page_other_than_a_search_that_takes_too_long_does_not_say_to_narrow_a_search(client_as, settings):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 300, "WEB_LOCK_TIMEOUT_MS": 0}
    client = client_as("operator")
    with held("public.conversations"):
        page = client.get("/conversations/")
    body = page.content.decode()
    assert page.status_code == 503 and "This page took too long" in body and "Narrow it" not in body
    assert 'href="/activity/"' in body


def test_a_signed_in_persons_pages_are_kept_in_no_cache(client_as):
    """Conversations, users and plans must not outlive the sign-out in the browser's cache or a proxy's."""
    support = client_as("support")
    for url in ("/conversations/", "/users/", "/"):
        response = support.get(url)
        assert response.status_code in (200, 302), url
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"], url
