"""The live schema: every table with columns, constraints, indexes and foreign keys, a diagram, and drift.

Drift needs the applied migrations replayed in a throwaway database, which takes seconds: the worker does that
(services/schema/drift_checks.py) and stores the schema they build until the migrations change. Reading the page (GET,
anyone with view_schema: operators and DBAs) only compares the live schema with the stored replay; when there is
none for the current migrations it says so. Starting a replay creates a database on the server, so it is a POST
that needs REPLAY_PERMISSION (apply_migrations: DBAs and superusers); the page then follows it every 2 s.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.csp import CSP
from django.utils.http import urlencode
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from schemaadmin.conf import app_settings
from schemaadmin.permissions import permission_required
from schemaadmin.pg.names import QUALIFIED_MAX_LENGTH, qualify, split_qualified
from schemaadmin.pg.schema import (
    ColumnInfo,
    ConstraintInfo,
    ForeignKeyInfo,
    SchemaIndex,
    SchemaSnapshot,
    TableInfo,
    schema_snapshot,
)
from schemaadmin.pg.schema_code import TriggerInfo
from schemaadmin.services.findings import severity_counts
from schemaadmin.services.index_health.scope import Scope, table_scope
from schemaadmin.services.schema.diagram import mermaid_er
from schemaadmin.services.schema.drift import drift_report
from schemaadmin.services.schema.drift_checks import active_drift_check, last_drift_check, start_drift_check
from schemaadmin.views.browsing import render_page
from schemaadmin.views.migrations_readable import reads_migrations

# Cards a page: a partitioned schema reaches thousands of tables, and every card holds its columns and indexes.
TABLES_A_PAGE = 100
# Mermaid lays out a few hundred entities at most (and nobody reads more): above that the filter narrows first.
DIAGRAM_MAX_TABLES = 150


class TableFilterForm(forms.Form):
    q = forms.CharField(label="Table name contains", required=False, max_length=100, strip=True)
    # One table by its schema.name, as a foreign key's link to a table on another page names it.
    table = forms.CharField(required=False, max_length=QUALIFIED_MAX_LENGTH, strip=True, label="Table asked for")
    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1_000_000,
        error_messages={
            "invalid": "The page is a whole number from 1.",
            "min_value": "The page is a whole number from 1.",
            "max_value": "There is no such page.",
        },
    )


@dataclass(slots=True)
class TableView:
    """One table and everything the page lists about it."""

    table: TableInfo
    scope: Scope = Scope.OTHER
    columns: list[ColumnInfo] = field(default_factory=list)
    constraints: list[ConstraintInfo] = field(default_factory=list)
    indexes: list[SchemaIndex] = field(default_factory=list)
    foreign_keys: list[ForeignKeyInfo] = field(default_factory=list)
    referenced_by: list[ForeignKeyInfo] = field(default_factory=list)
    triggers: list[TriggerInfo] = field(default_factory=list)
    locked: bool = False  # another session holds it: its defaults, constraints and indexes were not read


@dataclass(frozen=True, slots=True)
class CardPage:
    """Which of the matching tables' cards a page shows (a page past the last shows the last), and its links."""

    number: int
    pages: int
    matching: int
    query: str  # the filter the other pages keep (q, table), urlencoded

    @classmethod
    def of(cls, matching: int, asked: int | None, query: str) -> CardPage:
        pages = max(1, -(-matching // TABLES_A_PAGE))
        return cls(min(asked or 1, pages), pages, matching, query)

    @property
    def start(self) -> int:
        return (self.number - 1) * TABLES_A_PAGE

    @property
    def end(self) -> int:
        return min(self.number * TABLES_A_PAGE, self.matching)

    def _url(self, number: int) -> str:
        return f"?{self.query}&page={number}" if self.query else f"?page={number}"

    @property
    def first_url(self) -> str:
        return self._url(1) if self.number > 1 else ""

    @property
    def prev_url(self) -> str:
        return self._url(self.number - 1) if self.number > 1 else ""

    @property
    def next_url(self) -> str:
        return self._url(self.number + 1) if self.number < self.pages else ""


def _table_views(snapshot: SchemaSnapshot, wanted: str, exactly: str = "") -> list[TableView]:
    locked = snapshot.locked_tables
    views = {
        t.qualified_name: TableView(t, table_scope(t.schema, t.name), locked=(t.schema, t.name) in locked)
        for t in snapshot.tables
        if wanted.lower() in t.name.lower() and (not exactly or t.qualified_name == exactly)
    }
    # Each catalog object joins a list of its table's view, by the property naming that table (a foreign key joins
    # two: its table's, and referenced_by of the table it points at).
    placed = (
        ("columns", snapshot.columns, "qualified_table"),
        ("constraints", snapshot.constraints, "qualified_table"),
        ("indexes", snapshot.indexes, "qualified_table"),
        ("foreign_keys", snapshot.foreign_keys, "qualified_table"),
        ("referenced_by", snapshot.foreign_keys, "qualified_target"),
        ("triggers", snapshot.triggers, "qualified_table"),
    )
    for attribute, objects, table in placed:
        for item in objects:
            view = views.get(getattr(item, table))
            if view is not None:
                getattr(view, attribute).append(item)
    # The product's tables first, then the frameworks', then the rest: what a reader of this page came for.
    order = {scope: rank for rank, scope in enumerate(Scope)}
    return sorted(views.values(), key=lambda v: (order[v.scope], v.table.qualified_name))


def _contents(tables: list[TableView]) -> list[tuple[str, list[TableView]]]:
    """Return (heading, tables) per scope that has tables, in the page's order."""
    return [
        (scope.label, [t for t in tables if t.scope is scope])
        for scope in Scope
        if any(t.scope is scope for t in tables)
    ]


def _shown_tables(
    request: HttpRequest, *, triggers: bool = False
) -> tuple[TableFilterForm, SchemaSnapshot, list[TableView]]:
    """Read the live schema and the tables the filter keeps (none when the filter is invalid); their triggers too
    for a page that shows them. Never the schema's functions: these pages are about tables and show none (the drift
    page compares them with the migrations); every function's definition was read on each view for nothing."""
    form = TableFilterForm(request.GET)
    schemas = tuple(app_settings()["APP_SCHEMAS"])
    if not form.is_valid():
        return form, schema_snapshot(schemas=schemas, triggers=triggers), []
    parts = split_qualified(form.cleaned_data["table"]) if form.cleaned_data["table"] else None
    if parts and parts[0] not in schemas:
        # A table of another schema, which a foreign key of the app's tables points at (or from): its link showed
        # an empty page, as only the app's schemas were read.
        schemas = (*schemas, parts[0])
    snapshot = schema_snapshot(schemas=schemas, triggers=triggers)
    exactly = qualify(*parts) if parts else form.cleaned_data["table"]
    return form, snapshot, _table_views(snapshot, form.cleaned_data["q"], exactly)


@permission_required("view_schema")
@require_GET
def live_schema(request: HttpRequest) -> HttpResponse:
    """List every table of the app's schemas with its columns, constraints, indexes, triggers, relations; a diagram."""
    form, snapshot, tables = _shown_tables(request, triggers=True)  # each card lists its table's triggers
    # What the diagram and the other pages of cards are asked for: the same tables.
    query = urlencode({k: v for k in ("q", "table") if (v := request.GET.get(k, "").strip())})
    page = CardPage.of(len(tables), form.cleaned_data.get("page") if form.is_valid() else None, query)
    shown = tables[page.start : page.end]
    drawn = len(tables) <= DIAGRAM_MAX_TABLES
    context = {
        "form": form,
        "snapshot": snapshot,
        "tables": shown,
        "matching": len(tables),
        "page": page,
        "on_page": {t.table.qualified_name for t in shown},
        "filter_query": query,
        "contents": _contents(shown),
        "drawn": drawn,
        "diagram_max": DIAGRAM_MAX_TABLES,
        "diagram": mermaid_er(snapshot, tables={t.table.qualified_name for t in tables}) if drawn else "",
    }
    return render_page(request, "schemaadmin/schema/live.html", context, status=400 if form.errors else 200)


# Mermaid styles what it draws with <style> elements and style attributes, which the site's policy refuses. The
# diagram therefore lives in a document of its own, framed by the schema page: there (and only there) inline
# styles are allowed; scripts still come from our origin only, and nothing but the diagram is on that document.
DIAGRAM_CSP: dict[str, Any] = {
    **settings.SECURE_CSP,
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "frame-ancestors": [CSP.SELF],
}


@permission_required("view_schema")
@require_GET
@xframe_options_sameorigin
@csp_override(DIAGRAM_CSP)
def diagram(request: HttpRequest) -> HttpResponse:
    """Draw the tables the filter keeps and their foreign keys with Mermaid, as a document of its own."""
    form, snapshot, tables = _shown_tables(request)
    drawn = len(tables) <= DIAGRAM_MAX_TABLES
    context = {
        "form": form,
        "diagram": mermaid_er(snapshot, tables={t.table.qualified_name for t in tables}) if drawn else "",
        "too_many": 0 if drawn else len(tables),
        "diagram_max": DIAGRAM_MAX_TABLES,
    }
    return render_page(request, "schemaadmin/schema/diagram.html", context, status=400 if form.errors else 200)


# Who may start a replay: it creates and migrates a database on the server, as applying migrations does.
REPLAY_PERMISSION = "apply_migrations"
# Findings the drift page lists (worst first), and of one code when asked: a schema of thousands of tables no
# migration made is thousands of findings (11.7 MB at 10,000); `schema_report --format json` lists them all.
DRIFT_SHOWN = 200
CODE_SHOWN = 1000


class DriftCodeForm(forms.Form):
    code = forms.RegexField(
        regex=r"^[a-z][a-z0-9_]*$",
        max_length=64,
        required=False,
        error_messages={"invalid": "A finding code is lower-case letters, digits and underscores, as listed below."},
    )


@permission_required("view_schema")
@require_http_methods(["GET", "POST"])
@reads_migrations
def drift(request: HttpRequest) -> HttpResponse:
    """Show where the live database differs from its models and applied migrations; POST starts a replay."""
    if request.method == "POST":
        return _replay(request)
    form = DriftCodeForm(request.GET)
    code = form.cleaned_data["code"] if form.is_valid() else ""
    # The replay under way is read before the report: one that ends in between is still shown as running, so the
    # page polls once more and gets its result. Read after, the page showed the report from before it ended with no
    # replay running, and stopped polling at "Not compared with the migrations yet".
    check = active_drift_check()
    report = drift_report(replay=False)
    of_code = [f for f in report.findings if f.code == code] if code else report.findings
    limit = CODE_SHOWN if code else DRIFT_SHOWN
    context = {
        "report": report,
        "form": form,
        "code": code,
        "shown": of_code[:limit],
        "not_shown": max(0, len(of_code) - limit),
        "by_code": Counter(f.code for f in report.findings).most_common()
        if code or len(report.findings) > DRIFT_SHOWN
        else [],
        "severity_counts": severity_counts(report.findings),
        "check": check,
        # Only asked when this replay is missing: whether there was one before the migrations changed.
        "last_check": last_drift_check() if report.awaiting_replay else None,
        "may_replay": request.user.has_perm(f"schemaadmin.{REPLAY_PERMISSION}"),
    }
    status = 400 if form.errors else 200
    return render_page(request, "schemaadmin/schema/drift.html", context, partial="drift-findings", status=status)


@permission_required(REPLAY_PERMISSION)
@require_POST
def _replay(request: HttpRequest) -> HttpResponse:
    """Queue a replay of the applied migrations in the worker (the one already queued, if any), then show the page."""
    start_drift_check(user=request.user, request=request)
    return redirect("schemaadmin:schema_drift")
