"""A bound form's errors under the labels people see, not the names of the parameters they came in."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import NON_FIELD_ERRORS

register = template.Library()

__all__ = ["labelled_errors"]


@register.filter
def labelled_errors(form: Any) -> list[tuple[str, list[str]]]:
    """{% for label, errors in form|labelled_errors %}: each field's errors under its label ("Active from", not
    active_from), the form's own errors under "". A FilterSet gives its form's."""
    form = getattr(form, "form", form)
    labelled = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        if name == NON_FIELD_ERRORS or field is None:
            label = ""
        else:
            label = str(field.label or name.replace("_", " ").capitalize())
        labelled.append((label, [str(error) for error in errors]))
    return labelled
