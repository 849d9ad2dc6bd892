"""Filter forms of the index and table health pages: every value checked before it reaches a query."""

from __future__ import annotations

from django import forms

__all__ = ["IndexFilterForm", "TableFilterForm"]

METHODS = ("btree", "hash", "gin", "gist", "spgist", "brin", "hnsw", "ivfflat")
NAME_PATTERN = r"^[^\x00]{0,127}$"


class _HealthFilterForm(forms.Form):
    table = forms.CharField(
        required=False,
        max_length=127,
        label="Table",
        help_text="Part of a table name, or schema.table.",
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "placeholder": "table name"}),
    )
    problems = forms.BooleanField(
        required=False,
        label="Only problems",
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def clean_table(self) -> str:
        value = self.cleaned_data["table"].strip()
        if "\x00" in value:
            raise forms.ValidationError("A table name cannot contain a NUL character.")
        return value

    def matches_table(self, schema: str, table: str) -> bool:
        wanted = self.cleaned_data.get("table", "").lower()
        if not wanted:
            return True
        if "." in wanted:
            return f"{schema}.{table}".lower() == wanted
        return wanted in table.lower()


class IndexFilterForm(_HealthFilterForm):
    method = forms.ChoiceField(
        required=False,
        choices=[("", "Any method"), *((m, m) for m in METHODS)],
        label="Method",
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )


class TableFilterForm(_HealthFilterForm):
    pass
