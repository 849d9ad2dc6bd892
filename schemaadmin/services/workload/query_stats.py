"""Read query statistics for a window: top statements, one statement's history, regressions, and their JSON."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DatabaseError, connections, router
from django.utils import timezone

from schemaadmin.conf import app_settings
from schemaadmin.models import QuerySnapshot, QueryText
from schemaadmin.pg import query_windows
from schemaadmin.pg.query_windows import StatementChange
from schemaadmin.pg.stats import (
    ORDERS,
    StatementTotals,
    live_statements,
    owner_names,
    statement_texts,
    statements_info,
)
from schemaadmin.services.workload.availability import Availability, availability
from schemaadmin.services.workload.coverage import schema_notes

__all__ = [
    "ORDERS",
    "SERIES_POINTS",
    "InvalidDuration",
    "QueryStats",
    "Regression",
    "StatementHistory",
    "StatementRow",
    "filter_choices",
    "parse_duration",
    "query_stats",
    "regressions",
    "snapshots_cover",
    "statement_history",
]

_DURATION = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
# A sparkline shows at most this many points (two pixels each): a longer series is summed in runs of buckets.
SERIES_POINTS = 60
# Longer than any retention anyone keeps: past it a duration is a typo, not a window.
MAX_DURATION = timedelta(days=3660)


class InvalidDuration(ValueError):
    """A window length that is not a positive number of minutes, hours, days or weeks."""


def parse_duration(text: str) -> timedelta:
    """Return the length "30m", "1h", "1d" or "2w" names; raise InvalidDuration with a sentence otherwise."""
    match = _DURATION.match(text or "")
    if not match:
        raise InvalidDuration(f"{text!r} is not a duration: write a number and a unit, such as 30m, 1h, 1d or 2w.")
    length = int(match[1]) * _UNITS[match[2]]
    if not length:
        raise InvalidDuration(f"{text!r} is an empty window: the duration must be more than zero.")
    if length > MAX_DURATION:
        raise InvalidDuration(f"{text!r} is longer than ten years; snapshots are kept far less long.")
    return length


@dataclass(frozen=True, slots=True)
class StatementRow(StatementTotals):
    """A statement's totals as the page lists it: with the names of its database and role, and its series."""

    database: str
    role: str
    series: tuple[float, ...] = ()  # time (ms) per bucket of the window
    schema_note: str = ""  # PostgreSQL 18+: the same-named tables of other schemas its figures may include

    def as_json(self) -> dict[str, Any]:
        return {
            "queryid": self.queryid,
            "query": self.query,
            "database": self.database,
            "role": self.role,
            "calls": self.calls,
            "total_ms": round(self.total_ms, 3),
            "mean_ms": round(self.mean_ms, 3),
            "rows": self.rows,
            "shared_blks_hit": self.shared_blks_hit,
            "shared_blks_read": self.shared_blks_read,
            "temp_blks_written": self.temp_blks_written,
        }


# A window whose end is at most this far in the past ends "now": without snapshots, the live view answers for it.
LIVE_WINDOW_SLACK = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class QueryStats:
    availability: Availability
    start: datetime | None  # None: no snapshots cover the window, the figures are the live view's since its reset
    end: datetime
    since_reset: datetime | None = None  # the live view's last reset, when the figures are the live view's
    statements: tuple[StatementRow, ...] = ()
    buckets: tuple[datetime, ...] = ()
    span: str = "snapshot"  # what one bucket of the series is: "snapshot", "hour" or "day"
    # No snapshot covers the window, and the live view's counters would not answer for it: it ended in the past, or
    # pg_stat_statements cannot be read. There are no figures, rather than the counters since the last reset.
    uncovered: bool = False
    # When the window's last snapshot was taken: its figures end there, not at `end` (a window that ends now holds
    # nothing of the minutes since).
    through: datetime | None = None

    @property
    def live(self) -> bool:
        return self.start is None and not self.uncovered

    def as_json(self) -> dict[str, Any]:
        return {
            "available": self.availability.ok,
            "reason": self.availability.reason,
            "window": {"from": self.start.isoformat() if self.start else None, "to": self.end.isoformat()},
            "statements": [row.as_json() for row in self.statements],
        }


def _names(using: str) -> tuple[dict[int, str], dict[int, str]]:
    names = owner_names(using=using)
    return names.databases, names.roles


def _owner_ids(
    database: str | None, role: str | None, names: tuple[dict[int, str], dict[int, str]]
) -> tuple[int | None, int | None, bool]:
    """Return the oids of the named database and role, and whether every name given was found."""
    databases, roles = names
    dbid = next((oid for oid, name in databases.items() if name == database), None) if database else None
    userid = next((oid for oid, name in roles.items() if name == role), None) if role else None
    return dbid, userid, (dbid is not None or not database) and (userid is not None or not role)


def _span(start: datetime, end: datetime) -> str:
    length = end - start
    if length <= timedelta(hours=12):
        return "snapshot"
    return "hour" if length <= timedelta(days=8) else "day"


def _buckets(alias: str, start: datetime, end: datetime, span: str, records: str) -> list[datetime]:
    if span == "snapshot":
        return query_windows.snapshot_times(alias, start, end, using=records)
    unit = timedelta(hours=1) if span == "hour" else timedelta(days=1)
    moment = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if span == "day":
        moment = moment.replace(hour=0)
    buckets = []
    while moment < end:
        buckets.append(moment)
        moment += unit
    return buckets


def _series(
    alias: str,
    start: datetime,
    end: datetime,
    keys: Sequence[tuple[int, int, int]],
    span: str,
    records: str,
    *,
    points: int | None = None,
) -> tuple[list[datetime], dict[tuple[int, int, int], tuple[list[int], list[float]]]]:
    """Return the starts of the window's bins and each statement's calls and time per bin.

    A bin is one bucket of the span, or with points, a run of buckets, so that there are at most that many.
    """
    buckets = _buckets(alias, start, end, span, records)
    if not buckets or not keys:
        return buckets, {}
    run = -(-len(buckets) // points) if points else 1
    starts = buckets[::run]
    values = {key: ([0] * len(starts), [0.0] * len(starts)) for key in keys}
    for line in query_windows.series(alias, starts, end, keys, span=span, using=records):
        if (line.dbid, line.userid, line.queryid) not in values:
            continue  # the same queryid under a database or role not asked for
        calls, time = values[(line.dbid, line.userid, line.queryid)]
        for position, line_calls, line_ms in zip(line.bins, line.calls, line.total_ms, strict=True):
            calls[position - 1] += line_calls
            time[position - 1] += line_ms
    return starts, values


def _notes(rows: Sequence[StatementTotals | StatementChange], databases: dict[int, str], using: str) -> dict[int, str]:
    """Return the schema notes of the rows that ran in the alias's own database (the catalog it can read)."""
    here = connections[using].settings_dict["NAME"]
    return schema_notes(((row.queryid, row.query) for row in rows if databases.get(row.dbid) == here), using=using)


def _row(
    totals: StatementTotals,
    databases: dict[int, str],
    roles: dict[int, str],
    series: Sequence[float] = (),
    notes: dict[int, str] | None = None,
) -> StatementRow:
    return StatementRow(
        **{name: getattr(totals, name) for name in StatementTotals.__dataclass_fields__},
        database=databases.get(totals.dbid, str(totals.dbid)),
        role=roles.get(totals.userid, str(totals.userid)),
        series=tuple(series),
        schema_note=(notes or {}).get(totals.queryid, ""),
    )


def query_stats(
    start: datetime,
    end: datetime,
    *,
    order: str = "total",
    limit: int = 50,
    database: str | None = None,
    role: str | None = None,
    with_series: bool = True,
    state: Availability | None = None,
    using: str = "default",
) -> QueryStats:
    """Return the statements that cost most in [start, end); without snapshots there, the live view's since reset."""
    state = state or availability(using=using)
    records = router.db_for_read(QuerySnapshot)
    if order not in ORDERS:
        raise ValueError(f"Unknown order {order!r}; one of {', '.join(ORDERS)}.")
    covered = query_windows.has_deltas(using, start, end, using=records)
    if not covered and (not state.ok or end < timezone.now() - LIVE_WINDOW_SLACK):
        return QueryStats(availability=state, start=start, end=end, uncovered=True)
    databases, roles = _names(using)
    dbid, userid, found = _owner_ids(database, role, (databases, roles))
    if not covered:
        info = statements_info(using=using)
        live = [] if not found else live_statements(order=order, limit=limit, dbid=dbid, userid=userid, using=using)
        notes = _notes(live, databases, using)
        rows = tuple(_row(totals, databases, roles, notes=notes) for totals in live)
        return QueryStats(availability=state, start=None, end=end, since_reset=info.stats_reset, statements=rows)
    totals = (
        query_windows.window_totals(
            using, start, end, order=order, limit=limit, dbid=dbid, userid=userid, using=records
        )
        if found
        else []
    )
    span = _span(start, end)
    keys = [(row.dbid, row.userid, row.queryid) for row in totals] if with_series else []
    buckets, values = _series(using, start, end, keys, span, records, points=SERIES_POINTS)
    notes = _notes(totals, databases, using)
    rows = tuple(
        _row(row, databases, roles, values.get((row.dbid, row.userid, row.queryid), ((), ()))[1], notes)
        for row in totals
    )
    through = (
        QuerySnapshot.objects.using(records)
        .filter(database_alias=using, taken_at__lt=end)
        .order_by("-taken_at")
        .values_list("taken_at", flat=True)
        .first()
    )
    return QueryStats(
        availability=state,
        start=start,
        end=end,
        statements=rows,
        buckets=tuple(buckets),
        span=span,
        through=through,
    )


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    bucket: datetime
    calls: int
    total_ms: float

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


@dataclass(frozen=True, slots=True)
class StatementHistory:
    queryid: int
    query: str
    start: datetime
    end: datetime
    span: str
    owners: tuple[StatementRow, ...]  # one row per database and role it ran as in the window
    schema_note: str = ""  # PostgreSQL 18+: the same-named tables of other schemas its figures may include
    points: tuple[HistoryPoint, ...] = field(default=())

    @property
    def calls(self) -> int:
        return sum(row.calls for row in self.owners)

    @property
    def total_ms(self) -> float:
        return sum(row.total_ms for row in self.owners)

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0

    @property
    def share(self) -> float:
        return sum(row.share for row in self.owners)

    @property
    def database(self) -> str | None:
        """The one database the statement ran in during the window, if it is one."""
        names = {row.database for row in self.owners}
        return names.pop() if len(names) == 1 else None


def statement_text(queryid: int, *, using: str = "default") -> str:
    """Return the statement's stored normalized text, else the live view's, else ""."""
    records = router.db_for_read(QueryText)
    stored = QueryText.objects.using(records).filter(queryid=queryid).values_list("query", flat=True).first()
    if stored is not None:
        return stored
    try:
        return statement_texts([queryid], using=using).get(queryid, "")
    except DatabaseError:  # the view cannot be read: the page says why elsewhere
        return ""


def statement_history(
    queryid: int,
    start: datetime,
    end: datetime,
    *,
    database: str | None = None,
    role: str | None = None,
    using: str = "default",
) -> StatementHistory:
    """Return one statement's figures in [start, end) per database and role, and its calls and time per bucket."""
    records = router.db_for_read(QuerySnapshot)
    databases, roles = _names(using)
    dbid, userid, found = _owner_ids(database, role, (databases, roles))
    totals = (
        query_windows.window_totals(
            using, start, end, limit=1000, dbid=dbid, userid=userid, queryid=queryid, using=records
        )
        if found
        else []
    )
    span = _span(start, end)
    keys = [(row.dbid, row.userid, row.queryid) for row in totals]
    buckets, values = _series(using, start, end, keys, span, records)
    calls, time = [0] * len(buckets), [0.0] * len(buckets)
    for line_calls, line_ms in values.values():  # one line per database and role: the chart adds them up
        calls = [a + b for a, b in zip(calls, line_calls, strict=True)]
        time = [a + b for a, b in zip(time, line_ms, strict=True)]
    return StatementHistory(
        queryid=queryid,
        query=totals[0].query if totals and totals[0].query else statement_text(queryid, using=using),
        start=start,
        end=end,
        span=span,
        owners=tuple(_row(row, databases, roles) for row in totals),
        schema_note=_notes(totals[:1], databases, using).get(queryid, "") if totals else "",
        points=tuple(HistoryPoint(*point) for point in zip(buckets, calls, time, strict=True)),
    )


@dataclass(frozen=True, slots=True)
class Regression:
    queryid: int
    query: str
    database: str
    role: str
    before_calls: int
    before_mean_ms: float
    after_calls: int
    after_mean_ms: float
    schema_note: str = ""  # PostgreSQL 18+: the same-named tables of other schemas its figures may include

    @property
    def increase_ms(self) -> float:
        return self.after_mean_ms - self.before_mean_ms

    @property
    def ratio(self) -> float | None:
        return self.after_mean_ms / self.before_mean_ms if self.before_mean_ms else None


def regressions(
    before: tuple[datetime, datetime],
    after: tuple[datetime, datetime],
    *,
    limit: int = 50,
    database: str | None = None,
    role: str | None = None,
    using: str = "default",
) -> list[Regression]:
    """Return the statements whose mean time rose most from the earlier window to the later one."""
    records = router.db_for_read(QuerySnapshot)
    databases, roles = _names(using)
    dbid, userid, found = _owner_ids(database, role, (databases, roles))
    if not found:
        return []
    min_calls = max(1, int(app_settings()["QUERY_STATS_REGRESSION_MIN_CALLS"]))
    changes = query_windows.regressions(
        using, before, after, min_calls=min_calls, limit=limit, dbid=dbid, userid=userid, using=records
    )
    notes = _notes(changes, databases, using)
    return [
        Regression(
            queryid=row.queryid,
            query=row.query,
            database=databases.get(row.dbid, str(row.dbid)),
            role=roles.get(row.userid, str(row.userid)),
            before_calls=row.before_calls,
            before_mean_ms=row.before_mean_ms,
            after_calls=row.after_calls,
            after_mean_ms=row.after_mean_ms,
            schema_note=notes.get(row.queryid, ""),
        )
        for row in changes
    ]


def snapshots_cover(start: datetime, end: datetime, *, using: str = "default") -> bool:
    """Return whether any stored delta of the alias's server falls in [start, end): a window without one has no
    figures, and an empty comparison with it says nothing about regressions."""
    records = router.db_for_read(QuerySnapshot)
    return (
        QuerySnapshot.objects.using(records)
        .filter(database_alias=using, previous_taken_at__isnull=False, taken_at__gt=start, previous_taken_at__lt=end)
        .exists()
    )


def filter_choices(*, using: str = "default") -> tuple[list[str], list[str]]:
    """Return the names of the server's databases and login roles, sorted, for the filters."""
    databases, roles = _names(using)
    return sorted(databases.values()), sorted(roles.values())
