"""Rebuild pages' forms: the request (every value checked, refusals as form errors) and the list filter."""

from __future__ import annotations

from typing import Any

from django import forms

from schemaadmin.forms.fields import CHECK_BOX, SMALL_SELECT
from schemaadmin.models import IndexRebuild, JobState
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.pg.names import QUALIFIED_MAX_LENGTH, qualify, split_qualified
from schemaadmin.services.rebuilds import (
    RebuildAlreadyActive,
    RebuildPlan,
    RebuildRefused,
    plan_rebuild,
    rebuildable_index,
)
from schemaadmin.services.rebuilds.plan import (
    EF_CONSTRUCTION_RANGE,
    LISTS_RANGE,
    M_RANGE,
    current_parameters,
    parameters_when_empty,
)

__all__ = ["NOT_REBUILDABLE", "SUGGESTIONS_ID", "RebuildFilterForm", "RebuildForm"]

NUMBER = {"class": "form-control"}
SUGGESTIONS_ID = "rebuild-index-suggestions"
NOT_REBUILDABLE = (
    "There is no index %(value)s that can be rebuilt (an index in a user schema: valid, or INVALID and not "
    "partitioned, which REINDEX CONCURRENTLY repairs)."
)


_METHOD_NAMES = {"hnsw": "HNSW", "ivfflat": "IVFFlat"}
_OPTION_METHODS = {"m": "hnsw", "ef_construction": "hnsw", "lists": "ivfflat"}  # the method each option is of


def _number(name: str, bounds: tuple[int, int], help_text: str) -> forms.IntegerField:
    low, high = bounds
    method = _OPTION_METHODS[name]
    return forms.IntegerField(
        required=False,
        min_value=low,
        max_value=high,
        label=name,
        help_text=help_text,
        # One sentence whatever is wrong (text, too small, too large), as the service says it (RebuildRefused).
        error_messages=dict.fromkeys(
            ("invalid", "min_value", "max_value"), f"{name} must be a whole number from {low} to {high}."
        ),
        # schemaadmin.js shows the box while its method is the one the rebuild builds (data-option-of).
        widget=forms.NumberInput(attrs={**NUMBER, "min": low, "max": high, "step": 1, "data-option-of": method}),
    )


class RebuildForm(forms.Form):
    """What to rebuild and how; `plan()` asks the rebuild service and turns its refusals into form errors."""

    index = forms.CharField(
        label="Index",
        max_length=QUALIFIED_MAX_LENGTH,
        help_text="schema.name as the index pages write it; pgvector's indexes are suggested as you type, and every "
        "index's own page has a Rebuild link.",
        error_messages={
            "required": "Choose the index to rebuild.",
            "max_length": f"An index is named by at most {QUALIFIED_MAX_LENGTH} characters (schema.name).",
        },
        widget=forms.TextInput(
            attrs={
                "class": "form-control font-monospace",
                "list": SUGGESTIONS_ID,
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "schema.index_name",
            }
        ),
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
        widget=forms.Select(attrs={"class": "form-select", "data-options-choice": ""}),
    )
    m = _number("m", M_RANGE, "HNSW: links per node (pgvector's default 16).")
    ef_construction = _number(
        "ef_construction", EF_CONSTRUCTION_RANGE, "HNSW: candidate list while building, at least 2 × m (default 64)."
    )
    lists = _number("lists", LISTS_RANGE, "IVFFlat: inverted lists (rows / 1000 up to 1M rows, √rows above).")
    # The fingerprint of the plan the review showed (RebuildPlan.fingerprint), carried by the confirmation only.
    fingerprint = forms.RegexField(regex=r"^[0-9a-f]{16}$", required=False, widget=forms.HiddenInput)
    # The index's name as the confirming user typed it: a replace drops the index as it is now (the service checks it).
    typed_name = forms.CharField(required=False, max_length=QUALIFIED_MAX_LENGTH, label="Type the index's name")

    def __init__(self, data: Any = None, *args: Any, using: str = "default", **kwargs: Any) -> None:
        if data is not None and data.get("index"):
            data = data.copy()  # named as typed or as an older link wrote it: as the index pages write it
            data["index"] = _as_written(data["index"])
        if kwargs.get("initial", {}).get("index"):
            kwargs["initial"] = {**kwargs["initial"], "index": _as_written(kwargs["initial"]["index"])}
        super().__init__(data, *args, **kwargs)
        self.using = using
        self._looked_up: dict[str, IndexInfo | None] = {}
        self.active: IndexRebuild | None = None

    def describe_empty_options(self) -> None:
        """Say in each option's box what the rebuild uses if it is left empty, for the index chosen: its value now, or
        pgvector's default (m of an IVFFlat index turned into HNSW); and give the method box the index's method, the
        one its empty choice keeps (data-current-choice: schemaadmin.js shows that method's options)."""
        index = self.chosen_index
        if index is None:
            return
        now = current_parameters(index)
        for name, value in parameters_when_empty(index).items():
            self.fields[name].widget.attrs["placeholder"] = f"{'now' if name in now else 'default'} {value}"
        self.fields["method"].widget.attrs["data-current-choice"] = index.method

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # A number out of range in a box the new method does not use (m, typed for HNSW, then IVFFlat chosen) is
        # said as the service says an option of the other method, not as a range the method never reads.
        index = self.chosen_index
        target = (data.get("method") or (index.method if index else "")).lower()
        if target not in _METHOD_NAMES:
            return data
        for name, method in _OPTION_METHODS.items():
            if method != target and self.has_error(name):
                said = f"{name} is an {_METHOD_NAMES[method]} option and the new index is {_METHOD_NAMES[target]}"
                self.errors[name] = self.error_class([f"{said}: leave it empty."])
        return data

    def clean_index(self) -> str:
        name: str = self.cleaned_data["index"]
        if self._rebuildable(name) is None:
            raise forms.ValidationError(NOT_REBUILDABLE, params={"value": name}, code="invalid_choice")
        return name

    @property
    def chosen_index(self) -> IndexInfo | None:
        """Return the index the form names (bound or preselected), if it can be rebuilt."""
        name = self.data.get("index") if self.is_bound else self.initial.get("index")
        if not name or len(name) > QUALIFIED_MAX_LENGTH or "\x00" in name:
            return None
        return self._rebuildable(name)

    def _rebuildable(self, name: str) -> IndexInfo | None:
        if name not in self._looked_up:  # one catalog read per name, however often the page asks
            self._looked_up[name] = rebuildable_index(name, using=self.using)
        return self._looked_up[name]

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

    def hidden_values(self, plan: RebuildPlan) -> list[tuple[str, Any]]:
        """Return the cleaned values to carry to the confirmation POST as hidden fields, with the fingerprint of the
        plan shown (not one a confirmation brought: after a refusal the page shows the plan as it is now)."""
        values = [
            (name, value)
            for name, value in self.cleaned_data.items()
            if value not in (None, "") and name not in ("fingerprint", "typed_name")
        ]
        return [*values, ("fingerprint", plan.fingerprint)]

    def reviewed(self) -> str:
        """Return the fingerprint of the plan the confirming user reviewed ("" when the POST carries none)."""
        return str(self.cleaned_data.get("fingerprint") or "")

    def typed(self) -> str:
        """Return the index's name as the confirming user typed it ("" when not typed)."""
        return str(self.cleaned_data.get("typed_name") or "")


def _as_written(text: str) -> str:
    """Return schema.name as the index pages write it (pg.names.qualify), or text as given if it names no pair."""
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
        max_length=QUALIFIED_MAX_LENGTH,
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
