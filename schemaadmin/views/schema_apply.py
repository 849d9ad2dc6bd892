"""Apply pending migrations: a confirmation page with plan, SQL and lint, and the run's live page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods

from schemaadmin.conf import app_settings
from schemaadmin.forms.apply import ApplyForm
from schemaadmin.forms.refusals import refusal_reason
from schemaadmin.models import MigrationApply
from schemaadmin.paging import KeysetOrder
from schemaadmin.permissions import permission_required
from schemaadmin.services.findings import Finding, Severity
from schemaadmin.services.schema.apply import (
    ApplyAlreadyActive,
    ApplyPlan,
    ApplyRefused,
    PlannedMigration,
    TargetNotTyped,
    active_apply,
    apply_plan,
    refuse_apply,
    start_apply,
)
from schemaadmin.services.schema.archive import archive_costs
from schemaadmin.services.schema.lint import MigrationLint, lint_migrations
from schemaadmin.views.browsing import record_page, render_page
from schemaadmin.views.migrations_readable import reads_migrations
from schemaadmin.views.schema import numbered_lines

APPLY_TEMPLATE = "schemaadmin/schema/apply.html"
RUN_TEMPLATE = "schemaadmin/schema/apply_run.html"
APPLIES_PAGE = 50
# Newest first by primary key: ids grow with the time they were requested.
APPLY_ORDER = KeysetOrder("applies", (("k_id", lambda: F("id")),), descending=True, kinds=(int,))


@dataclass(frozen=True, slots=True)
class MigrationReview:
    """One planned migration as the confirmation page shows it: operations, SQL and lint findings."""

    migration: PlannedMigration
    lint: MigrationLint

    @property
    def critical(self) -> list[Finding]:
        return [f for f in self.lint.findings if f.severity is Severity.CRITICAL]

    @property
    def lines(self) -> list[dict[str, Any]]:
        return numbered_lines(self.lint.sql, self.lint)

    @property
    def anchor(self) -> str:
        return f"m{self.migration.app_label}-{self.migration.name}"


def _review(plan: ApplyPlan) -> list[MigrationReview]:
    lints = lint_migrations([(m.app_label, m.name) for m in plan.migrations])
    return [MigrationReview(planned, lint) for planned, lint in zip(plan.migrations, lints, strict=True)]


def _context(plan: ApplyPlan, form: ApplyForm, problem: str = "") -> dict[str, Any]:
    reviews = _review(plan)
    critical = [f for review in reviews for f in review.critical]
    return {
        "plan": plan,
        "reviews": reviews,
        "form": form,
        "problem": problem,
        "needs_typing": bool(critical or plan.destructive),
        "critical_lint": critical,
        "active": active_apply(),
        "archive_costs": archive_costs([(m.app_label, m.name) for m in plan.migrations]),
        "archive_schema": app_settings()["ARCHIVE_SCHEMA"],
        "archiving": app_settings()["ARCHIVE_BEFORE_DROP"],
    }


@permission_required("apply_migrations")
@require_http_methods(["GET", "POST"])
@reads_migrations
def apply_confirm(request: HttpRequest) -> HttpResponse:
    """Show the plan with its SQL and lint for confirmation; on POST, queue the apply in the worker."""
    plan = apply_plan()
    if request.method == "GET":
        form = ApplyForm(initial={"fingerprint": plan.fingerprint})
        return render_page(request, APPLY_TEMPLATE, _context(plan, form))

    form = ApplyForm(request.POST)
    if not form.is_valid():
        fingerprint = form.data.get("fingerprint", "")
        refuse_apply(plan, refusal_reason(form), user=request.user, request=request, fingerprint=fingerprint)
        return render_page(request, APPLY_TEMPLATE, _context(plan, form), status=400)
    data = form.cleaned_data
    try:
        run = start_apply(
            plan,
            user=request.user,
            request=request,
            fingerprint=data["fingerprint"],
            typed_target=data["typed_target"],
            lock_timeout_ms=data["lock_timeout_ms"],
            statement_timeout_ms=data["statement_timeout_ms"],
        )
    except ApplyAlreadyActive as refused:
        context = _context(plan, form, str(refused))
        context["active"] = refused.apply
        return render_page(request, APPLY_TEMPLATE, context, status=409)
    except TargetNotTyped as refused:
        # Said on the field it asks for, which takes the focus (schemaadmin.js focuses a refused form's first invalid
        # field): the page above it is long (SQL, lint, archive).
        form.add_error("typed_target", str(refused))
        return render_page(request, APPLY_TEMPLATE, _context(plan, form), status=400)
    except ApplyRefused as refused:
        return render_page(request, APPLY_TEMPLATE, _context(plan, form, str(refused)), status=400)
    return redirect("schemaadmin:schema_apply_run", pk=run.pk)


@permission_required("view_schema")
@require_GET
def apply_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Show one apply: its plan, timeouts, state, streaming log, and where it failed."""
    run = get_object_or_404(MigrationApply.objects.select_related("requested_by"), pk=pk)
    return render_page(request, RUN_TEMPLATE, {"run": run}, partial="run-state")


@permission_required("view_schema")
@require_GET
def apply_list(request: HttpRequest) -> HttpResponse:
    """List the applies, newest first, a keyset page at a time."""
    listed = record_page(request, MigrationApply.objects.select_related("requested_by"), APPLY_ORDER, size=APPLIES_PAGE)
    context = {"runs": listed.rows, "page": listed.page, "total": listed.total, "cursor_error": listed.error}
    return render_page(request, "schemaadmin/schema/apply_list.html", context, status=400 if listed.error else 200)


__all__ = ["apply_confirm", "apply_list", "apply_run"]
