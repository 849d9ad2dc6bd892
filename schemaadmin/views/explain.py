"""The EXPLAIN console: a form, our summary, the PEV2 plan, presets and the history of runs (one's own or all)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_http_methods

from schemaadmin.audit import record
from schemaadmin.conf import app_settings
from schemaadmin.forms.explain import CompareForm, ConsoleLinkForm, ExplainForm
from schemaadmin.forms.refusals import refusal_reason
from schemaadmin.models import ExplainRun
from schemaadmin.paging import KeysetOrder
from schemaadmin.permissions import permission_required
from schemaadmin.pg.connection import server_version
from schemaadmin.services.explain.presets import presets
from schemaadmin.services.explain.run import explain, explain_login, refuse_unrun
from schemaadmin.services.explain.summary import plan_comparison, plan_summary, planner_choice, same_query
from schemaadmin.staticfinders import built_file_available
from schemaadmin.views.browsing import record_page, render_page

TEMPLATE = "schemaadmin/explain/console.html"
COMPARE_TEMPLATE = "schemaadmin/explain/compare.html"
HISTORY_SIZE = 20
# History pages, newest first: one's own through the (user, created_at) index, everyone's through the primary key.
OWN_RUNS = KeysetOrder(
    "own", (("k_created", lambda: F("created_at")), ("k_id", lambda: F("id"))), descending=True, kinds=(datetime, int)
)
EVERYONES_RUNS = KeysetOrder("all", (("k_id", lambda: F("id")),), descending=True, kinds=(int,))
SQL_EDITOR = "vendor/sql-editor/sql-editor.js"  # CodeMirror 6, bundled by `npm run build`


def _context(request: HttpRequest, form: ExplainForm) -> dict[str, object]:
    # Runs carry no secrets (a failure's message is withheld when it could hold data), so every DBA may read
    # every run: by permalink, in a comparison, and here when asking for everyone's.
    everyone = request.GET.get("runs") == "all"
    # The list shows no plan: a page of 20 runs read 2.4 MB of plan JSON (28 ms, against 1.1 ms without it).
    runs = ExplainRun.objects.select_related("user").defer("plan", "options")
    if not everyone:
        runs = runs.filter(user_id=request.user.pk) if request.user.pk is not None else runs.none()
    history = record_page(request, runs, EVERYONES_RUNS if everyone else OWN_RUNS, size=HISTORY_SIZE)
    return {
        "form": form,
        "history": history.rows,
        "history_page": history.page,
        "history_total": history.total,
        "history_error": history.error,
        "everyone": everyone,
        "explain_fallback": explain_login() is None,
        "diagram_max_nodes": app_settings()["EXPLAIN_DIAGRAM_MAX_NODES"],
        "sql_editor": built_file_available(SQL_EDITOR),
        "presets": presets(),
        "result": None,
        "run": None,
        "summary": None,
        "compared": None,
        "compared_summary": None,
        "choice": "",
    }


@permission_required("run_explain")
@require_http_methods(["GET", "POST"])
def console(request: HttpRequest) -> HttpResponse:
    """Show the console; on POST, EXPLAIN the query through the safety layers and show the plan."""
    if request.method == "GET":
        # A link fills the form in: each of its parameters checked, a wrong one said (400) and left out.
        link = ConsoleLinkForm(request.GET)
        given = link.cleaned_data if link.is_valid() else {}
        initial = {
            "sql": given.get("sql", ""),
            "buffers": True,
            "ef_search": given.get("ef_search"),
            "compare": given.get("compare") == "seqscan_off",
        }
        form = ExplainForm(initial=initial, server_version=server_version())
        context = _context(request, form)
        context["link_errors"] = link.errors_said()
        failed = context["history_error"] or context["link_errors"]
        return render_page(request, TEMPLATE, context, status=400 if failed else 200)
    form = ExplainForm(request.POST, server_version=server_version())
    if not form.is_valid():
        sql, database = form.data.get("sql", ""), form.data.get("database", "")
        refuse_unrun(sql, refusal_reason(form), request=request, database=database)
        return render_page(request, TEMPLATE, _context(request, form), partial="result", status=400)
    data = form.cleaned_data
    result = explain(
        data["sql"],
        request=request,
        options=form.explain_options(),
        timeout_ms=data["timeout_ms"],
        using=data["database"] or "default",
        ef_search=data["ef_search"],
        compare="seqscan_off" if data["compare"] else None,
    )
    context = _context(request, form)
    context.update(result=result, run=result.run, summary=result.summary)
    if result.summary and result.compared_summary:
        context.update(
            compared=result.compared,
            compared_summary=result.compared_summary,
            choice=planner_choice(result.summary, result.compared_summary),
        )
    return render_page(request, TEMPLATE, context, partial="result", status=200 if result.ok else 400)


@permission_required("run_explain")
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show one recorded run (a permalink): its query, options, summary and plan."""
    run = get_object_or_404(ExplainRun, pk=pk)
    record(request, "explain.view", f"explain:{run.pk}")
    form = ExplainForm(
        initial={"sql": run.sql, **{k.lower(): v for k, v in run.options.items() if v is True}},
        server_version=server_version(),
    )
    context = _context(request, form)
    context["run"] = run
    if run.outcome == ExplainRun.Outcome.OK and isinstance(run.plan, list):
        context["summary"] = plan_summary(run.plan)
    return render_page(request, TEMPLATE, context)


@permission_required("run_explain")
@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    """Show two completed runs side by side: times, cost, buffers and plan shape, differences marked."""
    if not request.GET:  # opened as such: a form to fill in, not a form refused
        context: dict[str, object] = {"form": CompareForm(), "before": None, "after": None, "problem": ""}
        return render_page(request, COMPARE_TEMPLATE, context)
    form = CompareForm(request.GET)
    context = {"form": form, "before": None, "after": None, "problem": ""}
    if not form.is_valid():
        return render_page(request, COMPARE_TEMPLATE, context, status=400)
    runs = {run.pk: run for run in ExplainRun.objects.filter(pk__in=[form.cleaned_data["a"], form.cleaned_data["b"]])}
    before, after = runs.get(form.cleaned_data["a"]), runs.get(form.cleaned_data["b"])
    if before is None or after is None:
        context["problem"] = "No such run."
        return render_page(request, COMPARE_TEMPLATE, context, status=404)
    # Two runs' queries and plans were shown, as a run's own page shows one (explain.view).
    record(request, "explain.compare", f"explain:{before.pk}", compared_to=after.pk)
    context.update(before=before, after=after)
    if not all(run.outcome == ExplainRun.Outcome.OK and isinstance(run.plan, list) for run in (before, after)):
        context["problem"] = "Only completed runs with a plan can be compared."
        return render_page(request, COMPARE_TEMPLATE, context, status=400)
    figures, shape = plan_comparison(before.plan, after.plan)
    context.update(figures=figures, shape=shape, different_queries=not same_query(before.sql, after.sql))
    return render_page(request, COMPARE_TEMPLATE, context)
