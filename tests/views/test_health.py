from __future__ import annotations

import pytest
from django.db import connections


@pytest.mark.django_db
def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "reachable"}
    assert "no-cache" in response["Cache-Control"]
    # A load balancer's HEAD check: the same status, no body.
    head = client.head("/healthz")
    assert head.status_code == 200 and head.content == b""


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_is_unreachable(client, settings):
    # A real connection to a server that is not there: a port nothing listens on.
    connection = connections["default"]
    connection.close()
    original = dict(connection.settings_dict)
    connection.settings_dict.update(HOST="127.0.0.1", PORT="1", CONN_MAX_AGE=0)
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
