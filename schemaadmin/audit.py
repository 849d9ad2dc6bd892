"""Write the audit log: every privileged action, every view of the product's users and conversations (a thread, a
user, a list or a search of them), every sign-in."""

from __future__ import annotations

import getpass
import ipaddress
import logging
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import DatabaseError, transaction
from django.dispatch import receiver
from django.http import HttpRequest

from schemaadmin.models import AuditEvent
from schemaadmin.pg.audit import insert_read_event

__all__ = ["command_line_user", "asked", "client_ip", "record", "record_read", "record_refusal"]

logger = logging.getLogger(__name__)

# Targets are names the code builds (a migration label is an app label and a file name); this bounds a hostile one.
TARGET_MAX = 2_000
# A refusal's sentence; one that quotes what was sent (Django's "… is not one of the available choices") ends here.
REASON_MAX = 2_000


def client_ip(request: HttpRequest | None) -> str | None:
    """Return the client's address: REMOTE_ADDR, or the X-Forwarded-For entry the outermost trusted proxy added."""
    if request is None:
        return None
    remote = _ip_address(request.META.get("REMOTE_ADDR", ""))
    proxies = getattr(settings, "SCHEMAADMIN_TRUSTED_PROXIES", 0)
    if proxies <= 0:
        return remote
    # Each proxy appends the address it received the request from: the last `proxies` entries are theirs, and the
    # left-most of those, written by the outermost proxy, is the client's. Entries further left were sent by the
    # client and prove nothing. Fewer entries than proxies: the request did not come through them all.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if len(forwarded) < proxies:
        return remote
    return _ip_address(forwarded[-proxies]) or remote


def _ip_address(value: str) -> str | None:
    """Return value as a normalised IP address (a port or an IPv6 zone dropped), or None if it is not one."""
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [2001:db8::1]:443
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # 192.0.2.1:443
        value = value.partition(":")[0]
    try:
        ip = ipaddress.ip_address(value.partition("%")[0])
    except ValueError:
        return None
    return str(ip)


def record(
    request: HttpRequest | None,
    action: str,
    target: str = "",
    *,
    actor: Any = None,
    as_username: str = "",
    **detail: Any,
) -> AuditEvent:
    """Write one AuditEvent for the request's user (or actor, or as_username), naming the action and its target.

    as_username names who acted when no account did, e.g. the operating-system user running a command.
    """
    user = _actor(request, actor)
    return AuditEvent.objects.create(
        actor=user,
        actor_username=user.get_username() if user is not None else as_username[:150],
        action=action,
        target=_storable(target)[:TARGET_MAX],
        detail=_storable(detail),
        ip_address=client_ip(request),
    )


def record_refusal(
    request: HttpRequest | None,
    action: str,
    target: str,
    reason: str | None = None,
    *,
    actor: Any = None,
    as_username: str = "",
    **detail: Any,
) -> None:
    """Write the AuditEvent of a privileged action asked for and refused (`<area>.<verb>_refused`), with the sentence
    that refused it (None where the action says it: access.denied names the permission lacked).

    The refusal does not depend on the event: one that cannot be written (its table locked, the database refusing
    the insert) is logged, and the caller refuses all the same. The event commits on its own in autocommit, and in a
    savepoint of a caller's transaction, which a refused request's view commits: it renders the refusal, raises none.
    """
    try:
        with transaction.atomic():  # a savepoint inside a transaction: a failed insert leaves it usable
            if reason is not None:
                detail["reason"] = reason[:REASON_MAX]
            record(request, action, target, actor=actor, as_username=as_username, **detail)
    except DatabaseError:
        logger.exception("Could not audit %s of %s (it is refused all the same).", action, target[:TARGET_MAX])


def command_line_user() -> str:
    """Return the operating-system user running a management command, as the audit log names who acted
    ("os:<name>"), where no account did."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return "os:unknown"


def record_read(request: HttpRequest, action: str, target: str = "", **detail: Any) -> None:
    """Write one AuditEvent for something the request's user read (a thread, a user, an export), cheaply.

    One INSERT whose commit does not wait for the disk (schemaadmin.pg.audit): a view is logged without the
    1–3 ms fsync per page. Actions that change something use record(), committed with their work.
    """
    user = _actor(request, None)
    insert_read_event(
        actor_id=user.pk if user is not None else None,
        actor_username=user.get_username() if user is not None else "",
        action=action,
        target=_storable(target)[:TARGET_MAX],
        detail=_storable(detail),
        ip_address=client_ip(request),
    )


def _storable[Value](value: Value) -> Value:
    """Return value (text, or a detail's dict, list or text inside one) with each NUL character as U+FFFD: PostgreSQL's
    text and jsonb hold none, and an event naming a path with %00 in it (a refused request's) was not written."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")  # type: ignore[return-value]
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        return [_storable(item) for item in value]  # type: ignore[return-value]
    return value


def asked(*cleaned: Mapping[str, Any], unused: Collection[str] = ()) -> dict[str, Any]:
    """Return what a list or a search was asked for, from its forms' cleaned data: the values that are set (dates
    as ISO text; not the unused ones), and which way it paged ("page": "next" or "previous"), not the cursor."""
    detail: dict[str, Any] = {}
    for data in cleaned:
        for name, value in data.items():
            if name in unused:
                continue
            if name in ("after", "before"):
                if value:
                    detail["page"] = "next" if name == "after" else "previous"
            elif value not in (None, "", [], ()):
                detail[name] = value.isoformat() if isinstance(value, date) else value
    return detail


def _actor(request: HttpRequest | None, actor: Any) -> Any:
    user = actor if actor is not None else getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        return None
    return user


@receiver(user_logged_in, dispatch_uid="schemaadmin.audit.logged_in")
def _logged_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    record(request, "login", user.get_username(), actor=user)


@receiver(user_logged_out, dispatch_uid="schemaadmin.audit.logged_out")
def _logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(request, "logout", user.get_username(), actor=user)


@receiver(user_login_failed, dispatch_uid="schemaadmin.audit.login_failed")
def _login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    record(request, "login_failed", str(credentials.get("username", "")))
