"""Live activity: sessions, the blocking tree, locks and connections (refreshed by htmx); cancel and terminate."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from schemaadmin.conf import app_settings
from schemaadmin.forms.activity import ActivityViewForm, SignalForm
from schemaadmin.permissions import permission_required
from schemaadmin.services.workload.activity import (
    Signal,
    SignalPlan,
    SignalRefusal,
    activity_report,
    send_signal,
    signal_plan,
)
from schemaadmin.views.browsing import render_page

__all__ = ["activity", "signal_session"]

PAGE_TEMPLATE = "schemaadmin/activity/page.html"
CONFIRM_TEMPLATE = "schemaadmin/activity/confirm.html"


@permission_required("view_health")
@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    """Show what the server is doing now; the live part refreshes itself unless paused."""
    form = ActivityViewForm(request.GET)
    valid = form.is_valid()
    paused = valid and form.cleaned_data["paused"]
    everything = valid and form.cleaned_data["all"]
    report = activity_report(show_query_text=request.user.has_perm("schemaadmin.view_query_text"))
    rows = report.rows_shown(everything=everything)
    base = reverse("schemaadmin:activity")
    context = {
        "report": report,
        "rows": rows,
        "hidden": len(report.rows) - len(rows),
        "everything": everything,
        "live_url": f"{base}?all=on" if everything else base,
        "paused_url": f"{base}?paused=on&all=on" if everything else f"{base}?paused=on",
        "toggle_url": f"{base}?{'paused=on&' if paused else ''}{'' if everything else 'all=on'}".rstrip("?&"),
        "paused": paused,
        "refresh_seconds": app_settings()["ACTIVITY_REFRESH_SECONDS"],
        "can_signal": request.user.has_perm("schemaadmin.signal_sessions"),
    }
    return render_page(request, PAGE_TEMPLATE, context, partial="activity-live")


def _confirm(request: HttpRequest, signal: Signal, form: SignalForm, plan: SignalPlan | None, **extra: Any) -> dict:
    return {"signal": signal, "form": form, "plan": plan, **extra}


@permission_required("signal_sessions")
@require_http_methods(["GET", "POST"])
def signal_session(request: HttpRequest, signal: str) -> HttpResponse:
    """Confirm (GET) and send (POST) a cancel or terminate to one backend, named by its pid."""
    chosen = Signal(signal)
    data = request.POST if request.method == "POST" else request.GET
    form = SignalForm(data)
    if not form.is_valid():
        return render_page(request, CONFIRM_TEMPLATE, _confirm(request, chosen, form, None), status=400)
    pid = form.cleaned_data["pid"]
    show_text = request.user.has_perm("schemaadmin.view_query_text")
    try:
        plan = signal_plan(chosen, pid, show_query_text=show_text)
    except SignalRefusal as refusal:
        context = _confirm(request, chosen, form, None, refusal=str(refusal))
        return render_page(request, CONFIRM_TEMPLATE, context, status=400)
    if request.method == "GET":
        return render_page(request, CONFIRM_TEMPLATE, _confirm(request, chosen, form, plan))
    try:
        outcome = send_signal(
            chosen, pid, user=request.user, request=request, confirmed_own=form.cleaned_data["confirm_own"]
        )
    except SignalRefusal as refusal:
        status = 409 if plan.own and not form.cleaned_data["confirm_own"] else 400
        return render_page(
            request, CONFIRM_TEMPLATE, _confirm(request, chosen, form, plan, refusal=str(refusal)), status=status
        )
    (messages.success if outcome.signalled else messages.warning)(request, outcome.message)
    return redirect("schemaadmin:activity")
