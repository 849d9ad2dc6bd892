"""Django's admin site, with its refusals audited as the dashboard's are."""

from __future__ import annotations

from functools import update_wrapper
from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponseBase

from schemaadmin.permissions import audit_refusal

# What a person needs for /admin/ (AdminSite.has_permission): an active staff account.
ADMIN_RIGHT = "admin (staff status)"


class AuditedAdminSite(AdminSite):
    """AdminSite whose pages, refused to a signed-in person without staff status, write access.denied before Django
    sends them to its sign-in page ("You are authenticated as …, but are not authorized"), as a dashboard page
    refused for a missing right does. Someone not signed in is only asked to sign in: that is no refusal."""

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        checked = super().admin_view(view, cacheable)

        def audited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.user.is_authenticated and not self.has_permission(request):
                audit_refusal(request, ADMIN_RIGHT)
            return checked(request, *args, **kwargs)

        return update_wrapper(audited, checked)
