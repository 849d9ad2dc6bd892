"""Signing in: the login page, throttling against guessing, audit, and the security headers."""

from __future__ import annotations

import pytest

from schemaadmin.models import AuditEvent
from tests.conftest import PASSWORD


@pytest.mark.django_db
def test_sign_in_lands_on_the_overview_and_is_audited(client, role_user):
    role_user("dba", "dee")
    response = client.post("/accounts/login/", {"username": "dee", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert AuditEvent.objects.filter(action="login", actor_username="dee").exists()
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_wrong_password_is_refused_and_audited(client, role_user):
    role_user("dba", "dee")
    response = client.post("/accounts/login/", {"username": "dee", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert AuditEvent.objects.filter(action="login_failed", target="dee").count() == 1


@pytest.mark.django_db
def test_repeated_failures_lock_the_username_even_for_the_right_password(client, role_user):
    role_user("dba", "dee")
    for _ in range(5):
        client.post("/accounts/login/", {"username": "dee", "password": "guess"})
    response = client.post("/accounts/login/", {"username": "dee", "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed sign-in attempts. Wait 15 minutes" in response.content.decode()
    assert client.get("/").status_code == 302  # still signed out


@pytest.mark.django_db
def test_failures_from_one_address_across_usernames_are_throttled(client, role_user, settings):
    settings.SCHEMAADMIN = {"LOGIN_FAILURES_PER_ADDRESS": 3}
    role_user("support", "sam")
    for name in ("a", "b", "c"):
        client.post("/accounts/login/", {"username": name, "password": "guess"})
    response = client.post("/accounts/login/", {"username": "sam", "password": PASSWORD})
    assert "Too many failed sign-in attempts" in response.content.decode()


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_and_safe_headers(client):
    response = client.get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_session_and_csrf_cookies_are_hardened(settings):
    assert settings.SESSION_COOKIE_HTTPONLY and settings.CSRF_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
    # Secure unless DEBUG (plain-http development); tests run without DEBUG.
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
