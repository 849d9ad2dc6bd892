"""The recall check form: neighbours per query, query vectors sampled, and the recall to reach."""

from __future__ import annotations

from django import forms
from django.core.validators import MaxValueValidator

from schemaadmin.conf import app_settings

__all__ = ["RecallCheckForm"]


class RecallCheckForm(forms.Form):
    k = forms.IntegerField(
        min_value=1,
        initial=10,
        label="k",
        help_text="Neighbours per query.",
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm"}),
    )
    samples = forms.IntegerField(
        min_value=1,
        initial=100,
        label="Samples",
        help_text="Query vectors drawn from the table.",
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm"}),
    )
    target = forms.FloatField(
        min_value=0.01,
        max_value=1.0,
        label="Target recall",
        help_text="The smallest search setting reaching it is recommended.",
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm", "step": "0.01"}),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        settings = app_settings()
        self.fields["target"].initial = settings["RECALL_TARGET"]
        for name, most in (("k", settings["RECALL_MAX_K"]), ("samples", settings["RECALL_MAX_SAMPLES"])):
            self.fields[name].validators.append(MaxValueValidator(most))
            self.fields[name].widget.attrs["max"] = most
