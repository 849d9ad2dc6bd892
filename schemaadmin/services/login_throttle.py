"""Sign-in throttling: slow password guessing down without letting anyone lock someone else out.

What is counted (LoginThrottle rows)
- One counter per username from one address. A guesser slows down only their own guesses: the owner of the
  account, signing in from their own address, is not touched however many failures come from elsewhere.
- One counter per address across usernames, with a higher budget, against one address spraying a common password
  over many usernames.
- Usernames are case-folded. An IPv6 client counts by its /64, the block one host is usually given, so walking
  through addresses inside it gains nothing. The address is schemaadmin.audit.client_ip's: behind trusted proxies,
  the one the outermost of them saw, never one the client wrote.

The schedule (thresholds in schemaadmin.conf)
- Each counter lets LOGIN_FREE_FAILURES_PER_USERNAME_AND_ADDRESS (5) or LOGIN_FREE_FAILURES_PER_ADDRESS (50)
  failures through freely. From the last free one on, each failure makes the next attempt wait: first
  LOGIN_FIRST_DELAY_SECONDS (30 s), doubling per further failure up to LOGIN_MAX_DELAY_SECONDS (1 h), so 30 s,
  1 min, 2 min, ... 1 h. There is no hard lock: an account can always be tried again after the delay.
- An attempt made while a counter waits is refused before the password is checked. It is written to the audit log
  (login_refused) but counted by neither counter, so retrying early does not lengthen the wait.
- A counter starts again from zero LOGIN_FAILURE_WINDOW_SECONDS (24 h) after its first failure, once it is not
  waiting; stale counters are deleted, a batch at a time, whenever someone signs in.
- A correct password deletes its username-and-address counter and takes its own attempt back off the address's
  counter: an office sharing one address is never slowed down by its own successful sign-ins.

Counting before checking
Every attempt is counted as a failure before its password is checked (reserve_attempt), in a short transaction
that locks both counters with SELECT ... FOR UPDATE and commits before authenticate() runs. Concurrent attempts
queue on those row locks and each one sees the counts of those before it, so 30 parallel guesses reach the
password check only as often as the schedule allows. A correct password then undoes its reservation
(forget_failures); a wrong one leaves it counted, so a failure needs no second write.

Known trade-offs: a client reaching the login from many addresses gets the free failures at each of them (the price
of not letting one person lock out another); everyone behind one address shares its budget of 50 failures a day.
"""

from __future__ import annotations

import ipaddress
import operator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from schemaadmin.conf import app_settings
from schemaadmin.models import LoginThrottle

__all__ = ["Refusal", "address_key", "delay_after", "forget_failures", "reserve_attempt"]

Scope = LoginThrottle.Scope

# Stale counters deleted per successful sign-in: a sign-in after a long attack stays quick.
PURGE_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class Refusal:
    """An attempt turned away before its password was checked: the counter that refused it, and for how long."""

    scope: str
    wait: timedelta


def address_key(address: str | None) -> str:
    """Return the address as counters key it: IPv4 as is, IPv6 by its /64, "" when unknown."""
    if not address:
        return ""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def delay_after(
    failures: int, *, free: int, first_delay: int | None = None, max_delay: int | None = None
) -> timedelta | None:
    """Return how long the next attempt waits after this many failures on a counter (None: it need not wait)."""
    if failures < free:
        return None
    conf = app_settings()
    first = conf["LOGIN_FIRST_DELAY_SECONDS"] if first_delay is None else first_delay
    cap = conf["LOGIN_MAX_DELAY_SECONDS"] if max_delay is None else max_delay
    doublings = min(failures - free, 40)  # 30 s * 2**40 is far past any cap; keeps the number small
    return timedelta(seconds=min(first * 2**doublings, cap))


def reserve_attempt(username: str, address: str | None, *, now: datetime | None = None) -> Refusal | None:
    """Count one sign-in attempt as a failure before its password is checked, or refuse it and count nothing."""
    now = now or timezone.now()
    keys = _keys(username, address)
    window = timedelta(seconds=app_settings()["LOGIN_FAILURE_WINDOW_SECONDS"])
    with transaction.atomic():
        # Make sure both rows exist, then lock them in one order (address before pair), so that concurrent attempts
        # queue on the same rows and each reads what those before it wrote.
        LoginThrottle.objects.bulk_create(
            [LoginThrottle(scope=scope, username=name, address=key, counting_since=now) for scope, name, key in keys],
            ignore_conflicts=True,
        )
        counters = list(
            LoginThrottle.objects.select_for_update()
            .filter(_matching(keys))
            .order_by("scope", "address", "username")  # "address" < "pair": the order the rows were inserted in
        )
        refusals: list[Refusal] = []
        for counter in counters:
            if counter.blocked_until is not None and now < counter.blocked_until:
                refusals.append(Refusal(scope=counter.scope, wait=counter.blocked_until - now))
            elif now - counter.counting_since >= window:
                counter.failures, counter.counting_since, counter.blocked_until = 0, now, None
        if refusals:
            transaction.set_rollback(True)  # neither counter counts a refused attempt
            return max(refusals, key=lambda refusal: refusal.wait)
        for counter in counters:
            counter.failures += 1
            delay = delay_after(counter.failures, free=_free_failures(counter.scope))
            counter.blocked_until = None if delay is None else now + delay
        LoginThrottle.objects.bulk_update(counters, ["failures", "counting_since", "blocked_until"])
    return None


def forget_failures(username: str, address: str | None, *, now: datetime | None = None) -> None:
    """Forget a username's failures from this address after its correct password, and undo its address count."""
    now = now or timezone.now()
    (_, _, key), (pair_scope, name, _) = _keys(username, address)
    LoginThrottle.objects.filter(scope=pair_scope, username=name, address=key).delete()
    # Back to what it was before this attempt was counted: not waiting. Had a wait been running then, the attempt
    # would have been refused; a wait there is now is the one its own reservation set (past the free failures every
    # attempt since was refused, uncounted). Kept, it doubled at each correct sign-in: 30 s, then 60 s for everyone
    # behind the address. (A failure counted elsewhere while this password was checked may have set it; it is let go
    # with this one.)
    LoginThrottle.objects.filter(scope=Scope.ADDRESS, username="", address=key, failures__gt=0).update(
        failures=F("failures") - 1, blocked_until=None
    )
    _delete_stale_counters(now)


def _keys(username: str, address: str | None) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    key = address_key(address)
    return (Scope.ADDRESS, "", key), (Scope.PAIR, username.casefold(), key)


def _matching(keys: tuple[tuple[str, str, str], ...]) -> Q:
    return reduce(operator.or_, (Q(scope=scope, username=name, address=key) for scope, name, key in keys))


def _free_failures(scope: str) -> int:
    conf = app_settings()
    if scope == Scope.ADDRESS:
        return conf["LOGIN_FREE_FAILURES_PER_ADDRESS"]
    return conf["LOGIN_FREE_FAILURES_PER_USERNAME_AND_ADDRESS"]


def _delete_stale_counters(now: datetime) -> None:
    window = timedelta(seconds=app_settings()["LOGIN_FAILURE_WINDOW_SECONDS"])
    stale = LoginThrottle.objects.filter(counting_since__lte=now - window).exclude(blocked_until__gt=now)
    LoginThrottle.objects.filter(pk__in=stale.values("pk")[:PURGE_BATCH]).delete()
