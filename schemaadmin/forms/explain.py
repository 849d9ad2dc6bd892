"""The EXPLAIN console's form: the query, the options, the database and the timeout, all checked here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db import connections

from schemaadmin.conf import app_settings
from schemaadmin.forms.fields import CHECK_BOX, SMALL_SELECT
from schemaadmin.pg.explain import EXPLAIN_OPTIONS
from schemaadmin.services.explain.run import MIN_TIMEOUT_MS, max_timeout_ms
from schemaadmin.services.explain.statement import text_refusal

__all__ = ["CompareForm", "ConsoleLinkForm", "ExplainForm"]

CHECKBOX = forms.CheckboxInput(attrs=CHECK_BOX)


class ExplainForm(forms.Form):
    sql = forms.CharField(
        label="Query",
        strip=False,  # keep the indentation the user typed
        error_messages={"required": "Write a query to explain: one SELECT, WITH, VALUES or TABLE statement."},
        widget=forms.Textarea(
            attrs={
                "class": "form-control font-monospace sql-editor",
                "rows": 12,
                "spellcheck": "false",
                "autocapitalize": "off",
                "autocomplete": "off",
                "wrap": "off",
            }
        ),
    )
    analyze = forms.BooleanField(required=False, label="ANALYZE (runs the query)", widget=CHECKBOX)
    buffers = forms.BooleanField(required=False, initial=True, label="BUFFERS", widget=CHECKBOX)
    verbose = forms.BooleanField(required=False, label="VERBOSE", widget=CHECKBOX)
    settings = forms.BooleanField(required=False, label="SETTINGS", widget=CHECKBOX)
    wal = forms.BooleanField(required=False, label="WAL", widget=CHECKBOX)
    serialize = forms.BooleanField(required=False, label="SERIALIZE", widget=CHECKBOX)
    memory = forms.BooleanField(required=False, label="MEMORY", widget=CHECKBOX)
    timeout_ms = forms.IntegerField(
        required=False,
        min_value=MIN_TIMEOUT_MS,
        label="Timeout (ms)",
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm", "step": 100}),
    )
    ef_search = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1000,
        label="hnsw.ef_search",
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm"}),
    )
    compare = forms.BooleanField(
        required=False,
        label="Compare with enable_seqscan = off",
        help_text="Explain it twice in the same rolled-back transaction, the second time with sequential scans "
        "off, to see the plan the planner turned down and its cost (each run gets half the timeout).",
        widget=CHECKBOX,
    )
    database = forms.ChoiceField(required=False, label="Database", widget=forms.Select(attrs=SMALL_SELECT))

    def __init__(self, *args: Any, server_version: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conf = app_settings()
        if server_version is not None:
            # Offer only the options this server knows (SERIALIZE and MEMORY came with PostgreSQL 17).
            for name, since in EXPLAIN_OPTIONS.items():
                if name.lower() in self.fields and server_version < since:
                    del self.fields[name.lower()]
        database = self.fields["database"]
        assert isinstance(database, forms.ChoiceField)
        database.choices = [(alias, alias) for alias in connections.settings]
        timeout = self.fields["timeout_ms"]
        timeout.widget.attrs.update(placeholder=str(conf["EXPLAIN_TIMEOUT_MS"]), max=str(max_timeout_ms()))
        request_seconds = getattr(settings, "SCHEMAADMIN_REQUEST_TIMEOUT_SECONDS", 90)
        timeout.help_text = (
            f"statement_timeout: {conf['EXPLAIN_TIMEOUT_MS']:,} ms unless you say, at most {max_timeout_ms():,} ms, "
            f"so that a run, and the watchdog that stops one that overruns, end inside the web server's "
            f"{request_seconds} s request timeout."
        )

    def clean_timeout_ms(self) -> int | None:
        value = self.cleaned_data.get("timeout_ms")
        limit = max_timeout_ms()
        if value is not None and value > limit:
            raise forms.ValidationError(f"At most {limit:,} ms.")
        return value

    def clean_sql(self) -> str:
        value = self.cleaned_data["sql"]
        # What is not a query yet (blank, too long, not Unicode) is answered here, before a run is recorded (the view
        # audits the refusal, explain.run_refused).
        if refusal := text_refusal(value):
            raise forms.ValidationError(str(refusal))
        return value

    def explain_options(self) -> dict[str, bool]:
        data = self.cleaned_data
        names = ("analyze", "buffers", "verbose", "settings", "wal", "serialize", "memory")
        return {name.upper(): bool(data.get(name)) for name in names}


# A run number, styled as the other forms' inputs (explain.css sets its width).
RUN_NUMBER = {"class": "form-control form-control-sm run-number"}


class CompareForm(forms.Form):
    a = forms.IntegerField(min_value=1, label="Before (run #)", widget=forms.NumberInput(attrs=RUN_NUMBER))
    b = forms.IntegerField(min_value=1, label="After (run #)", widget=forms.NumberInput(attrs=RUN_NUMBER))


class ConsoleLinkForm(forms.Form):
    """What a link to the console may fill in (the query statistics' "Explain this", a shared link) and the history
    it shows: a query, hnsw.ef_search, the seqscan comparison, and everyone's runs rather than one's own."""

    sql = forms.CharField(required=False, strip=False)
    ef_search = ExplainForm.base_fields["ef_search"]
    compare = forms.ChoiceField(required=False, choices=[("", "no"), ("seqscan_off", "enable_seqscan = off")])
    runs = forms.ChoiceField(required=False, choices=[("", "your own"), ("all", "all DBAs'")])

    def clean_sql(self) -> str:
        value = self.cleaned_data["sql"]
        if value and (refusal := text_refusal(value)):
            raise forms.ValidationError(str(refusal))
        return value

    def errors_said(self) -> list[str]:
        """Return each wrong parameter of the link, named, with what is wrong with it."""
        return [f"{name}: {' '.join(str(error) for error in errors)}" for name, errors in self.errors.items()]
