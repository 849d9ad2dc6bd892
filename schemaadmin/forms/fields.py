"""Form fields as the dashboard draws them: the Bootstrap classes of each kind of control have one home here."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from django import forms

__all__ = ["CHECK_BOX", "SMALL_SELECT", "VisibleTextField", "filter_choice", "filter_flag", "number_field"]

SMALL_SELECT = {"class": "form-select form-select-sm"}
CHECK_BOX = {"class": "form-check-input"}


def filter_choice(label: str, choices: Iterable[tuple[Any, str]] = ()) -> forms.ChoiceField:
    """Return an optional choice of a filter bar, drawn as a small select (choices may be set later)."""
    return forms.ChoiceField(required=False, choices=choices, label=label, widget=forms.Select(attrs=SMALL_SELECT))


def filter_flag(label: str) -> forms.BooleanField:
    """Return an optional check box of a filter bar."""
    return forms.BooleanField(
        required=False, label=label, widget=forms.CheckboxInput(attrs={"class": "form-check-input"})
    )


def number_field(
    label: str, help_text: str, *, small: bool = False, decimal: bool = False, **limits: Any
) -> forms.IntegerField | forms.FloatField:
    """Return a number input (a float one when decimal, in steps of 0.01); limits go to the field (min_value=…)."""
    attrs = {"class": "form-control form-control-sm" if small else "form-control"}
    if decimal:
        widget = forms.NumberInput(attrs={**attrs, "step": "0.01"})
        return forms.FloatField(label=label, help_text=help_text, widget=widget, **limits)
    return forms.IntegerField(label=label, help_text=help_text, widget=forms.NumberInput(attrs=attrs), **limits)


class VisibleTextField(forms.CharField):
    """A text field whose value is "" when it holds nothing visible: only the invisible formatting characters a copied
    number comes wrapped in (direction marks, zero-width spaces, a byte order mark) and spaces. Such a value asks for
    nothing: as a user filter it matched every user (a name starts with ""), sorting all of them to show 50."""

    def to_python(self, value: Any) -> str | None:
        text = super().to_python(value)
        if not text or any(not char.isspace() and unicodedata.category(char) != "Cf" for char in text):
            return text
        return ""
