"""Filter forms of the index and table health pages: every value checked before it reaches a query."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.http import QueryDict

from schemaadmin.forms.fields import SMALL_SELECT, filter_choice, filter_flag
from schemaadmin.pg.names import QUALIFIED_MAX_LENGTH, qualify
from schemaadmin.services.findings import Finding, Severity
from schemaadmin.services.index_health.scope import Scope, table_scope

__all__ = ["DEFAULT_PER_PAGE", "PER_PAGE_CHOICES", "FindingFilterForm", "IndexFilterForm", "TableFilterForm"]

METHODS = ("btree", "hash", "gin", "gist", "spgist", "brin", "hnsw", "ivfflat")
NAME_PATTERN = r"^[^\x00]{0,127}$"
# Rows per page offered and the default; the highest page number a link may name (past the end: the last page).
PER_PAGE_CHOICES = (25, 50, 100, 200)
DEFAULT_PER_PAGE = 50
MAX_PAGE = 100_000


class _ListFilterForm(forms.Form):
    table = forms.CharField(
        required=False,
        max_length=QUALIFIED_MAX_LENGTH,
        label="Table",
        help_text="Part of a table name, or schema.table.",
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "placeholder": "table name"}),
    )
    per_page = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=[(n, str(n)) for n in PER_PAGE_CHOICES],
        label="Per page",
        widget=forms.Select(attrs=SMALL_SELECT),
    )
    page = forms.CharField(required=False, max_length=12, label="Page")

    def __init__(self, data: QueryDict | None = None, *args: Any, **kwargs: Any) -> None:
        if data is not None and not data.get("per_page"):
            data = data.copy()  # the select then shows the page size in use
            data["per_page"] = str(DEFAULT_PER_PAGE)
        super().__init__(data, *args, **kwargs)

    def clean_table(self) -> str:
        value = self.cleaned_data["table"].strip()
        if "\x00" in value:
            raise forms.ValidationError("A table name cannot contain a NUL character.")
        return value

    def clean_page(self) -> int:
        """Return the page number asked for (none: the first); one past the end reads as the last (the views)."""
        value = self.cleaned_data["page"].strip()
        if not value:
            return 1
        if not (value.isascii() and value.isdigit() and 0 < int(value) <= MAX_PAGE):
            raise forms.ValidationError(
                f"There is no page “{value[:12]}”: pages are numbered from 1 (to {MAX_PAGE:,} at most)."
            )
        return int(value)

    def matches_table(self, schema: str, table: str) -> bool:
        wanted = self.cleaned_data.get("table", "").lower()
        if not wanted:
            return True
        if "." in wanted:
            return wanted in (f"{schema}.{table}".lower(), qualify(schema, table).lower())
        return wanted in table.lower()


class _HealthFilterForm(_ListFilterForm):
    problems = filter_flag("Only problems")
    scope = filter_choice("Whose tables", [("", "All, product's first"), *((s.value, s.label) for s in Scope)])

    @property
    def shows_framework(self) -> bool:
        """Return whether the framework's tables were asked for by name (the HIDE_FRAMEWORK_TABLES setting aside)."""
        return self.is_valid() and self.cleaned_data["scope"] == Scope.FRAMEWORK

    def matches_scope(self, schema: str, table: str) -> bool:
        wanted = self.cleaned_data.get("scope")
        return not wanted or table_scope(schema, table) == wanted


class IndexFilterForm(_HealthFilterForm):
    method = filter_choice("Method", [("", "Any method"), *((m, m) for m in METHODS)])

    def __init__(self, *args: Any, methods: Iterable[str] = (), **kwargs: Any) -> None:
        """methods: the database's index methods (pg.index_lookups.index_methods), offered besides the built-in and
        pgvector's ones: an index of an extension's method (bloom) can be filtered too."""
        super().__init__(*args, **kwargs)
        others = sorted(set(methods) - set(METHODS))
        cast(forms.ChoiceField, self.fields["method"]).choices = [
            ("", "Any method"),
            *((m, m) for m in (*METHODS, *others)),
        ]


class TableFilterForm(_HealthFilterForm):
    pass


class FindingFilterForm(_ListFilterForm):
    """The findings page's filters: severity, code, what it is about, whose table, and the table's name."""

    field_order = ("severity", "code", "about", "scope", "table", "per_page")

    severity = filter_choice("Severity", [("", "Any severity"), *((s.value, s.value) for s in reversed(Severity))])
    code = filter_choice("Code")
    about = filter_choice(
        "About", [("", "Indexes, tables and columns"), ("index", "Indexes"), ("table", "Tables and columns")]
    )
    scope = filter_choice("Whose tables", [("", "All tables"), *((s.value, s.label) for s in Scope)])

    def __init__(self, data: QueryDict | None = None, *args: Any, codes: dict[str, str], **kwargs: Any) -> None:
        """Offer codes (code -> title): every registered code, so a new one needs no change here."""
        super().__init__(data, *args, **kwargs)
        offered = ((code, f"{code} · {title}") for code, title in codes.items())
        cast(forms.ChoiceField, self.fields["code"]).choices = [("", "Any code"), *offered]

    def matches(self, finding: Finding) -> bool:
        """Return whether a finding passes every filter (call only when the form is valid)."""
        data = self.cleaned_data
        about = "index" if finding.index is not None else "table"
        return (
            (not data["severity"] or finding.severity == data["severity"])
            and (not data["code"] or finding.code == data["code"])
            and (not data["about"] or about == data["about"])
            and (not data["scope"] or table_scope(finding.schema, finding.table) == data["scope"])
            and self.matches_table(finding.schema, finding.table)
        )
