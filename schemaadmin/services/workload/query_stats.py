"""Read query statistics for a window: the statements that cost most, and their JSON (one statement's history and
regressions: history.py; how a window's figures are named and bucketed: figures.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import router
from django.db.models import Max, Q, Sum
from django.utils import timezone

from schemaadmin.models import QuerySnapshot
from schemaadmin.pg import query_windows
from schemaadmin.pg.connection import server_version
from schemaadmin.pg.stats import (
    ORDERS,
    STATS_SINCE_FROM,
    live_statements,
    statements_info,
)
from schemaadmin.services.workload.availability import Availability, availability
from schemaadmin.services.workload.figures import (
    StatementRow,
    bucket_span,
    owner_ids,
    schema_notes_for,
    server_names,
    statement_row,
    window_series,
)

__all__ = [
    "ORDERS",
    "SERIES_POINTS",
    "InvalidDuration",
    "QueryStats",
    "StatementRow",
    "filter_choices",
    "parse_duration",
    "query_stats",
    "snapshots_cover",
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
    not_begun: bool = False  # uncovered because the window starts after now
    # Entries pg_stat_statements evicted in the window (pg_stat_statements.max reached): what each counted since the
    # snapshot before is lost; and before PostgreSQL 17 (counted_again), an entry that came back is counted from
    # the totals it had (no stats_since tells it restarted), so its figures may be short.
    evicted: int = 0
    counted_again: bool = False
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
    now = timezone.now()
    if not covered and start > now:  # nothing has run in it yet: the live counters are of the past
        return QueryStats(availability=state, start=start, end=end, uncovered=True, not_begun=True)
    if not covered and (not state.ok or end < now - LIVE_WINDOW_SLACK):
        return QueryStats(availability=state, start=start, end=end, uncovered=True)
    databases, roles = server_names(using)
    dbid, userid, found = owner_ids(database, role, (databases, roles))
    if not covered:
        info = statements_info(using=using)
        live = [] if not found else live_statements(order=order, limit=limit, dbid=dbid, userid=userid, using=using)
        notes = schema_notes_for(live, databases, using)
        rows = tuple(statement_row(totals, databases, roles, notes=notes) for totals in live)
        return QueryStats(availability=state, start=None, end=end, since_reset=info.stats_reset, statements=rows)
    totals = (
        query_windows.window_totals(
            using, start, end, order=order, limit=limit, dbid=dbid, userid=userid, using=records
        )
        if found
        else []
    )
    span = bucket_span(start, end)
    keys = [(row.dbid, row.userid, row.queryid) for row in totals] if with_series else []
    buckets, values = window_series(using, start, end, keys, span, records, points=SERIES_POINTS)
    notes = schema_notes_for(totals, databases, using)
    rows = tuple(
        statement_row(row, databases, roles, values.get((row.dbid, row.userid, row.queryid), ((), ()))[1], notes)
        for row in totals
    )
    # The last snapshot before the end (the figures end there), and the entries pg_stat_statements evicted in the
    # window (pg_stat_statements_info.dealloc), in one read of the snapshots' index.
    taken = (
        QuerySnapshot.objects.using(records)
        .filter(database_alias=using, taken_at__lt=end)
        .aggregate(through=Max("taken_at"), evicted=Sum("evicted", filter=Q(taken_at__gte=start), default=0))
    )
    return QueryStats(
        availability=state,
        start=start,
        end=end,
        statements=rows,
        buckets=tuple(buckets),
        evicted=taken["evicted"],
        counted_again=server_version(using) < STATS_SINCE_FROM,
        span=span,
        through=taken["through"],
    )


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
    databases, roles = server_names(using)
    return sorted(databases.values()), sorted(roles.values())
