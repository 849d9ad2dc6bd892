"""Forms: every input is validated here before a view acts on it."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from schemaadmin.audit import client_ip, record
from schemaadmin.services.login_throttle import forget_failures, reserve_attempt

__all__ = ["ThrottledAdminAuthenticationForm", "ThrottledAuthenticationForm"]


class ThrottledAuthenticationForm(AuthenticationForm):
    """Sign-in that counts each attempt before checking its password, and makes repeated failures wait longer."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-in attempts. Wait %(wait)s, then try again.",
    }
    # The throttle's "now"; tests set a clock of their own.
    clock = staticmethod(timezone.now)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Django sets the username's max_length on the field and its widget only: a longer one (any client may send
        # 100 kB) reached the throttle's unique index (a 500) or was stored whole. Refused here, it is counted by
        # nothing and stored nowhere, as a missing field is.
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(self.username_field.max_length or 254))

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password"):
            return super().clean()  # a field is missing: nothing is checked, so nothing is counted
        address = client_ip(self.request)
        refusal = reserve_attempt(username, address, now=self.clock())
        if refusal is not None:
            record(self.request, "login_refused", username, counter=refusal.scope, wait_seconds=_seconds(refusal.wait))
            raise forms.ValidationError(
                self.error_messages["throttled"], code="throttled", params={"wait": _in_words(refusal.wait)}
            )
        try:
            cleaned_data = super().clean()  # a wrong password raises here, and its attempt stays counted
        except forms.ValidationError as refused:
            if self.user_cache is None:
                raise
            # The password was right, but the account may not sign in here (inactive; not staff, at /admin/): not a
            # failure to count against the person (a support account trying /admin/ locked itself out of the
            # dashboard), and refused without Django's login-failed signal, so audited here.
            forget_failures(username, address, now=self.clock())
            record(self.request, "login_not_allowed", username, reason=refused.code or "")
            raise
        forget_failures(username, address, now=self.clock())
        return cleaned_data


class ThrottledAdminAuthenticationForm(ThrottledAuthenticationForm, AdminAuthenticationForm):
    """The admin's sign-in (staff accounts only), throttled like the dashboard's: one budget for both doors."""

    error_messages = {**ThrottledAuthenticationForm.error_messages, **AdminAuthenticationForm.error_messages}


def _seconds(wait: timedelta) -> int:
    return math.ceil(wait.total_seconds())


def _in_words(wait: timedelta) -> str:
    """Return a wait in words, rounded up: "30 seconds", "2 minutes", "1 hour"."""
    seconds = max(1, _seconds(wait))
    if seconds < 60:
        return _plural(seconds, "second")
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return _plural(minutes, "minute")
    hours, minutes = divmod(minutes, 60)
    return _plural(hours, "hour") + (f" {_plural(minutes, 'minute')}" if minutes else "")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"
