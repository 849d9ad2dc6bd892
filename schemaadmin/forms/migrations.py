"""The migrations page's filter: one app, applied or not; values checked against the migrations that exist."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms

from schemaadmin.forms.fields import filter_choice
from schemaadmin.services.schema.migrations import MigrationStatus

__all__ = ["MigrationFilterForm"]

SHOW_CHOICES = [("", "All migrations"), ("unapplied", "Not yet applied"), ("applied", "Applied")]


class MigrationFilterForm(forms.Form):
    app = filter_choice("App")
    show = filter_choice("Show", SHOW_CHOICES)

    def __init__(self, data: Any = None, *args: object, apps: Sequence[str], **kwargs: object) -> None:
        if data is not None and data.get("show") == "pending":  # the word the pages and the README use for it
            data = data.copy()
            data["show"] = "unapplied"
        super().__init__(data, *args, **kwargs)  # type: ignore[arg-type]
        app_field = cast(forms.ChoiceField, self.fields["app"])
        app_field.choices = [("", "Every app"), *((app, app) for app in apps)]
        app_field.error_messages["invalid_choice"] = "No app labelled “%(value)s” has migrations."

    def matches(self, status: MigrationStatus) -> bool:
        """Return whether the migration passes the filter (call after is_valid())."""
        app, show = self.cleaned_data.get("app"), self.cleaned_data.get("show")
        if app and status.app_label != app:
            return False
        return not show or (show == "applied") == status.applied
