"""Index and table health: the list of every index, one index, the list of tables, one table."""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from schemaadmin.forms.health import IndexFilterForm, TableFilterForm
from schemaadmin.permissions import permission_required
from schemaadmin.pg.ddl import key_order
from schemaadmin.pg.index_lookups import index_methods, index_table
from schemaadmin.pg.index_select import records_last_scan
from schemaadmin.pg.locked import locked_relations
from schemaadmin.pg.names import qualify, split_qualified
from schemaadmin.services.findings import worst_rank
from schemaadmin.services.index_health import (
    HealthReport,
    health_report,
    index_report,
    pause_gc,
    vector_advice,
)
from schemaadmin.services.index_health.scope import Scope, table_scope
from schemaadmin.services.rebuilds import active_rebuild
from schemaadmin.tables.health import IndexRow, IndexTable, TableRow, TableTable
from schemaadmin.views.browsing import filtered_table_page, sort_error
from schemaadmin.views.recall import recall_panel

# Findings that are also the server's or a database's (no table): /tables/ lists them above its rows.
SERVER_MAINTENANCE_CODES = frozenset({"xid_wraparound", "autovacuum_disabled", "inactive_replication_slot"})


def _split(qualified: str) -> tuple[str, str]:
    """Return the schema and the name the URL names (pg.names.split_qualified); 404 when it names no such pair."""
    parts = split_qualified(qualified)
    if parts is None:
        raise Http404(f"{qualified} is not a schema-qualified name.")
    return parts


def _found[T](qualified: str, lookup: Callable[[str, str], T | None], what: str) -> tuple[str, str, T]:
    """Return the schema, the name and what lookup finds under qualified; 404 naming what when it finds nothing."""
    schema, name = _split(qualified)
    found = lookup(schema, name)
    if found is None:
        raise Http404(f"No {what} {qualified} in user schemas.")
    return schema, name, found


def _index_rows(report: HealthReport) -> list[IndexRow]:
    """Return a row per index: the product's tables first, then worst problems, then the biggest.

    What an operator should look at first. The sort key is worked out once per row (whose table once per table).
    """
    by_index = report.by_index()
    snapshot = report.snapshot
    ranks: dict[tuple[str, str], int] = {}
    keyed = []
    for index in snapshot.indexes:
        table = (index.schema, index.table)
        scope = ranks.get(table)
        if scope is None:
            scope = ranks[table] = _scope_rank(*table)
        name = index.qualified_name
        findings = by_index.get(name) or []
        keyed.append(((scope, -worst_rank(findings), -index.size_bytes, name), IndexRow(index, findings, snapshot)))
    keyed.sort(key=itemgetter(0))
    return [row for _, row in keyed]


_SCOPE_ORDER = (Scope.PRODUCT, Scope.OTHER, Scope.FRAMEWORK)


def _scope_rank(schema: str, table: str) -> int:
    return _SCOPE_ORDER.index(table_scope(schema, table))


def _matching[Row](rows: list[Row], checks: list[Callable[[Row], object]]) -> list[Row]:
    """Return the rows every check passes (no checks: rows itself, not a copy)."""
    return [row for row in rows if all(check(row) for check in checks)] if checks else rows


def _place_checks(form: IndexFilterForm | TableFilterForm, place: Callable[[Any], tuple[str, str]]) -> list[Callable]:
    """Return the checks of the table and scope filters the form was given, over a row's (schema, table)."""
    data = form.cleaned_data
    checks: list[Callable] = []
    if data["table"]:
        checks.append(lambda row: form.matches_table(*place(row)))
    if data["scope"]:
        checks.append(lambda row: form.matches_scope(*place(row)))
    if data["problems"]:
        checks.append(lambda row: row.findings)
    return checks


@permission_required("view_health")
@require_GET
def index_list(request: HttpRequest) -> HttpResponse:
    """List every index with size, scans, method, parameters and findings; filter and sort."""
    form = IndexFilterForm(request.GET, methods=index_methods())
    # The findings about indexes are all it shows: the tables' part of the catalog is not read.
    report = health_report(hide_framework=False if form.shows_framework else None, indexes_only=True)
    rows = []
    if form.is_valid():
        checks = _place_checks(form, lambda row: (row.index.schema, row.index.table))
        if method := form.cleaned_data["method"]:
            checks.append(lambda row: row.method == method)
        with pause_gc():
            rows = _matching(_index_rows(report), checks)
    # Said about the database, not one index: why no index is called unused yet.
    context = {"report": report, "database_findings": [f for f in report.findings if f.code == "index_usage_too_young"]}
    return filtered_table_page(request, "schemaadmin/indexes/list.html", form, IndexTable(rows), "index-table", context)


@permission_required("view_health")
@require_GET
def table_list(request: HttpRequest) -> HttpResponse:
    """List every table with size, rows, dead rows, vacuum and analyze times, scans and findings."""
    form = TableFilterForm(request.GET)
    report = health_report(hide_framework=False if form.shows_framework else None)
    rows = []
    if form.is_valid():
        by_table = report.by_table()
        checks = _place_checks(form, lambda row: (row.table.schema, row.table.name))
        keyed = []
        for table in report.snapshot.tables:
            row = TableRow(table, by_table.get(table.qualified_name, []))
            rank = _scope_rank(table.schema, table.name)
            keyed.append(((rank, -worst_rank(row.findings), -table.total_bytes, row.name), row))
        keyed.sort(key=itemgetter(0))
        rows = _matching([row for _, row in keyed], checks)
    # Wraparound, autovacuum and replication slots are also the server's or a database's, not only a table's.
    wraparound = [f for f in report.findings if f.code in SERVER_MAINTENANCE_CODES and not f.table]
    context = {"report": report, "database_findings": wraparound}
    return filtered_table_page(request, "schemaadmin/tables/list.html", form, TableTable(rows), "table-table", context)


LOCKED_INDEX_TEMPLATE = "schemaadmin/indexes/locked.html"


@permission_required("view_health")
@require_GET
def index_detail(request: HttpRequest, qualified: str) -> HttpResponse:
    """Show everything known about one index, its findings with their fix, and vector parameters.

    While another session holds its table (or one of the table's indexes) ACCESS EXCLUSIVE, reading it would wait
    for the lock: the page says who holds it instead (pg/locked.py), at once."""
    schema, name = _split(qualified)
    table = index_table(schema, name)
    held = [r for r in locked_relations() if (r.table_schema, r.table_name) == table] if table else []
    if held:
        return render(
            request,
            LOCKED_INDEX_TEMPLATE,
            {"index": qualify(schema, name), "table": qualify(*held[0].tables[0]), "locked": held},
        )
    # Its own table's indexes are what its findings are made of (duplicates, redundancy): not every index.
    report = index_report(schema, name)
    schema, name, index = _found(qualified, report.index if report else lambda schema, name: None, "index")
    assert report is not None  # _found found the index in it
    ordered = index.method == "btree"  # the one method whose keys have an order (others store zeros)
    keys = [
        {
            "expression": expression,
            "collation": collation,
            "opclass": opclass,
            "type": key_type,
            "order": key_order(flags) if ordered else "",
        }
        for expression, collation, opclass, key_type, flags in zip(
            index.columns, index.key_collations, index.opclasses_written, index.key_types, index.key_flags, strict=False
        )
    ]
    context = {
        "index": index,
        "keys": keys,
        "findings": report.by_index().get(index.qualified_name, []),
        "scans_by_node": report.snapshot.scans_by_node(index),
        "bloat": report.snapshot.bloat.get(index.qualified_name),
        "advice": vector_advice(index),
        "statistics": report.snapshot.statistics,
        "records_last_scan": records_last_scan(),
        "active_rebuild": active_rebuild(schema, name),
        **recall_panel(schema, name),
    }
    return render(request, "schemaadmin/indexes/detail.html", context)


@permission_required("view_health")
@require_GET
def table_detail(request: HttpRequest, qualified: str) -> HttpResponse:
    """Show one table's health, its indexes and every finding about it or them."""
    report = health_report()
    schema, name, table = _found(qualified, report.table, "table")
    rows = [row for row in _index_rows(report) if row.index.schema == schema and row.index.table == name]
    # A lock another session holds on it, its TOAST table or an index of theirs: the page was read around it.
    locked = [r for r in report.snapshot.locked if (schema, name) in r.tables]
    empty = "Its indexes are not read while the table is locked (above)." if locked else "This table has no indexes."
    indexes = IndexTable(rows, exclude=("table",), empty_text=empty)
    # A sort key that names no column: the page in its own order, saying which keys exist (400), not silently.
    unsortable = sort_error(request.GET.get(indexes.prefixed_order_by_field, ""), indexes)
    if unsortable is None:
        RequestConfig(request, paginate=False).configure(indexes)
    context = {
        "table": table,
        "indexes": indexes,
        "unsortable": unsortable,
        "findings": report.by_table().get(table.qualified_name, []),
        "vector_columns": [c for c in report.snapshot.vector_columns if c.schema == schema and c.table == name],
        "locked": locked,
    }
    return render(request, "schemaadmin/tables/detail.html", context, status=400 if unsortable else 200)
