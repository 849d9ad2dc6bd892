"""The sign-in throttle's counters and schedule, against the real database, with time passed in by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from schemaadmin.models import LoginThrottle
from schemaadmin.services.login_throttle import (
    PURGE_BATCH,
    Refusal,
    address_key,
    delay_after,
    forget_failures,
    reserve_attempt,
)

pytestmark = pytest.mark.django_db

T0 = timezone.now()
ADDRESS = "198.51.100.7"


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def fail(times: int, username: str = "dee", address: str = ADDRESS, *, now=T0) -> None:
    """Make attempts that are let through (and so counted as failures)."""
    for _ in range(times):
        assert reserve_attempt(username, address, now=now) is None


def test_the_delay_starts_at_the_last_free_failure_and_doubles_up_to_the_cap():
    delays = [delay_after(n, free=5, first_delay=30, max_delay=3600) for n in range(3, 13)]
    seconds = [None if d is None else d.total_seconds() for d in delays]
    assert seconds == [None, None, 30, 60, 120, 240, 480, 960, 1920, 3600]
    assert delay_after(10_000, free=5, first_delay=30, max_delay=3600) == timedelta(hours=1)


def test_an_attempt_while_waiting_is_refused_and_counted_by_neither_counter():
    fail(5)
    assert reserve_attempt("dee", ADDRESS, now=at(10)) == Refusal(scope="pair", wait=timedelta(seconds=20))
    assert reserve_attempt("dee", ADDRESS, now=at(29)) == Refusal(scope="pair", wait=timedelta(seconds=1))
    counts = dict(LoginThrottle.objects.values_list("scope", "failures"))
    assert counts == {"pair": 5, "address": 5}
    assert reserve_attempt("dee", ADDRESS, now=at(30)) is None


def test_an_attempt_refused_by_its_address_does_not_use_up_its_username_budget(settings):
    settings.SCHEMAADMIN = {"LOGIN_FREE_FAILURES_PER_ADDRESS": 2}
    fail(1, "a")
    fail(1, "b")
    assert reserve_attempt("sam", ADDRESS, now=at(1)).scope == "address"
    assert not LoginThrottle.objects.filter(username="sam").exists()


def test_usernames_are_case_folded_and_ipv6_counts_by_its_64():
    fail(5, "Dee", "2001:db8:1:2::1")
    refusal = reserve_attempt("DEE", "2001:db8:1:2:ffff:ffff:ffff:ffff", now=at(1))
    assert refusal is not None and refusal.scope == "pair"
    assert reserve_attempt("dee", "2001:db8:1:3::1", now=at(1)) is None  # the next /64 is another client
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key(None) == ""


def test_a_counter_starts_again_after_its_window(settings):
    settings.SCHEMAADMIN = {"LOGIN_FAILURE_WINDOW_SECONDS": 3600}
    fail(4)
    fail(1, now=at(3600))  # a new window: the first failure of it, not the fifth
    assert LoginThrottle.objects.get(scope="pair").failures == 1
    fail(3, now=at(3601))
    assert reserve_attempt("dee", ADDRESS, now=at(3602)) is None
    assert reserve_attempt("dee", ADDRESS, now=at(3603)) is not None


def test_a_correct_password_forgets_the_pair_and_gives_back_its_address_count(settings):
    settings.SCHEMAADMIN = {"LOGIN_FREE_FAILURES_PER_ADDRESS": 3}
    fail(2, "a")
    fail(1, "dee")  # the address's third attempt: it now waits, unless this one's password is right
    assert reserve_attempt("b", ADDRESS, now=at(1)).scope == "address"
    forget_failures("dee", ADDRESS, now=at(1))
    address = LoginThrottle.objects.get(scope="address")
    assert (address.failures, address.blocked_until) == (2, None)
    assert not LoginThrottle.objects.filter(username="dee").exists()
    assert reserve_attempt("b", ADDRESS, now=at(1)) is None


def test_correct_sign_ins_from_an_address_past_its_free_failures_never_lengthen_its_wait(settings):
    """Past its free failures, an address's correct sign-in kept the wait its own reservation had set: each one
    doubled the wait of everyone behind the address (30 s, then 60 s, ...)."""
    settings.SCHEMAADMIN = {"LOGIN_FREE_FAILURES_PER_ADDRESS": 3, "LOGIN_FIRST_DELAY_SECONDS": 30}
    fail(3, "spray")  # the third sets the first wait: 30 s
    before = LoginThrottle.objects.get(scope="address")
    assert (before.failures, before.blocked_until) == (3, at(30))
    for n in range(3):  # three colleagues sign in correctly, each once the wait is over
        when = at(31 + n)
        assert reserve_attempt(f"colleague{n}", ADDRESS, now=when) is None
        forget_failures(f"colleague{n}", ADDRESS, now=when)
        address = LoginThrottle.objects.get(scope="address")
        assert (address.failures, address.blocked_until) == (3, None)
    assert reserve_attempt("someone", ADDRESS, now=at(35)) is None  # let through, not told to wait 60 s


def test_a_sign_in_deletes_stale_counters_a_batch_at_a_time(settings):
    settings.SCHEMAADMIN = {"LOGIN_FAILURE_WINDOW_SECONDS": 60}
    LoginThrottle.objects.bulk_create(
        LoginThrottle(scope="pair", username=f"u{n}", address=ADDRESS, failures=1, counting_since=T0)
        for n in range(PURGE_BATCH + 5)
    )
    LoginThrottle.objects.create(
        scope="pair", username="waiting", address=ADDRESS, failures=9, counting_since=T0, blocked_until=at(3600)
    )
    forget_failures("dee", "192.0.2.9", now=at(61))
    left = set(LoginThrottle.objects.values_list("username", flat=True))
    assert len(left) == 6 and "waiting" in left
    forget_failures("dee", "192.0.2.9", now=at(61))
    assert set(LoginThrottle.objects.values_list("username", flat=True)) == {"waiting"}
