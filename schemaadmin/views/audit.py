from __future__ import annotations

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from schemaadmin.conf import app_settings
from schemaadmin.filters import AuditFilter
from schemaadmin.forms.browse import PageCursor
from schemaadmin.models import AuditEvent
from schemaadmin.paging import CursorError, KeysetOrder, keyset_page
from schemaadmin.permissions import permission_required
from schemaadmin.services.conversations import listing_total
from schemaadmin.tables.browse import AuditTable
from schemaadmin.views.browsing import cursor_from, render_page

# Newest first by id: ids are handed out in time order, and the primary key index walks them.
AUDIT_ORDER = KeysetOrder("-id", (("k_id", lambda: F("id")),), descending=True)
TEMPLATE = "schemaadmin/audit/list.html"


@permission_required("view_audit")
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    """List audit events, newest first, filtered by who, action, target and dates."""
    filters = AuditFilter(request.GET, queryset=AuditEvent.objects.all())
    paging = PageCursor(request.GET)
    context: dict[str, object] = {"filters": filters, "paging": paging}
    if not (filters.is_valid() & paging.is_valid()):
        return render_page(request, TEMPLATE, context, partial="results", status=400)
    try:
        cursor = cursor_from(paging.cleaned_data, AUDIT_ORDER)
    except CursorError as exc:
        context["cursor_error"] = str(exc)
        return render_page(request, TEMPLATE, context, partial="results", status=400)
    page = keyset_page(filters.qs, AUDIT_ORDER, cursor=cursor, size=app_settings()["PAGE_SIZES"][1])
    context.update(page=page, table=AuditTable(page.rows), total=listing_total(filters.qs))
    return render_page(request, TEMPLATE, context, partial="results")
