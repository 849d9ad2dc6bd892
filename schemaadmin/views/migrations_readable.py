"""The schema pages when Django cannot read the migrations on disk: a page that says which file and why, not a 500."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from schemaadmin.services.schema.migrations import migrations_problem
from schemaadmin.views.browsing import render_page

__all__ = ["reads_migrations"]

TEMPLATE = "schemaadmin/schema/unreadable.html"


def reads_migrations[View: Callable[..., HttpResponse]](view: View) -> View:
    """Answer 503 with the reason when the view fails because a migration file cannot be read (it does not import,
    depends on a migration that does not exist, or alters a model no migration creates); any other error is raised
    as it was. The check runs only after a failure: a page that works pays nothing for it."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (Http404, PermissionDenied):
            raise  # a page or a right that is not there: nothing to do with the files
        except Exception:
            problem = migrations_problem()
            if problem is None:
                raise
            return render_page(request, TEMPLATE, {"problem": problem}, status=503)

    return wrapped  # type: ignore[return-value]
