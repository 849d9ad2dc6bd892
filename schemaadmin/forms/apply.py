"""The confirmation form of applying migrations: the plan's fingerprint, the typed target, the timeouts."""

from __future__ import annotations

from django import forms
from django.core.validators import MaxValueValidator

from schemaadmin.conf import app_settings
from schemaadmin.forms.fields import number_field

__all__ = ["ApplyForm"]

# What the page says above the form when its fingerprint is missing or malformed; the audit log's reason says it too.
NOT_LOADED = "This form was not loaded from this page; reload it."


class ApplyForm(forms.Form):
    fingerprint = forms.RegexField(
        regex=r"^[0-9a-f]{16}$",
        error_messages={"required": NOT_LOADED, "invalid": NOT_LOADED},
        widget=forms.HiddenInput,
    )
    typed_target = forms.CharField(
        required=False,
        max_length=4096,  # a label is an app label and a file name; this only bounds what is read
        label="Type the target migration to confirm",
        widget=forms.TextInput(attrs={"class": "form-control font-monospace", "autocomplete": "off"}),
    )
    lock_timeout_ms = number_field(
        "lock_timeout (ms)",
        "A statement waiting longer than this for a lock fails, instead of queueing everyone behind it.",
        min_value=100,
        max_value=600_000,
    )
    statement_timeout_ms = number_field(
        "statement_timeout (ms)", "0 means no limit. Concurrent index builds on big tables can need hours.", min_value=0
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        settings = app_settings()
        longest = settings["MIGRATION_MAX_STATEMENT_TIMEOUT_MS"]
        self.fields["statement_timeout_ms"].validators.append(MaxValueValidator(longest))
        self.fields["statement_timeout_ms"].widget.attrs["max"] = longest
        if not self.is_bound:
            self.initial.setdefault("lock_timeout_ms", settings["MIGRATION_LOCK_TIMEOUT_MS"])
            self.initial.setdefault("statement_timeout_ms", settings["MIGRATION_STATEMENT_TIMEOUT_MS"])
