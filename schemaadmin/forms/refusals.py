"""A refused form's errors as one text: the reason the audit log gives for a privileged POST it refused."""

from __future__ import annotations

from django import forms

from schemaadmin.templatetags.form_errors import labelled_errors

__all__ = ["refusal_reason"]


def refusal_reason(form: forms.Form) -> str:
    """Return the bound, invalid form's errors as one text, each after the label its field shows on the page."""
    said = [f"{label}: {error}" if label else error for label, errors, _ in labelled_errors(form) for error in errors]
    return " ".join(said) or "The form was refused."
