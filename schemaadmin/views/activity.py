"""Live activity: sessions, the blocking tree, locks and connections (refreshed by htmx); cancel and terminate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from schemaadmin.conf import app_settings
from schemaadmin.forms.activity import ActivityViewForm, SignalForm
from schemaadmin.forms.refusals import refusal_reason
from schemaadmin.permissions import permission_required
from schemaadmin.services.workload.activity import SessionRow, activity_report
from schemaadmin.services.workload.signals import (
    OwnSessionUnconfirmed,
    Signal,
    SignalPlan,
    SignalRefusal,
    refuse_signal,
    send_signal,
    signal_plan,
)
from schemaadmin.views.browsing import render_page

__all__ = ["activity", "signal_session", "sorted_rows"]

PAGE_TEMPLATE = "schemaadmin/activity/page.html"
CONFIRM_TEMPLATE = "schemaadmin/activity/confirm.html"
REFUSAL_ID = "signal-refusal"  # the refusal's element on the confirmation page


# What each sort key orders the sessions by; sessions without the value (a background process's role, an idle
# session's wait) go last either way. The report holds at most ACTIVITY_MAX_SESSIONS rows: sorted in Python.
_SORT_VALUES: dict[str, Callable[[SessionRow], Any]] = {
    "state": lambda row: row.session.state or row.session.backend_type,
    "role": lambda row: row.session.role,
    "database": lambda row: row.session.database,
    "wait": lambda row: (
        f"{row.session.wait_event_type}: {row.session.wait_event}"
        if row.session.wait_event and row.session.state != "idle"
        else None
    ),
    "duration": lambda row: row.duration_seconds,
}


def sorted_rows(rows: list[SessionRow], sort: str) -> list[SessionRow]:
    """Return rows ordered by the sort key ("duration", "-role", …; "" keeps the report's order), missing last."""
    if not sort:
        return rows
    value = _SORT_VALUES[sort.lstrip("-")]
    present = [row for row in rows if value(row) not in (None, "")]
    missing = [row for row in rows if value(row) in (None, "")]
    return sorted(present, key=lambda row: (value(row), row.pid), reverse=sort.startswith("-")) + missing


def _url(*, paused: bool, everything: bool, sort: str) -> str:
    """Return the page's URL with its options: what the refresh, pause, resume and toggle links ask for."""
    options = {"paused": "on" if paused else "", "all": "on" if everything else "", "sort": sort}
    query = urlencode({key: value for key, value in options.items() if value})
    base = reverse("schemaadmin:activity")
    return f"{base}?{query}" if query else base


@permission_required("view_health")
@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    """Show what the server is doing now; the live part refreshes itself unless paused."""
    form = ActivityViewForm(request.GET)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    paused, everything, sort = data.get("paused", False), data.get("all", False), data.get("sort", "")
    report = activity_report(show_query_text=request.user.has_perm("schemaadmin.view_query_text"))
    rows = sorted_rows(report.rows_shown(everything=everything), sort)
    context = {
        "form": form,
        "report": report,
        "rows": rows,
        "hidden": len(report.rows) - len(rows),
        "everything": everything,
        "sort": sort,
        "live_url": _url(paused=False, everything=everything, sort=sort),
        "paused_url": _url(paused=True, everything=everything, sort=sort),
        "toggle_url": _url(paused=paused, everything=not everything, sort=sort),
        "paused": paused,
        "refresh_seconds": app_settings()["ACTIVITY_REFRESH_SECONDS"],
        "can_signal": request.user.has_perm("schemaadmin.signal_sessions"),
    }
    return render_page(request, PAGE_TEMPLATE, context, partial="activity-live", status=200 if valid else 400)


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
        if request.method == "POST":
            refuse_signal(chosen, form.pids_sent(), refusal_reason(form), user=request.user, request=request)
        return render_page(request, CONFIRM_TEMPLATE, _confirm(request, chosen, form, None), status=400)
    pid = form.cleaned_data["pid"]
    if request.method == "GET":
        return _confirmation(request, chosen, pid)
    started = form.cleaned_data["started"]
    if started is None:
        unnamed = "The confirmation did not say which session it showed: look at this one, and confirm again."
        refuse_signal(chosen, pid, unnamed, user=request.user, request=request)
        return _confirmation(request, chosen, pid, refusal=unnamed, status=400)
    try:
        outcome = send_signal(
            chosen,
            pid,
            user=request.user,
            request=request,
            confirmed_own=form.cleaned_data["confirm_own"],
            started=started,
        )
    except SignalRefusal as refusal:
        # The session as it is now, to confirm again: the pid's current session when the one confirmed is gone.
        said = f"Nothing was sent. {refusal}"
        if isinstance(refusal, OwnSessionUnconfirmed):
            button = "Cancel" if chosen is Signal.CANCEL else "Terminate"
            said += f" Tick “{SignalForm.base_fields['confirm_own'].label}” below, then press {button} again."
            return _confirmation(request, chosen, pid, refusal=said, status=409, own_unconfirmed=True)
        return _confirmation(request, chosen, pid, refusal=said, status=400)
    (messages.success if outcome.signalled else messages.warning)(request, outcome.message)
    return redirect("schemaadmin:activity")


def _terminable(request: HttpRequest, pid: int) -> bool:
    """Return whether a terminate of pid would pass the checks a cancel of it failed (one more catalog read, on a
    refusal only)."""
    if not request.user.has_perm("schemaadmin.signal_sessions"):
        return False
    try:
        signal_plan(Signal.TERMINATE, pid, show_query_text=False)
    except SignalRefusal:
        return False
    return True


def _confirmation(
    request: HttpRequest,
    signal: Signal,
    pid: int,
    *,
    refusal: str = "",
    status: int = 200,
    own_unconfirmed: bool = False,
) -> HttpResponse:
    """Render the confirmation of signalling pid's session as it is now (a refusal's sentence above it), or the
    sentence that says why it cannot be signalled. own_unconfirmed: the second confirmation was missing, so its box
    is marked invalid, described by the refusal, and focused."""
    try:
        plan = signal_plan(signal, pid, show_query_text=request.user.has_perm("schemaadmin.view_query_text"))
    except SignalRefusal as cannot:
        # A POST refused by the plan's own checks says so once, not twice ("Nothing was sent. <the same>").
        shown = refusal if str(cannot) in refusal else f"{refusal} {cannot}".strip()
        context = _confirm(request, signal, SignalForm(initial={"pid": pid}), None, refusal=shown)
        # A cancel that would change nothing (the session idles in its transaction) links to what would.
        context["terminate_instead"] = signal is Signal.CANCEL and _terminable(request, pid)
        return render_page(request, CONFIRM_TEMPLATE, context, status=400)
    # The form the page sends back names this session by its start too, so a pid reused meanwhile is not signalled.
    started = plan.row.session.backend_start
    confirmation = SignalForm(initial={"pid": pid, "started": started.isoformat() if started else ""})
    if own_unconfirmed and plan.own:
        box = confirmation.fields["confirm_own"].widget.attrs  # this form's own copy
        # Marked invalid, it takes the focus as a refused form's first invalid field does (schemaadmin.js).
        box.update(
            {"class": f"{box.get('class', '')} is-invalid", "aria-describedby": REFUSAL_ID, "aria-invalid": "true"}
        )
    context = _confirm(request, signal, confirmation, plan, refusal=refusal)
    return render_page(request, CONFIRM_TEMPLATE, context, status=status)
