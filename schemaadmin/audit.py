"""Write the audit log: every privileged action, every conversation view, every sign-in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from schemaadmin.models import AuditEvent

__all__ = ["client_ip", "record"]

TARGET_MAX = 300


def client_ip(request: HttpRequest | None) -> str | None:
    """Return the address the request came from (the proxy's, unless SECURE_PROXY_SSL_HEADER is trusted)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    request: HttpRequest | None, action: str, target: str = "", *, actor: Any = None, **detail: Any
) -> AuditEvent:
    """Write one AuditEvent for the request's user (or actor), naming the action and its target."""
    user = actor if actor is not None else getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    return AuditEvent.objects.create(
        actor=user,
        actor_username=user.get_username() if user is not None else "",
        action=action,
        target=target[:TARGET_MAX],
        detail=detail,
        ip_address=client_ip(request),
    )


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
