"""A bound form's errors under the labels people see, not the names of the parameters they came in."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import NON_FIELD_ERRORS

register = template.Library()

__all__ = ["labelled_errors"]


@register.filter
def labelled_errors(form: Any, also: Any = None) -> list[tuple[str, list[str], str]]:
    """{% for label, errors, error_id in form|labelled_errors %}: each field's errors under its label ("Active from",
    not active_from), the form's own errors under "". A FilterSet gives its form's; form|labelled_errors:also gives
    the errors of both, form's first (the conversation list's controls and filters, said in one list).

    error_id is the id the field's aria-describedby names for its errors (Django gives an invalid field
    aria-describedby="<its id>_error"): the element that shows them carries it, unless the field's own markup does
    (includes/field.html); "" for the form's own errors.
    """
    labelled = _labelled(form)
    return labelled + _labelled(also) if also else labelled


def _labelled(form: Any) -> list[tuple[str, list[str], str]]:
    form = getattr(form, "form", form)
    labelled = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        if name == NON_FIELD_ERRORS or field is None:
            label, error_id = "", ""
        else:
            label = str(field.label or name.replace("_", " ").capitalize())
            error_id = f"{form[name].auto_id}_error" if form[name].auto_id else ""
        labelled.append((label, [str(error) for error in errors], error_id))
    return labelled
