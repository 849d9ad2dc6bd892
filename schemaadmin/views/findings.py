"""Every health finding in one place: the list each count on the overview, /indexes/ and /tables/ links into."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from schemaadmin.forms.health import FindingFilterForm
from schemaadmin.permissions import permission_required
from schemaadmin.services.findings import severity_counts
from schemaadmin.services.index_health import CODES, health_report
from schemaadmin.tables.findings import FindingTable
from schemaadmin.views.browsing import filtered_table_page

LIST_TEMPLATE = "schemaadmin/findings/list.html"


@permission_required("view_health")
@require_GET
def finding_list(request: HttpRequest) -> HttpResponse:
    """List the findings that pass the filters, worst first, with counts by severity of what passed."""
    # HIDE_FRAMEWORK_TABLES hides the framework's tables unless the filter asks for them.
    report = health_report(hide_framework=False if request.GET.get("scope") == "framework" else None)
    codes = {code: title for code, (_, title) in CODES.items()}
    codes.update((f.code, f.title or f.code) for f in report.findings if f.code not in codes)
    form = FindingFilterForm(request.GET, codes=codes)
    findings = [f for f in report.findings if form.matches(f)] if form.is_valid() else []
    context = {"report": report, "counts": severity_counts(findings)}
    return filtered_table_page(request, LIST_TEMPLATE, form, FindingTable(findings), "finding-table", context)
