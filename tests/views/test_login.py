"""Signing in: the login page, throttling against guessing, audit, and the security headers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.backends import ModelBackend
from django.db import connections
from django.test import Client, RequestFactory
from django.utils import timezone

from schemaadmin.audit import client_ip
from schemaadmin.forms.auth import ThrottledAuthenticationForm
from schemaadmin.models import AuditEvent, LoginThrottle
from tests.conftest import PASSWORD

LOGIN = "/accounts/login/"
VICTIM = "203.0.113.10"
ATTACKER = "198.51.100.66"
PROXY = "10.0.0.2"
THROTTLED = "Too many failed sign-in attempts. Wait"
WRONG = "Please enter a correct username and password"


def sign_in(client, username: str, password: str, address: str = "127.0.0.1", **headers: str):
    """Post the login form from one address; return the page's text ("" when it redirected: signed in)."""
    response = client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)
    assert response.status_code in (200, 302)
    return "" if response.status_code == 302 else response.content.decode()


class Clock:
    """The throttle's "now", standing still until a test moves it on."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Give the login form a clock the test moves by hand."""
    clock = Clock()
    monkeypatch.setattr(ThrottledAuthenticationForm, "clock", staticmethod(clock))
    return clock


@pytest.mark.django_db
def test_sign_in_lands_on_the_overview_and_is_audited(client, role_user):
    role_user("dba", "dee")
    response = client.post(LOGIN, {"username": "dee", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert AuditEvent.objects.filter(action="login", actor_username="dee").exists()
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_wrong_password_is_refused_and_audited(client, role_user):
    role_user("dba", "dee")
    response = client.post(LOGIN, {"username": "dee", "password": "nope"})
    assert response.status_code == 200
    assert WRONG in response.content.decode()
    assert AuditEvent.objects.filter(action="login_failed", target="dee").count() == 1


@pytest.mark.django_db
def test_failures_make_the_same_address_wait_even_with_the_right_password(client, clock, role_user):
    role_user("dba", "dee")
    for _ in range(5):
        assert WRONG in sign_in(client, "dee", "guess")
    page = sign_in(client, "dee", PASSWORD)
    assert f"{THROTTLED} 30 seconds, then try again." in page
    assert client.get("/").status_code == 302  # still signed out
    refused = AuditEvent.objects.get(action="login_refused", target="dee")
    assert refused.ip_address == "127.0.0.1" and refused.detail == {"counter": "pair", "wait_seconds": 30}
    assert AuditEvent.objects.filter(action="login_failed", target="dee").count() == 5  # the refusal was not checked


@pytest.mark.django_db
def test_a_victim_is_not_locked_out_by_failures_from_another_address(client, clock, role_user):
    role_user("dba", "dee")
    for _ in range(12):
        sign_in(client, "dee", "guess", ATTACKER)
    assert THROTTLED in sign_in(client, "dee", "guess", ATTACKER)
    assert sign_in(client, "dee", PASSWORD, VICTIM) == ""
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_the_wait_doubles_with_each_further_failure(client, clock, role_user):
    role_user("dba", "dee")
    for _ in range(5):
        sign_in(client, "dee", "guess")
    assert f"{THROTTLED} 30 seconds" in sign_in(client, "dee", "guess")
    clock.advance(29)
    assert f"{THROTTLED} 1 second," in sign_in(client, "dee", PASSWORD)  # refused early attempts do not add up
    clock.advance(1)
    assert WRONG in sign_in(client, "dee", "guess")  # the delay passed: checked again, and failed
    assert f"{THROTTLED} 1 minute," in sign_in(client, "dee", "guess")
    clock.advance(60)
    assert WRONG in sign_in(client, "dee", "guess")
    assert f"{THROTTLED} 2 minutes," in sign_in(client, "dee", "guess")
    assert AuditEvent.objects.filter(action="login_failed", target="dee").count() == 7
    assert AuditEvent.objects.filter(action="login_refused", target="dee").count() == 4


@pytest.mark.django_db
def test_the_wait_stops_growing_at_the_cap(client, clock, role_user, settings):
    settings.SCHEMAADMIN = {"LOGIN_FREE_FAILURES_PER_USERNAME_AND_ADDRESS": 1, "LOGIN_MAX_DELAY_SECONDS": 120}
    role_user("dba", "dee")
    waits = []
    for _ in range(4):
        assert WRONG in sign_in(client, "dee", "guess")
        waits.append(sign_in(client, "dee", "guess").split(THROTTLED)[1].split(",")[0].strip())
        clock.advance(120)
    assert waits == ["30 seconds", "1 minute", "2 minutes", "2 minutes"]


@pytest.mark.django_db
def test_a_correct_password_clears_the_count(client, clock, role_user):
    role_user("dba", "dee")
    for _ in range(5):
        sign_in(client, "dee", "guess")
    clock.advance(30)
    assert sign_in(client, "dee", PASSWORD) == ""
    assert not LoginThrottle.objects.filter(scope="pair").exists()
    client.post("/accounts/logout/")
    for _ in range(5):
        assert WRONG in sign_in(client, "dee", "guess")  # five free failures again, all checked
    assert THROTTLED in sign_in(client, "dee", "guess")


@pytest.mark.django_db
def test_one_address_spraying_many_usernames_is_slowed_down(client, clock, role_user, settings):
    settings.SCHEMAADMIN = {"LOGIN_FREE_FAILURES_PER_ADDRESS": 3}
    role_user("support", "sam")
    for name in ("a", "b", "c"):
        assert WRONG in sign_in(client, name, "guess", ATTACKER)
    assert f"{THROTTLED} 30 seconds" in sign_in(client, "sam", PASSWORD, ATTACKER)
    assert AuditEvent.objects.get(action="login_refused", target="sam").detail["counter"] == "address"
    assert sign_in(client, "sam", PASSWORD, VICTIM) == ""  # another address is not touched


@pytest.mark.django_db
def test_successful_sign_ins_do_not_use_up_an_address_budget(client, clock, role_user, settings):
    settings.SCHEMAADMIN = {"LOGIN_FREE_FAILURES_PER_ADDRESS": 3}
    role_user("support", "sam")
    for _ in range(5):
        assert sign_in(client, "sam", PASSWORD) == ""
        client.post("/accounts/logout/")
    assert WRONG in sign_in(client, "a", "guess") and WRONG in sign_in(client, "b", "guess")
    assert LoginThrottle.objects.get(scope="address").failures == 2


class CountingBackend(ModelBackend):
    """The usual backend, counting how many attempts reach the password check."""

    checks = 0
    lock = threading.Lock()

    def authenticate(self, request, username=None, password=None, **kwargs):
        with CountingBackend.lock:
            CountingBackend.checks += 1
        return super().authenticate(request, username=username, password=password, **kwargs)


def test_thirty_parallel_guesses_reach_the_password_check_only_five_times(transactional_db, role_user, settings):
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.CountingBackend"]
    CountingBackend.checks = 0
    role_user("dba", "dee")
    attempts = 30
    start = threading.Barrier(attempts)

    def guess(n: int) -> str:
        try:
            client = Client()
            start.wait(timeout=30)  # all requests leave together
            return sign_in(client, "dee", f"guess-{n}", ATTACKER)
        finally:
            connections.close_all()  # this thread's own database connection

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        pages = list(pool.map(guess, range(attempts)))
    assert CountingBackend.checks == 5
    assert sum(WRONG in page for page in pages) == 5
    assert sum(THROTTLED in page for page in pages) == attempts - 5
    assert AuditEvent.objects.filter(action="login_failed", target="dee").count() == 5
    assert AuditEvent.objects.filter(action="login_refused", target="dee").count() == attempts - 5


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "192.0.2.1", "", "192.0.2.1"),
        (0, "192.0.2.1", "203.0.113.10", "192.0.2.1"),  # no trusted proxy: the header is anyone's to write
        (1, PROXY, "203.0.113.10", "203.0.113.10"),
        (1, PROXY, "6.6.6.6, 203.0.113.10", "203.0.113.10"),  # the left-most entry was written by the client
        (2, PROXY, "6.6.6.6, 203.0.113.10, 10.0.0.1", "203.0.113.10"),
        (2, PROXY, "203.0.113.10", PROXY),  # fewer entries than proxies: not through them all
        (1, PROXY, "", PROXY),
        (1, PROXY, "not-an-address", PROXY),
        (1, PROXY, "203.0.113.10:51234", "203.0.113.10"),
        (1, PROXY, "[2001:DB8::1]:443", "2001:db8::1"),
        (0, "fe80::1%eth0", "", "fe80::1"),
    ],
)
def test_client_address_comes_from_the_proxies_only_when_they_are_trusted(
    settings, proxies, remote, forwarded, expected
):
    settings.SCHEMAADMIN_TRUSTED_PROXIES = proxies
    request = RequestFactory().post(LOGIN, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@pytest.mark.django_db
def test_behind_a_proxy_each_client_is_counted_by_its_own_address(client, clock, role_user, settings):
    settings.SCHEMAADMIN_TRUSTED_PROXIES = 1
    role_user("dba", "dee")
    for n in range(5):
        # The attacker writes the victim's address (and then others) first; the proxy appends the real one.
        spoofed = VICTIM if n % 2 else f"192.0.2.{n}"
        assert WRONG in sign_in(client, "dee", "guess", PROXY, HTTP_X_FORWARDED_FOR=f"{spoofed}, {ATTACKER}")
    assert THROTTLED in sign_in(client, "dee", "guess", PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.99, {ATTACKER}")
    assert set(AuditEvent.objects.filter(action__startswith="login_").values_list("ip_address", flat=True)) == {
        ATTACKER
    }
    assert sign_in(client, "dee", PASSWORD, PROXY, HTTP_X_FORWARDED_FOR=VICTIM) == ""


@pytest.mark.django_db
def test_without_trusted_proxies_the_forwarded_header_is_ignored(client, clock, role_user, settings):
    settings.SCHEMAADMIN_TRUSTED_PROXIES = 0
    role_user("dba", "dee")
    for n in range(5):
        sign_in(client, "dee", "guess", ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert THROTTLED in sign_in(client, "dee", "guess", ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.200")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "0"),
        ({"SCHEMAADMIN_BEHIND_PROXY": "1"}, "1"),
        ({"SCHEMAADMIN_BEHIND_PROXY": "1", "SCHEMAADMIN_TRUSTED_PROXIES": "2"}, "2"),
        ({"SCHEMAADMIN_TRUSTED_PROXIES": "0", "SCHEMAADMIN_BEHIND_PROXY": "1"}, "0"),
        (
            {"SCHEMAADMIN_TRUSTED_PROXIES": "-1"},
            "django.core.exceptions.ImproperlyConfigured: "
            "SCHEMAADMIN_TRUSTED_PROXIES is a number of proxies (0 or more), not '-1'.",
        ),
    ],
)
def test_trusted_proxies_setting_is_read_from_the_environment(env, expected):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_", "SCHEMAADMIN_"))}
    # A DATABASE_URL keeps the settings from starting an embedded server; nothing connects to it.
    base.update(DATABASE_URL="postgres://nobody@127.0.0.1:1/none", DJANGO_SECRET_KEY="x" * 50, **env)
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.SCHEMAADMIN_TRUSTED_PROXIES)"],
        cwd=Path(__file__).resolve().parents[2],
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.stdout + result.stderr).strip().splitlines()[-1] == expected


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_and_safe_headers(client):
    response = client.get(LOGIN)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_session_and_csrf_cookies_are_hardened(settings):
    assert settings.SESSION_COOKIE_HTTPONLY and settings.CSRF_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
    # Secure unless DEBUG or on the embedded demo, which serves plain http on localhost (tests run without DEBUG, on
    # the embedded server unless DATABASE_URL is set); the production shape is checked by `check --deploy` in
    # tests/test_deployment.py.
    assert settings.SESSION_COOKIE_SECURE == settings.CSRF_COOKIE_SECURE == (not settings.EMBEDDED_DATABASE)


@pytest.mark.django_db
def test_the_admin_sign_in_is_throttled_with_the_same_budget(client, clock, role_user):
    role_user("superuser", "root")
    for _ in range(3):
        assert WRONG in sign_in(client, "root", "guess")
    for _ in range(2):  # the admin's door counts on the same counter
        page = client.post("/admin/login/", {"username": "root", "password": "guess"}, REMOTE_ADDR="127.0.0.1")
        assert "Please enter the correct username and password for a staff account" in page.content.decode()
    page = client.post("/admin/login/", {"username": "root", "password": PASSWORD}, REMOTE_ADDR="127.0.0.1")
    assert page.status_code == 200 and f"{THROTTLED} 30 seconds, then try again." in page.content.decode()
    clock.advance(31)
    page = client.post("/admin/login/", {"username": "root", "password": PASSWORD}, REMOTE_ADDR="127.0.0.1")
    assert page.status_code == 302


def test_a_right_password_at_the_admin_s_door_from_a_non_staff_account_is_refused_audited_and_not_counted(
    client, clock, role_user
):
    """A support account's right password at /admin/ (not staff) counted as a failure: five of them, and its owner
    could not sign in to the dashboard either; and no audit event said why."""
    role_user("support", "sue")
    for _ in range(6):
        page = client.post("/admin/login/", {"username": "sue", "password": PASSWORD}, REMOTE_ADDR="127.0.0.1")
        assert "Please enter the correct username and password for a staff account" in page.content.decode()
    events = AuditEvent.objects.filter(action="login_not_allowed", target="sue")
    assert events.count() == 6 and events.first().detail == {"reason": "invalid_login"}
    assert not LoginThrottle.objects.filter(username="sue").exists()
    assert sign_in(client, "sue", PASSWORD) == ""  # signed in at the dashboard's door


def test_the_admin_refusing_a_signed_in_account_without_staff_status_is_audited(client, role_user):
    """Django's admin sent a signed-in support account to its sign-in page and no event said so, where a dashboard
    page refused for a missing right writes access.denied."""
    client.get("/admin/auth/user/")  # not signed in: asked to sign in, no refusal
    assert not AuditEvent.objects.filter(action="access.denied").exists()
    client.force_login(role_user("support", "sue"))
    page = client.get("/admin/auth/user/")
    assert page.status_code == 302 and page["Location"].startswith("/admin/login/")
    event = AuditEvent.objects.get(action="access.denied")
    assert (event.actor_username, event.target) == ("sue", "/admin/auth/user/")
    assert event.detail == {"permission": "admin (staff status)", "method": "GET"}
    client.force_login(role_user("superuser", "root"))
    assert client.get("/admin/auth/user/").status_code == 200
    assert AuditEvent.objects.filter(action="access.denied").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("door", [LOGIN, "/admin/login/"])
def test_a_username_longer_than_any_account_s_is_refused_and_stored_nowhere(client, door):
    for username in ("a" * 151, "x" * 100_000, "".join(chr(0x4E00 + i % 2000) for i in range(3_000))):
        response = client.post(door, {"username": username, "password": "whatever"}, REMOTE_ADDR=ATTACKER)
        assert response.status_code == 200
        assert "at most 150 characters" in response.content.decode()
        if door == LOGIN:
            assert username[:151] not in response.content.decode()  # not echoed back
    assert not LoginThrottle.objects.exists()


@pytest.mark.django_db
def test_a_sign_in_without_a_password_says_so(client):
    page = client.post(LOGIN, {"username": "someone", "password": ""}).content.decode()
    assert 'id="password-errors"' in page and "This field is required." in page


@pytest.mark.django_db
def test_a_signed_out_htmx_request_sends_the_page_to_sign_in_instead_of_swapping_the_sign_in_page_in(client):
    """A session expired while a list was open: htmx followed the 302 and put the whole sign-in page (its menu and
    all) into the results, or into /activity/'s polled region every few seconds. It is told to go to the sign-in page,
    back to the page the person is on, not to the partial's URL."""
    page = "http://testserver/conversations/?q=refund&channel=web"
    partial = client.get(
        "/conversations/", {"q": "refund", "after": "x"}, headers={"HX-Request": "true", "HX-Current-URL": page}
    )
    assert partial.status_code == 401 and b"<html" not in partial.content
    assert partial["HX-Redirect"] == "/accounts/login/?next=/conversations/%3Fq%3Drefund%26channel%3Dweb"
    # A page of another site named as the current one is not where sign-in leads back to: the request's own URL is.
    elsewhere = client.get("/activity/", headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/x"})
    assert elsewhere["HX-Redirect"] == "/accounts/login/?next=/activity/"
    plain = client.get("/conversations/", {"q": "refund"})
    assert plain.status_code == 302 and plain["Location"] == "/accounts/login/?next=/conversations/%3Fq%3Drefund"


@pytest.mark.django_db
@pytest.mark.parametrize("current", ["http://[::1/", "[", "http://\u2100/"])
def test_a_signed_out_htmx_request_naming_a_malformed_current_page_is_sent_back_to_its_own_url(client, current):
    """A current page urlsplit cannot read (an unclosed IPv6 bracket, a host that changes under NFKC) was a 500."""
    answer = client.get("/conversations/", {"q": "refund"}, headers={"HX-Request": "true", "HX-Current-URL": current})
    assert answer.status_code == 401
    assert answer["HX-Redirect"] == "/accounts/login/?next=/conversations/%3Fq%3Drefund"
