"""django-tables2 tables of the index and table health pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import django_tables2 as tables
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django_tables2.utils import AttributeDict, computed_values, signature

from schemaadmin.formats import ident_html, when_html
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.pg.relations import TableHealth
from schemaadmin.services.findings import worst_rank
from schemaadmin.services.index_health import Finding, Snapshot
from schemaadmin.tables.rows import body_rows
from schemaadmin.templatetags.humanize_extras import pretty_bytes, thousands

__all__ = ["IndexRow", "IndexTable", "TableRow", "TableTable", "findings_badges"]


def findings_badges(findings: Sequence[Finding]) -> str:
    """Return one badge per finding, coloured by severity, saying its title (the code, which alerts and the JSON
    output use, is its data-code; the message its tooltip)."""
    if not findings:
        return format_html('<span class="text-body-secondary">{}</span>', "none")
    # One badge a code: a table's row gathers its indexes' findings, and two of them may share one ("× 2").
    by_code: dict[str, list[Finding]] = {}
    for finding in findings:
        by_code.setdefault(finding.code, []).append(finding)
    return format_html_join(
        " ",
        '<span class="badge text-wrap text-start {}" title="{}" data-code="{}">{}{}</span>',
        (
            (
                max((f.severity for f in same), key=lambda severity: severity.rank).badge,
                " ".join(dict.fromkeys(f.message for f in same)),
                code,
                same[0].title,
                f" × {len(same)}" if len(same) > 1 else "",
            )
            for code, same in by_code.items()
        ),
    )


@dataclass(frozen=True, slots=True)
class IndexRow:
    index: IndexInfo
    findings: list[Finding] = field(hash=False)
    # The snapshot the index was read in: its scans per node are looked up for the rows shown or sorted by scans,
    # not built for every one of 30,000 indexes.
    snapshot: Snapshot = field(hash=False, repr=False)

    @property
    def scans_by_node(self) -> dict[str, int]:
        return self.snapshot.scans_by_node(self.index)

    @property
    def name(self) -> str:
        return self.index.qualified_name

    @property
    def table(self) -> str:
        return self.index.qualified_table

    @property
    def method(self) -> str:
        return self.index.method

    @property
    def size_bytes(self) -> int:
        return self.index.size_bytes

    @property
    def scans(self) -> int:
        return sum(self.scans_by_node.values())

    @property
    def parameters(self) -> str:
        return ", ".join(f"{k} = {v}" for k, v in sorted(self.index.options.items()))

    @property
    def severity_rank(self) -> int:
        return worst_rank(self.findings)


# Figures sit right-aligned under a right-aligned header, and never wrap.
_FIGURE = {"td": {"class": "text-end text-nowrap"}, "th": {"class": "text-end"}}


class _Count(tables.Column):
    """A count, with thousands separators."""

    def __init__(self, verbose_name: str) -> None:
        super().__init__(verbose_name=verbose_name, attrs=_FIGURE)

    def render(self, value: int) -> str:
        return thousands(value)


class _Bytes(tables.Column):
    """A size in bytes, as people read it (12.3 MB)."""

    def __init__(self, verbose_name: str) -> None:
        super().__init__(verbose_name=verbose_name, attrs=_FIGURE)

    def render(self, value: int) -> str:
        return pretty_bytes(value)


class _When(tables.Column):
    """When something last happened, as an age; "never" when it has not."""

    def __init__(self, verbose_name: str) -> None:
        super().__init__(verbose_name=verbose_name, empty_values=())

    def render(self, value: datetime | None) -> str:
        return when_html(value, "ago") if value is not None else "never"


class _HealthTable(tables.Table):
    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle cards-on-phone"}  # a card a row on a phone
        empty_text = "Nothing matches these filters."
        template_name = "schemaadmin/includes/health_table.html"
        per_page = 50

    def tbody_html(self) -> SafeString:
        """Return the <tbody> of the rows shown, as django-tables2's template writes it, each column prepared once.

        django-tables2 inspects the render method's signature and rebuilds the attributes for every cell: 350 cells
        of a 50-row page cost ~40 ms of a 3,000-index /indexes/ (a third of its Python time). The health rows are
        plain objects whose columns read one attribute each (no model choices, links or localize).
        tests/views/test_health_tables.py checks the HTML is {% render_table %}'s.
        """
        columns = [_HealthCell(self, bound) for bound in self.columns]
        records = [row.record for row in self.paginated_rows]
        rows = body_rows(records, self._row_open, columns, self.empty_text)
        return mark_safe("".join([format_html("<tbody {}>", self.attrs["tbody"].as_html()), *rows, "</tbody>"]))

    def _row_open(self, counter: int, record: Any) -> str:
        """Return a row's <tr> with its row_attrs and its even or odd class, as BoundRow.attrs has them."""
        row_attrs = computed_values(self.row_attrs, kwargs={"table": self, "record": record})
        css = "odd" if counter % 2 else "even"
        row_attrs["class"] = f"{row_attrs['class']} {css}" if row_attrs.get("class") else css
        return format_html("<tr {}>", AttributeDict(row_attrs).as_html())


class _HealthCell:
    """One column of a health table with what its cells need worked out once (BoundRow.get_cell per cell)."""

    __slots__ = ("_arguments", "_bound", "_default", "_empty_values", "_name", "_render", "_table", "_td")

    def __init__(self, table: _HealthTable, bound: tables.columns.BoundColumn) -> None:
        self._table = table
        self._bound = bound
        self._name = str(bound.accessor)
        self._render = bound.render
        self._arguments = signature(bound.render)[0]
        self._empty_values = bound.column.empty_values
        self._td = format_html("<td {}>", bound.attrs["td"].as_html())
        self._default = bound.default

    def cell(self, record: Any) -> str:
        value = getattr(record, self._name)
        if value in self._empty_values:
            content: Any = self._default
        else:
            available = {"value": value, "record": record, "column": self._bound.column, "bound_column": self._bound}
            content = self._render(**{name: available[name] for name in self._arguments})
        return f"{self._td}{conditional_escape(localize(content))}</td>"


def _table_link(qualified_table: str) -> str:
    return format_html(
        '<a href="{}" hx-boost="false">{}</a>',
        reverse("schemaadmin:table", args=[qualified_table]),
        ident_html(qualified_table),
    )


class IndexTable(_HealthTable):
    name = tables.Column(verbose_name="Index")
    table = tables.Column(verbose_name="Table")
    method = tables.Column(verbose_name="Method")
    size_bytes = _Bytes("Size")
    scans = tables.Column(verbose_name="Scans", attrs=_FIGURE)
    parameters = tables.Column(verbose_name="Parameters", orderable=False, empty_values=())
    findings = tables.Column(verbose_name="Findings", order_by=("severity_rank",), empty_values=())

    class Meta(_HealthTable.Meta):
        row_attrs = {"data-index": lambda record: record.name}

    def render_name(self, record: IndexRow) -> str:
        url = reverse("schemaadmin:index", args=[record.name])
        flags = []
        if not record.index.is_valid:
            flags.append(format_html(' <span class="badge text-bg-danger">{}</span>', "invalid"))
        if record.index.is_primary:
            flags.append(format_html(' <span class="badge text-bg-secondary">{}</span>', "primary"))
        elif record.index.is_unique:
            flags.append(format_html(' <span class="badge text-bg-secondary">{}</span>', "unique"))
        return format_html(
            '<a href="{}" hx-boost="false">{}</a>{}',
            url,
            ident_html(record.name),
            format_html_join("", "{}", ((f,) for f in flags)),
        )

    def render_table(self, record: IndexRow) -> str:
        return _table_link(record.table)

    def render_scans(self, record: IndexRow) -> str:
        scans_by_node = record.scans_by_node
        total = sum(scans_by_node.values())
        if len(scans_by_node) < 2:
            return f"{total:,}"
        per_node = " · ".join(f"{node} {scans:,}" for node, scans in scans_by_node.items())
        return format_html('{} <span class="small text-body-secondary">({})</span>', f"{total:,}", per_node)

    def render_parameters(self, value: str) -> str:
        return format_html("<code>{}</code>", value) if value else "—"

    def render_findings(self, record: IndexRow) -> str:
        return findings_badges(record.findings)


@dataclass(frozen=True, slots=True)
class TableRow:
    table: TableHealth
    findings: list[Finding] = field(hash=False)

    @property
    def name(self) -> str:
        return self.table.qualified_name

    @property
    def total_bytes(self) -> int:
        return self.table.total_bytes

    @property
    def rows(self) -> int:
        return self.table.rows

    @property
    def dead_tuples(self) -> int:
        return self.table.dead_tuples

    @property
    def last_vacuumed(self) -> datetime | None:
        return self.table.last_vacuumed

    @property
    def last_analyzed(self) -> datetime | None:
        return self.table.last_analyzed

    @property
    def sequential_scans(self) -> int:
        return self.table.sequential_scans

    @property
    def index_scans(self) -> int:
        return self.table.index_scans

    @property
    def severity_rank(self) -> int:
        return worst_rank(self.findings)


class TableTable(_HealthTable):
    name = tables.Column(verbose_name="Table")
    total_bytes = _Bytes("Size")
    rows = _Count("Rows (est.)")
    dead_tuples = _Count("Dead rows")
    last_vacuumed = _When("Last vacuum")
    last_analyzed = _When("Last analyze")
    sequential_scans = _Count("Seq scans")
    index_scans = _Count("Index scans")
    findings = tables.Column(verbose_name="Findings", order_by=("severity_rank",), empty_values=())

    class Meta(_HealthTable.Meta):
        row_attrs = {"data-table": lambda record: record.name}

    def render_name(self, record: TableRow) -> str:
        return _table_link(record.name)

    def render_findings(self, record: TableRow) -> str:
        return findings_badges(record.findings)
