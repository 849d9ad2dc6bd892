"""Dropping an archive of the schema page: the archive's name, typed again to confirm."""

from __future__ import annotations

from typing import Any

from django import forms

__all__ = ["ArchiveDropForm"]


class ArchiveDropForm(forms.Form):
    # Not stripped: an archive named with an edge space (a column "x " makes one) is another table than "x".
    name = forms.CharField(max_length=63, strip=False, widget=forms.HiddenInput)
    typed_name = forms.CharField(
        label="Type the archive's name to drop it",
        max_length=63,
        strip=False,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm font-monospace", "autocomplete": "off"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("name") and data.get("typed_name") != data.get("name"):
            # Between quotes: a name's edge spaces are part of it, and must be seen to be typed.
            self.add_error("typed_name", f"Type “{data['name']}” exactly to drop it.")
        return data
