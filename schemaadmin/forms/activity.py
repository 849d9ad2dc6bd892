"""The activity page's forms: the pid a cancel or terminate names, and the second confirmation for our own."""

from __future__ import annotations

from django import forms

from schemaadmin.forms.fields import CHECK_BOX
from schemaadmin.pg.activity import MAX_PID

__all__ = ["ActivityViewForm", "SignalForm"]

PID_MESSAGE = f"A process id is a whole number from 1 to {MAX_PID:,}, as the pid column shows it."


class ActivityViewForm(forms.Form):
    """The page's own options: paused (no refresh), all (idle sessions and PostgreSQL's own processes too)."""

    paused = forms.BooleanField(required=False)
    all = forms.BooleanField(required=False)


class SignalForm(forms.Form):
    """Which backend to signal; confirm_own is the second confirmation SchemaAdmin's own sessions need."""

    pid = forms.IntegerField(
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
    confirm_own = forms.BooleanField(
        required=False,
        label="I know this is one of SchemaAdmin's own sessions, and signal it anyway.",
        widget=forms.CheckboxInput(attrs=CHECK_BOX),
    )
