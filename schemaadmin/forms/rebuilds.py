"""Rebuild pages' forms: the request (every value checked, refusals as form errors) and the list filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from schemaadmin.forms.fields import CHECK_BOX, SMALL_SELECT
from schemaadmin.models import IndexRebuild, JobState
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.pg.names import qualify, split_qualified
from schemaadmin.services.rebuilds import RebuildAlreadyActive, RebuildPlan, RebuildRefused, plan_rebuild
from schemaadmin.services.rebuilds.plan import EF_CONSTRUCTION_RANGE, LISTS_RANGE, M_RANGE
from schemaadmin.templatetags.humanize_extras import pretty_bytes

__all__ = ["RebuildFilterForm", "RebuildForm"]

NUMBER = {"class": "form-control"}


def _index_label(index: IndexInfo) -> str:
    return f"{index.qualified_name} — {index.method} on {index.table}, {pretty_bytes(index.size_bytes)}"


def _number(name: str, bounds: tuple[int, int], help_text: str) -> forms.IntegerField:
    low, high = bounds
    return forms.IntegerField(
        required=False,
        min_value=low,
        max_value=high,
        label=name,
        help_text=help_text,
        error_messages={"invalid": f"{name} must be a whole number from {low} to {high}."},
        widget=forms.NumberInput(attrs={**NUMBER, "min": low, "max": high, "step": 1}),
    )


class RebuildForm(forms.Form):
    """What to rebuild and how; `plan()` asks the rebuild service and turns its refusals into form errors."""

    index = forms.ChoiceField(
        label="Index",
        error_messages={
            "required": "Choose the index to rebuild.",
            "invalid_choice": "There is no index %(value)s that can be rebuilt (a valid index in a user schema).",
        },
        widget=forms.Select(attrs={"class": "form-select font-monospace"}),
    )
    kind = forms.ChoiceField(
        label="Rebuild",
        choices=IndexRebuild.Kind.choices,
        initial=IndexRebuild.Kind.REINDEX,
        error_messages={"invalid_choice": "Choose REINDEX CONCURRENTLY or a rebuild with new parameters."},
        widget=forms.RadioSelect(attrs=CHECK_BOX),
    )
    method = forms.ChoiceField(
        required=False,
        label="New method",
        choices=[("", "keep the current method"), ("hnsw", "HNSW"), ("ivfflat", "IVFFlat")],
        error_messages={"invalid_choice": "The new method can be HNSW or IVFFlat, or empty to keep the current one."},
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    m = _number("m", M_RANGE, "HNSW: links per node (pgvector's default 16).")
    ef_construction = _number(
        "ef_construction", EF_CONSTRUCTION_RANGE, "HNSW: candidate list while building, at least 2 × m (default 64)."
    )
    lists = _number("lists", LISTS_RANGE, "IVFFlat: inverted lists (rows / 1000 up to 1M rows, √rows above).")

    def __init__(
        self, data: Any = None, *args: Any, indexes: Sequence[IndexInfo], using: str = "default", **kwargs: Any
    ) -> None:
        if data is not None and data.get("index"):
            data = data.copy()  # named as typed or as an older link wrote it: as the choices write it
            data["index"] = _as_choice(data["index"])
        if kwargs.get("initial", {}).get("index"):
            kwargs["initial"] = {**kwargs["initial"], "index": _as_choice(kwargs["initial"]["index"])}
        super().__init__(data, *args, **kwargs)
        self.using = using
        self.indexes = {index.qualified_name: index for index in indexes}
        field = self.fields["index"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose an index…")] + [
            (name, _index_label(index)) for name, index in self.indexes.items()
        ]
        self.active: IndexRebuild | None = None

    @property
    def chosen_index(self) -> IndexInfo | None:
        """Return the index the form names (bound or preselected), if it can be rebuilt."""
        name = self.data.get("index") if self.is_bound else self.initial.get("index")
        return self.indexes.get(name or "")

    def plan(self) -> RebuildPlan | None:
        """Return the checked plan, or None with the service's refusal added as a form error."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        try:
            return plan_rebuild(
                data["index"],
                kind=data["kind"],
                method=data["method"] or None,
                m=data["m"],
                ef_construction=data["ef_construction"],
                lists=data["lists"],
                using=self.using,
            )
        except RebuildRefused as refused:
            self.add_error(None, str(refused))
            return None

    def refuse(self, refused: RebuildRefused) -> None:
        """Show a refusal of start_rebuild as a form error, keeping the active rebuild to link to."""
        if isinstance(refused, RebuildAlreadyActive):
            self.active = refused.rebuild
        self.add_error(None, str(refused))

    def hidden_values(self) -> list[tuple[str, Any]]:
        """Return the cleaned values to carry to the confirmation POST as hidden fields."""
        return [(name, value) for name, value in self.cleaned_data.items() if value not in (None, "")]


def _as_choice(text: str) -> str:
    """Return schema.name as the index choices write it (pg.names.qualify), or text as given if it names no pair."""
    parts = split_qualified(text.strip())
    return qualify(*parts) if parts else text


class RebuildFilterForm(forms.Form):
    state = forms.ChoiceField(
        required=False,
        label="State",
        choices=[("", "Any state"), ("active", "Queued or running"), *JobState.choices],
        error_messages={"invalid_choice": "Unknown state %(value)s: choose one from the list."},
        widget=forms.Select(attrs=SMALL_SELECT),
    )
    index = forms.CharField(
        required=False,
        max_length=260,  # two 63-byte names, quoted, in 4-byte characters at worst is more: the catalog decides
        label="Index",
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "placeholder": "schema.index"}),
    )

    def clean_index(self) -> tuple[str, str] | None:
        """Return the (schema, name) the filter names (pg.names.split_qualified), None for no filter."""
        text = self.cleaned_data["index"].strip()
        if not text:
            return None
        parts = split_qualified(text)
        if parts is None:
            raise forms.ValidationError("Name the index as schema.name.")
        return parts
