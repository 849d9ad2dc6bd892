"""The recall check form: neighbours per query, query vectors sampled, and the recall to reach."""

from __future__ import annotations

from django import forms
from django.core.validators import MaxValueValidator

from schemaadmin.conf import app_settings
from schemaadmin.forms.fields import number_field

__all__ = ["RecallCheckForm"]


class RecallCheckForm(forms.Form):
    k = number_field("k", "Neighbours per query.", small=True, min_value=1, initial=10)
    samples = number_field("Samples", "Query vectors drawn from the table.", small=True, min_value=1, initial=100)
    target = number_field(
        "Target recall",
        "The smallest search setting reaching it is recommended.",
        small=True,
        decimal=True,
        min_value=0.01,
        max_value=1.0,
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        settings = app_settings()
        self.fields["target"].initial = settings["RECALL_TARGET"]
        for name, most in (("k", settings["RECALL_MAX_K"]), ("samples", settings["RECALL_MAX_SAMPLES"])):
            self.fields[name].validators.append(MaxValueValidator(most))
            self.fields[name].widget.attrs["max"] = most
