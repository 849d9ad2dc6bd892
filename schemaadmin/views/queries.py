"""Query statistics: the costliest statements of a window, one statement's history, and regressions."""

from __future__ import annotations

import re
from typing import Any

from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from schemaadmin.conf import app_settings
from schemaadmin.forms.queries import QueryWindowForm, previous_window
from schemaadmin.permissions import permission_required
from schemaadmin.pg.connection import server_version
from schemaadmin.services.explain.statement import explain_refusal
from schemaadmin.services.workload.availability import availability
from schemaadmin.services.workload.coverage import coverage
from schemaadmin.services.workload.history import regressions, statement_history
from schemaadmin.services.workload.query_stats import filter_choices, query_stats, snapshots_cover
from schemaadmin.views.browsing import render_page

LIST_TEMPLATE = "schemaadmin/queries/list.html"
DETAIL_TEMPLATE = "schemaadmin/queries/detail.html"
REGRESSIONS_TEMPLATE = "schemaadmin/queries/regressions.html"
_BIGINT = (-(2**63), 2**63 - 1)


def _bound(request: HttpRequest, **empty: object) -> tuple[QueryWindowForm, dict[str, Any]]:
    """Return the window form bound to the request, and the page's context with the result keys empty."""
    state = availability()
    databases, roles = filter_choices() if state.state != "unreachable" else ([], [])
    form = QueryWindowForm(request.GET, databases=databases, roles=roles)
    # What links to a statement's page carry, so that it opens on the same window and filters.
    keep_query = f"?{request.GET.urlencode()}" if request.GET else ""
    context = {"form": form, "availability": state, "coverage": coverage(), "keep_query": keep_query, **empty}
    return form, context


@permission_required("view_health")
@require_GET
def query_list(request: HttpRequest) -> HttpResponse:
    """List the statements that cost most in a window, with their share of time and a sparkline each."""
    form, context = _bound(request, stats=None)
    if not form.is_valid():
        return render_page(request, LIST_TEMPLATE, context, partial="results", status=400)
    start, end = form.window_bounds()
    data = form.cleaned_data
    context["stats"] = query_stats(
        start, end, order=data["order"], limit=data["limit"], state=context["availability"], **form.filters()
    )
    return render_page(request, LIST_TEMPLATE, context, partial="results")


# As PostgreSQL writes a bigint: no leading zero, no -0, at most 19 digits (int() refuses a text of over 4,300).
_QUERYID = re.compile(r"0|-?[1-9][0-9]{0,18}", re.ASCII)


@permission_required("view_health")
@require_GET
def query_detail(request: HttpRequest, queryid: str) -> HttpResponse:
    """Show one statement: its full normalized text, its figures per database and role, its series, Explain this."""
    # One URL per statement: int() would also take "+5", "1_000", " 123", "007" and other scripts' digits.
    if _QUERYID.fullmatch(queryid) is None:
        raise Http404("A statement is named by its queryid, a number.")
    number = int(queryid)
    if not _BIGINT[0] <= number <= _BIGINT[1]:
        raise Http404("No statement has that queryid.")
    form, context = _bound(request, history=None, queryid=number)
    if not form.is_valid():
        return render_page(request, DETAIL_TEMPLATE, context, status=400)
    start, end = form.window_bounds()
    history = statement_history(number, start, end, **form.filters())
    if not history.query and not history.owners:
        raise Http404("No statement with that queryid is recorded.")
    database = connections["default"].settings_dict["NAME"]
    # The console plans on the default database, and queries only: offer it for such statements that ran there.
    may_explain = history.database in (None, database) and request.user.has_perm("schemaadmin.run_explain")
    refusal = explain_refusal(history.query, server_version=server_version()) if may_explain and history.query else ""
    context.update(
        history=history,
        explainable=may_explain and not refusal,
        explain_refusal=refusal,
        explain_database=database,
        chart={
            "start": history.start.isoformat(),  # the x axis spans the window, not only its snapshots
            "end": history.end.isoformat(),
            "labels": [point.bucket.isoformat() for point in history.points],
            "total_ms": [round(point.total_ms, 3) for point in history.points],
            "calls": [point.calls for point in history.points],
            "mean_ms": [round(point.mean_ms, 3) for point in history.points],
        },
    )
    return render_page(request, DETAIL_TEMPLATE, context)


@permission_required("view_health")
@require_GET
def query_regressions(request: HttpRequest) -> HttpResponse:
    """List the statements whose mean time rose most from the window before to this window."""
    form, context = _bound(request, changes=None)
    if not form.is_valid():
        return render_page(request, REGRESSIONS_TEMPLATE, context, partial="results", status=400)
    after = form.window_bounds()
    before = previous_window(*after)
    changes = regressions(before, after, limit=form.cleaned_data["limit"], **form.filters())
    context.update(
        changes=changes,
        before=before,
        after=after,
        min_calls=max(1, int(app_settings()["QUERY_STATS_REGRESSION_MIN_CALLS"])),
    )
    if not changes:  # nothing rose, or nothing to compare: a window no snapshot covers has no figures
        context.update(before_covered=snapshots_cover(*before), after_covered=snapshots_cover(*after))
    return render_page(request, REGRESSIONS_TEMPLATE, context, partial="results")
