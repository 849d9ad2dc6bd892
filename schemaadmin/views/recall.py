"""Recall checks: start one from an index's page, and watch it until it shows recall, latency and a setting."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from schemaadmin.forms.recall import RecallCheckForm
from schemaadmin.forms.refusals import refusal_reason
from schemaadmin.models import RecallCheck
from schemaadmin.permissions import permission_required
from schemaadmin.services.recall import (
    RecallRefused,
    RecallResult,
    latest_recall_check,
    refuse_check,
    start_recall_check,
)
from schemaadmin.views.browsing import render_page

__all__ = ["recall_check", "recall_check_start", "recall_panel"]

START_TEMPLATE = "schemaadmin/recall/start.html"
CHECK_TEMPLATE = "schemaadmin/recall/check.html"


def recall_panel(schema: str, name: str) -> dict[str, Any]:
    """Return what an index's page shows about recall: the latest check and a blank form."""
    latest = latest_recall_check(schema, name)
    return {
        "latest_recall": latest,
        "latest_recall_result": _result(latest),
        "recall_form": RecallCheckForm(),
    }


def _result(check: RecallCheck | None) -> RecallResult | None:
    if check is None or not check.result:
        return None
    return RecallResult.from_json(check.result)


@permission_required("rebuild_index")
@require_POST
def recall_check_start(request: HttpRequest, qualified: str) -> HttpResponse:
    """Queue a recall check of the index in the worker; show the form again with the reason if it is refused."""
    form = RecallCheckForm(request.POST)
    context: dict[str, Any] = {"qualified": qualified, "form": form, "problem": ""}
    if not form.is_valid():
        refuse_check(qualified, refusal_reason(form), user=request.user, request=request)
        return render_page(request, START_TEMPLATE, context, status=400)
    data = form.cleaned_data
    try:
        check = start_recall_check(
            qualified, user=request.user, request=request, k=data["k"], samples=data["samples"], target=data["target"]
        )
    except RecallRefused as refused:
        context["problem"] = str(refused)
        return render_page(request, START_TEMPLATE, context, status=400)
    return redirect("schemaadmin:recall_check", pk=check.pk)


@permission_required("view_rebuilds")
@require_GET
def recall_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Show one recall check: its state and log, then recall@k, latency and the ladder with the recommendation."""
    check = get_object_or_404(RecallCheck.objects.select_related("requested_by", "rebuild"), pk=pk)
    context = {"check": check, "result": _result(check)}
    return render_page(request, CHECK_TEMPLATE, context, partial="check-state")
