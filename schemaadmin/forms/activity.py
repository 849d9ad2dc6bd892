"""The activity page's forms: the pid a cancel or terminate names, and the second confirmation for our own."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django import forms

from schemaadmin.forms.fields import CHECK_BOX
from schemaadmin.pg.activity import MAX_PID

__all__ = ["SESSION_SORTS", "ActivityViewForm", "SignalForm"]

_DIGITS = re.compile(r"[0-9]+")
PID_MESSAGE = f"A process id is a whole number from 1 to {MAX_PID:,}, as the pid column shows it."
# How much of a refused POST's pids its audit event names: a pid is ten digits at most.
PIDS_SENT, PID_SENT_CHARS = 5, 20


# The sessions table's sortable columns (URL key -> header); "-" before a key sorts it descending.
SESSION_SORTS = {
    "state": "State",
    "role": "Role",
    "database": "Database",
    "wait": "Waiting for",
    "duration": "Duration",
}
_SORT_CHOICES = [("", "")] + [(f"{sign}{key}", key) for key in SESSION_SORTS for sign in ("", "-")]


class ActivityViewForm(forms.Form):
    """The page's own options: paused (no refresh), all (idle sessions and PostgreSQL's own processes too), and
    the column the sessions are sorted by (none: lock waiters and active sessions first, as the report reads them)."""

    paused = forms.BooleanField(required=False)
    all = forms.BooleanField(required=False)
    sort = forms.ChoiceField(
        required=False,
        choices=_SORT_CHOICES,
        error_messages={
            "invalid_choice": "There is no column “%(value)s” to sort the sessions by. Sort by one of: "
            + ", ".join(f"{key} ({label})" for key, label in SESSION_SORTS.items())
            + "; “-” before it sorts descending."
        },
    )


class _PidField(forms.IntegerField):
    """A pid as the pid column writes it: ASCII digits only (int() also reads "٣", "１２" and "1_2" as 3, 12 and 12;
    Django's IntegerField "+12" and "12.0")."""

    def to_python(self, value: object) -> int | None:
        if isinstance(value, str) and value.strip() and not _DIGITS.fullmatch(value.strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class SignalForm(forms.Form):
    """Which backend to signal; confirm_own is the second confirmation SchemaAdmin's own sessions need."""

    pid = _PidField(
        min_value=1,
        max_value=MAX_PID,
        error_messages={
            "required": "Say which session: its pid is missing.",
            "invalid": PID_MESSAGE,
            "min_value": PID_MESSAGE,
            "max_value": PID_MESSAGE,
        },
        widget=forms.HiddenInput,
    )
    # When the session confirmed began (its backend_start, written by the confirmation page): a POST signals that
    # session only, not another that has since been given the same pid.
    # ISO text with its offset, not a DateTimeField: that one renders in the viewer's zone without the offset, and a
    # session begun in the hour a daylight-saving change repeats would not read back.
    started = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    confirm_own = forms.BooleanField(
        required=False,
        label="I know this is one of SchemaAdmin's own sessions, and signal it anyway.",
        widget=forms.CheckboxInput(attrs=CHECK_BOX),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        # A form names one session: with two pids Django would read the last one alone and signal it.
        for name in ("pid", "started"):
            given = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data.get(name)]
            if len(given) > 1:
                self.add_error(
                    name,
                    f"This request names {len(given)} sessions ({name} is given {len(given)} times): cancel or "
                    "terminate one at a time, from its row of the list.",
                )
        return self.cleaned_data

    def pids_sent(self) -> str:
        """Return the pid values the request sent, as written and bounded ("1, 2"; "(none)"), to name what a refused
        POST asked for: it names no session."""
        given = self.data.getlist("pid") if hasattr(self.data, "getlist") else [self.data.get("pid")]
        sent = [str(value)[:PID_SENT_CHARS] for value in given[:PIDS_SENT] if value not in (None, "")]
        return ", ".join(sent) + (", …" if len(given) > PIDS_SENT else "") if sent else "(none)"

    def clean_started(self) -> datetime | None:
        text = self.cleaned_data.get("started") or ""
        if not text:
            return None
        try:
            started = datetime.fromisoformat(text)
        except ValueError:
            started = None
        if started is None or started.tzinfo is None:
            raise forms.ValidationError("The confirmation's session start is not a time: open it again from the list.")
        return started
