"""The findings page's table: one row per health finding, linked to the index or table it is about."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from schemaadmin.formats import ident_html
from schemaadmin.pg.names import qualify
from schemaadmin.services.findings import Finding
from schemaadmin.templatetags.findings import severity_badge

__all__ = ["FindingTable"]


class FindingTable(tables.Table):
    severity = tables.Column(verbose_name="Severity", order_by=("severity__rank",), empty_values=())
    code = tables.Column(verbose_name="Finding", empty_values=())
    # Names wrap after a dot or an underscore only (formats.ident_html), never inside a word.
    object = tables.Column(verbose_name="About")
    table = tables.Column(verbose_name="Table", empty_values=())
    message = tables.Column(verbose_name="Why, and the fix", orderable=False, empty_values=())

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle cards-on-phone", "data-testid": "findings-table"}
        empty_text = "No finding matches these filters."
        template_name = "schemaadmin/includes/health_table.html"
        row_attrs = {
            "data-code": lambda record: record.code,
            "data-severity": lambda record: record.severity.value,
            "data-object": lambda record: record.object,
        }

    def render_severity(self, record: Finding) -> str:
        return severity_badge(record.severity)

    def render_code(self, record: Finding) -> str:
        return format_html('<div class="fw-semibold">{}</div><code class="small">{}</code>', record.title, record.code)

    def render_object(self, record: Finding) -> str:
        if record.url:  # about sessions (activity findings): their page
            return format_html('<a href="{}">{}</a>', record.url, record.object)
        name = ident_html(record.object)
        if record.index is not None:
            return format_html('<a href="{}">{}</a>', reverse("schemaadmin:index", args=[record.object]), name)
        return name

    def render_table(self, record: Finding) -> str:
        if not record.table:  # about sessions, not a table
            return "—"
        table = qualify(record.schema, record.table)
        return format_html('<a href="{}">{}</a>', reverse("schemaadmin:table", args=[table]), ident_html(table))

    def render_message(self, record: Finding) -> str:
        if not record.fix:
            return record.message
        return format_html(
            '{}<details class="finding-fix mt-1"><summary class="small">Fix</summary>'
            '<pre class="bg-body-tertiary border rounded p-2 mb-0 small"><code>{}</code></pre></details>',
            record.message,
            record.fix,
        )
