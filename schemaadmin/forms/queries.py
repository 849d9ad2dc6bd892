"""The query statistics pages' form: window, order, filters and length, every value checked here."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from django import forms
from django.http import QueryDict
from django.utils import timezone

from schemaadmin.services.workload.query_stats import MAX_DURATION, parse_duration

__all__ = ["LIMITS", "ORDER_CHOICES", "WINDOW_CHOICES", "Filters", "QueryWindowForm", "previous_window"]


class Filters(TypedDict):
    """The database and role a page is narrowed to (None: all), as the query statistics services take them."""

    database: str | None
    role: str | None


WINDOW_CHOICES = (
    ("1h", "Last hour"),
    ("6h", "Last 6 hours"),
    ("1d", "Last day"),
    ("7d", "Last week"),
    ("14d", "Last 14 days"),
    ("custom", "Custom"),
)
ORDER_CHOICES = (
    ("total", "Total time"),
    ("mean", "Mean time"),
    ("calls", "Calls"),
    ("rows", "Rows"),
    ("read", "Shared blocks read"),
    ("temp", "Temp blocks written"),
)
LIMITS = (25, 50, 100)
EARLIEST_YEAR = 1970
# A window's hours or days are counted past its end: one ending in 9999 ran past the last date Python has (a 500).
LATEST_YEAR = 9998
SELECT = {"class": "form-select form-select-sm"}
DATETIME = {"class": "form-control form-control-sm", "type": "datetime-local"}


class QueryWindowForm(forms.Form):
    window = forms.ChoiceField(choices=WINDOW_CHOICES, label="Window", widget=forms.Select(attrs=SELECT))
    start = forms.DateTimeField(
        required=False, label="From", widget=forms.DateTimeInput(attrs=DATETIME, format="%Y-%m-%dT%H:%M")
    )
    end = forms.DateTimeField(
        required=False,
        label="To",
        help_text="Empty: now.",
        widget=forms.DateTimeInput(attrs=DATETIME, format="%Y-%m-%dT%H:%M"),
    )
    order = forms.ChoiceField(choices=ORDER_CHOICES, label="Order by", widget=forms.Select(attrs=SELECT))
    database = forms.ChoiceField(required=False, label="Database", widget=forms.Select(attrs=SELECT))
    role = forms.ChoiceField(required=False, label="Role", widget=forms.Select(attrs=SELECT))
    limit = forms.TypedChoiceField(
        coerce=int, choices=[(n, str(n)) for n in LIMITS], label="Statements", widget=forms.Select(attrs=SELECT)
    )

    def __init__(
        self,
        data: QueryDict | None = None,
        *args: Any,
        databases: list[str] = (),  # type: ignore[assignment]
        roles: list[str] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        if data is not None:
            data = data.copy()  # the selects then show the defaults in use
            # A link that gives a start or an end and no window means those times: they were ignored without a word.
            typed_times = bool(data.get("start") or data.get("end"))
            for name, default in (("window", "custom" if typed_times else "1d"), ("order", "total"), ("limit", "50")):
                if not data.get(name):
                    data[name] = default
        super().__init__(data, *args, **kwargs)
        self.fields["database"].choices = [("", "Any database"), *((name, name) for name in databases)]  # type: ignore[attr-defined]
        self.fields["role"].choices = [("", "Any role"), *((name, name) for name in roles)]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("window") != "custom":
            return data
        if self.has_error("start") or self.has_error("end"):
            return data  # said already (a time that is none, or one a clock change repeats or skips)
        start, end = data.get("start"), data.get("end") or timezone.now()
        if start is None:
            self.add_error("start", "A custom window needs a start.")
        elif start.year < EARLIEST_YEAR:
            # No statistics are that old, and the regressions page compares with the window before, which must exist.
            self.add_error("start", f"A window starts in {EARLIEST_YEAR} or later.")
        elif end.year > LATEST_YEAR:
            self.add_error("end", f"A window ends in {LATEST_YEAR} or earlier.")
        elif start >= end and data.get("end") is None:  # the end is now: the start is what is wrong
            self.add_error("start", "The start is in the future: statistics go up to now.")
        elif start >= end:
            self.add_error("end", "The end must come after the start.")
        elif end - start > MAX_DURATION:
            self.add_error("start", "A window may span at most ten years.")
        return data

    def window_bounds(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """Return [start, end) of the validated window."""
        data = self.cleaned_data
        now = now or timezone.now()
        if data["window"] == "custom":
            return data["start"], data.get("end") or now
        return now - parse_duration(data["window"]), now

    def filters(self) -> Filters:
        """Return the validated database and role filters."""
        return {"database": self.cleaned_data.get("database") or None, "role": self.cleaned_data.get("role") or None}


def previous_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Return the window of the same length that ends where this one starts."""
    return start - (end - start), start
