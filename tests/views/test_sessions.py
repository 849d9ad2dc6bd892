"""A session is what signs a request in: one that expired, was signed out or never existed signs nobody in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from schemaadmin.sessions import SessionStore

pytestmark = pytest.mark.django_db


def _signed_in(client) -> bool:
    return client.get("/conversations/").status_code == 200


def test_a_session_signs_in_until_it_expires(client_as):
    client = client_as("support")
    assert _signed_in(client)
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get("/conversations/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_a_signed_out_sessions_cookie_signs_nobody_in_again(client_as):
    client = client_as("support")
    stolen = client.cookies["sessionid"].value
    client.post("/accounts/logout/")
    client.cookies["sessionid"] = stolen
    assert not _signed_in(client)


@pytest.mark.parametrize("key", ["", "short", "x" * 40, "' OR '1'='1' -- padding"])
def test_an_unknown_or_malformed_session_key_reads_as_no_session(key):
    store = SessionStore(key or None)
    assert store.load() == {}
    assert store.session_key is None


def test_a_sessions_data_is_read_back_as_written():
    store = SessionStore()
    store["answer"] = {"asked": "what is 6 × 7", "said": 42}
    store.save()
    assert SessionStore(store.session_key).load() == {"answer": {"asked": "what is 6 × 7", "said": 42}}
