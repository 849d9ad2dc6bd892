from __future__ import annotations

from datetime import datetime

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from schemaadmin.conf import app_settings
from schemaadmin.filters import AuditFilter
from schemaadmin.forms.browse import PageCursor
from schemaadmin.models import AuditEvent
from schemaadmin.paging import CursorError, KeysetOrder, keyset_page
from schemaadmin.permissions import permission_required
from schemaadmin.pg.audit import audit_actions
from schemaadmin.services.conversations import listing_total
from schemaadmin.tables.browse import AuditTable
from schemaadmin.views.browsing import cursor_from, render_page

# By time, then id: each filter has an index that walks its rows in this order (the filter's column, at, id), and
# the dates are a range of the `at` index. Ordered by id, a filter that matches few events walked the whole primary
# key past every other event: 0.7-2.3 s a page at 5 million events.
_KEYS = (("k_at", lambda: F("at")), ("k_id", lambda: F("id")))
AUDIT_ORDERS = {
    "newest": KeysetOrder("-at", _KEYS, descending=True, kinds=(datetime, int)),
    "oldest": KeysetOrder("at", _KEYS, descending=False, kinds=(datetime, int)),
}
TEMPLATE = "schemaadmin/audit/list.html"


@permission_required("view_audit")
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    """List audit events, newest first, filtered by who, action, target and dates."""
    filters = AuditFilter(request.GET, queryset=AuditEvent.objects.all())
    paging = PageCursor(request.GET)
    wanted = request.GET.get("order") or "newest"
    context: dict[str, object] = {"filters": filters, "paging": paging, "order": wanted, "actions": audit_actions()}
    if wanted not in AUDIT_ORDERS:
        context["order_error"] = f"There is no order “{wanted[:40]}”: the log is ordered newest or oldest first."
    if not (filters.is_valid() & paging.is_valid()) or "order_error" in context:
        return render_page(request, TEMPLATE, context, partial="results", status=400)
    order = AUDIT_ORDERS[wanted]
    try:
        cursor = cursor_from(request, paging.cleaned_data, order)
    except CursorError as exc:
        context["cursor_error"] = str(exc)
        return render_page(request, TEMPLATE, context, partial="results", status=400)
    page = keyset_page(filters.qs, order, cursor=cursor, size=app_settings()["PAGE_SIZES"][1])
    table = AuditTable(page.rows)
    table.keyset_order = wanted  # its "When" header says the order and links to the other one
    context.update(page=page, table=table, total=listing_total(filters.qs))
    return render_page(request, TEMPLATE, context, partial="results")
