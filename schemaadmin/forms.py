"""Forms: every input is validated here before a view acts on it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from schemaadmin.audit import client_ip
from schemaadmin.conf import app_settings
from schemaadmin.models import AuditEvent

__all__ = ["ThrottledAuthenticationForm"]


class ThrottledAuthenticationForm(AuthenticationForm):
    """Sign-in that refuses further attempts after repeated failures for one username or one address."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-in attempts. Wait %(minutes)d minutes, then try again.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username is not None and self._throttled(username):
            conf = app_settings()
            raise forms.ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": max(1, conf["LOGIN_THROTTLE_WINDOW_SECONDS"] // 60)},
            )
        return super().clean()

    def _throttled(self, username: str) -> bool:
        conf = app_settings()
        since = timezone.now() - timedelta(seconds=conf["LOGIN_THROTTLE_WINDOW_SECONDS"])
        failures = AuditEvent.objects.filter(action="login_failed", at__gte=since)
        if failures.filter(target=username[:300]).count() >= conf["LOGIN_FAILURES_PER_USERNAME"]:
            return True
        ip = client_ip(self.request)
        return ip is not None and failures.filter(ip_address=ip).count() >= conf["LOGIN_FAILURES_PER_ADDRESS"]
