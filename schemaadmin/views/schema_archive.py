"""The archives of destructive applies: dropped from the schema page with the name typed (DBAs)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from schemaadmin.forms.archive import ArchiveDropForm
from schemaadmin.forms.refusals import refusal_reason
from schemaadmin.permissions import permission_required
from schemaadmin.pg.names import qualify
from schemaadmin.services.schema.archive import ArchiveInUse, UnknownArchive, drop, refuse_drop

__all__ = ["archive_drop"]


@permission_required("apply_migrations")
@require_POST
def archive_drop(request: HttpRequest) -> HttpResponse:
    """Drop one archive table once its name is typed; say what happened on the schema page."""
    form = ArchiveDropForm(request.POST)
    if not form.is_valid():
        problems = [str(error) for errors in form.errors.values() for error in errors]
        messages.error(request, " ".join(problems) or "Name the archive to drop.")
        refuse_drop(form.data.get("name", ""), refusal_reason(form), user=request.user, request=request)
        return redirect(reverse("schemaadmin:schema") + "#archives")
    try:
        dropped = drop(form.cleaned_data["name"], user=request.user, request=request)
    except (UnknownArchive, ArchiveInUse) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Dropped the archive {qualify(dropped.schema, dropped.name)}.")
    return redirect(reverse("schemaadmin:schema") + "#archives")
