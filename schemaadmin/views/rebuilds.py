"""Index rebuilds: the list of jobs, the request form with its review, one rebuild's live page, cancel and retry."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from schemaadmin.forms.browse import PageCursor
from schemaadmin.forms.rebuilds import NOT_REBUILDABLE, SUGGESTIONS_ID, RebuildFilterForm, RebuildForm
from schemaadmin.forms.refusals import refusal_reason
from schemaadmin.models import ACTIVE_STATES, IndexRebuild
from schemaadmin.paging import CursorError, KeysetOrder, keyset_page
from schemaadmin.permissions import permission_required
from schemaadmin.pg.names import QUALIFIED_MAX_LENGTH
from schemaadmin.services.conversations import listing_total
from schemaadmin.services.rebuilds import (
    RebuildAlreadyActive,
    RebuildPlan,
    RebuildRefused,
    ReviewOutdated,
    active_rebuild,
    awaits_recall_check,
    build_progress,
    build_session_gone,
    cancel_rebuild,
    refuse_start,
    retry_rebuild,
    start_rebuild,
    suggested_indexes,
)
from schemaadmin.views.browsing import cursor_from, render_page

__all__ = ["rebuild_cancel", "rebuild_detail", "rebuild_list", "rebuild_new", "rebuild_retry"]

LIST_TEMPLATE = "schemaadmin/rebuilds/list.html"
NEW_TEMPLATE = "schemaadmin/rebuilds/new.html"
DETAIL_TEMPLATE = "schemaadmin/rebuilds/detail.html"
LATEST = 50  # rebuilds per page
SUGGESTED_MAX = 200  # index names the form suggests (a partitioned table has one vector index a partition)
# Newest first by id: ids are handed out in the order rebuilds are requested.
REBUILD_ORDER = KeysetOrder("rebuilds", (("k_id", lambda: F("id")),), descending=True, kinds=(int,))


@permission_required("view_rebuilds")
@require_GET
def rebuild_list(request: HttpRequest) -> HttpResponse:
    """List rebuilds, newest first, a page at a time, filtered by state or index; active ones update themselves."""
    form = RebuildFilterForm(request.GET)
    paging = PageCursor(request.GET)
    rebuilds = IndexRebuild.objects.select_related("requested_by", "cancelled_by")
    context: dict[str, Any] = {
        "form": form,
        "paging": paging,
        "rebuilds": [],
        "latest": LATEST,
        "polling": False,
        "can_rebuild": request.user.has_perm("schemaadmin.rebuild_index"),
    }
    if not (form.is_valid() & paging.is_valid()):
        return render_page(request, LIST_TEMPLATE, context, partial="rebuild-rows", status=400)
    state, named = form.cleaned_data["state"], form.cleaned_data["index"]
    if state == "active":
        rebuilds = rebuilds.filter(state__in=ACTIVE_STATES)
    elif state:
        rebuilds = rebuilds.filter(state=state)
    if named:
        schema, name = named
        rebuilds = rebuilds.filter(schema_name=schema, index_name=name)
    try:
        cursor = cursor_from(request, paging.cleaned_data, REBUILD_ORDER)
    except CursorError as exc:
        context["cursor_error"] = str(exc)
        return render_page(request, LIST_TEMPLATE, context, partial="rebuild-rows", status=400)
    page = keyset_page(rebuilds, REBUILD_ORDER, cursor=cursor, size=LATEST)
    context.update(
        rebuilds=page.rows,
        page=page,
        total=listing_total(rebuilds),
        polling=any(r.is_active for r in page.rows),
    )
    return render_page(request, LIST_TEMPLATE, context, partial="rebuild-rows")


def _new_context(form: RebuildForm, plan: RebuildPlan | None) -> dict[str, Any]:
    suggestions = suggested_indexes(using=form.using)
    form.describe_empty_options()
    chosen = form.chosen_index
    active = form.active
    if active is None and chosen is not None:
        active = active_rebuild(chosen.schema, chosen.name, using=form.using)
    return {
        "form": form,
        "plan": plan,
        "estimate": plan.estimate if plan else None,
        "statements": plan.statements() if plan else [],
        "chosen": chosen,
        "active": active,
        "hidden": form.hidden_values(plan) if plan else [],
        "suggestions": suggestions[:SUGGESTED_MAX],
        "suggestions_more": max(0, len(suggestions) - SUGGESTED_MAX),
        "suggestions_id": SUGGESTIONS_ID,
    }


@permission_required("rebuild_index")
@require_http_methods(["GET", "POST"])
def rebuild_new(request: HttpRequest) -> HttpResponse:
    """Ask for a rebuild, review its plan and estimate, then queue it in the worker on the confirming POST."""
    if request.method == "POST":
        form = RebuildForm(request.POST)
        plan = form.plan()
        if plan is None:
            refuse_start(form.data.get("index", ""), refusal_reason(form), user=request.user, request=request)
            return render_page(request, NEW_TEMPLATE, _new_context(form, None), status=400)
        try:
            rebuild = start_rebuild(
                plan, user=request.user, request=request, reviewed=form.reviewed(), typed_name=form.typed()
            )
        except RebuildRefused as refused:
            # A review that is no longer this plan's shows the plan as it is now, to be confirmed again.
            form.refuse(refused)
            status = 409 if isinstance(refused, RebuildAlreadyActive | ReviewOutdated) else 400
            return render_page(request, NEW_TEMPLATE, _new_context(form, plan), status=status)
        # No flash message: the page's live part says what state the rebuild is in, and changes with it.
        return redirect("schemaadmin:rebuild", pk=rebuild.pk)

    if "review" in request.GET:
        form = RebuildForm(request.GET)
        plan = form.plan()
        return render_page(request, NEW_TEMPLATE, _new_context(form, plan), status=200 if plan else 400)
    preselected = request.GET.get("index", "").strip()
    if len(preselected) > QUALIFIED_MAX_LENGTH:  # names nothing: said as the review says it, not echoed back
        form = RebuildForm({"index": preselected})
        return render_page(request, NEW_TEMPLATE, _new_context(form, None), status=400)
    form = RebuildForm(initial={"index": preselected})
    context = _new_context(form, None)
    context["unknown"] = preselected if preselected and form.chosen_index is None else ""
    context["unknown_said"] = NOT_REBUILDABLE % {"value": preselected} if context["unknown"] else ""
    return render_page(request, NEW_TEMPLATE, context, status=400 if context["unknown"] else 200)


@permission_required("view_rebuilds")
@require_GET
def rebuild_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show one rebuild: what, who, settings, estimate, outcome, live progress and log (htmx polls the partial)."""
    rebuild = get_object_or_404(IndexRebuild.objects.select_related("requested_by", "cancelled_by", "retry_of"), pk=pk)
    progress = build_progress(rebuild)
    finished_now = bool(getattr(request, "htmx", False)) and not rebuild.is_active
    recall_checks = list(rebuild.recall_checks.order_by("-created_at", "-id")[:10])
    active_check = next((check for check in recall_checks if check.is_active), None)
    awaiting_check = awaits_recall_check(rebuild, checks=len(recall_checks))
    context = {
        "rebuild": rebuild,
        "progress": progress,
        "elapsed": progress.elapsed_seconds if progress else None,
        "eta": progress.eta_seconds if progress else None,
        "estimated": (rebuild.estimate or {}).get("estimated_seconds"),
        "recall_checks": recall_checks,
        # The recall check queued when a rebuild succeeds runs after it: the page follows it too, from the
        # moment the success is seen (the check is queued a moment later) until the check has its result.
        "awaiting_check": awaiting_check,
        "active_check": active_check,
        "following": rebuild.is_active or active_check is not None or awaiting_check,
        "retries": list(rebuild.retries.order_by("-created_at", "-id")[:5]),
        "can_rebuild": request.user.has_perm("schemaadmin.rebuild_index"),
        "session_gone": build_session_gone(rebuild),
        # Polls after the job ended also replace the buttons and links outside the polled part (recall checks).
        "swap_actions": finished_now,
    }
    return render_page(request, DETAIL_TEMPLATE, context, partial="rebuild-live")


@permission_required("rebuild_index")
@require_POST
def rebuild_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a queued rebuild, or stop a running one (the old index stays in service)."""
    rebuild = get_object_or_404(IndexRebuild, pk=pk)
    try:
        cancel_rebuild(rebuild, user=request.user, request=request)
    except RebuildRefused as refused:
        messages.warning(request, str(refused))
    return redirect("schemaadmin:rebuild", pk=rebuild.pk)


@permission_required("rebuild_index")
@require_POST
def rebuild_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a failed or cancelled rebuild again, as a new job."""
    rebuild = get_object_or_404(IndexRebuild, pk=pk)
    # A replace's retry drops the index as it is now: its name typed again (a longer text names no index).
    typed = request.POST.get("typed_name", "")[:QUALIFIED_MAX_LENGTH]
    try:
        again = retry_rebuild(rebuild, user=request.user, request=request, typed_name=typed)
    except RebuildAlreadyActive as refused:
        messages.warning(request, str(refused))
        return redirect("schemaadmin:rebuild", pk=refused.rebuild.pk)
    except RebuildRefused as refused:
        messages.error(request, str(refused))
        return redirect("schemaadmin:rebuild", pk=rebuild.pk)
    return redirect("schemaadmin:rebuild", pk=again.pk)
