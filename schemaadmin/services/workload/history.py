"""One statement's history over a window, and the statements whose mean time rose from one window to another."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import DatabaseError, router, transaction

from schemaadmin.conf import app_settings
from schemaadmin.models import QuerySnapshot, QueryText
from schemaadmin.pg import query_windows
from schemaadmin.pg.stats import statement_texts
from schemaadmin.services.workload import figures
from schemaadmin.services.workload.figures import StatementRow

__all__ = ["HistoryPoint", "Regression", "StatementHistory", "regressions", "statement_history", "statement_text"]


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
        # A savepoint: a refused read (no extension in this database) must not abort a transaction around it.
        with transaction.atomic(using=using):
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
    databases, roles = figures.server_names(using)
    dbid, userid, found = figures.owner_ids(database, role, (databases, roles))
    totals = (
        query_windows.window_totals(
            using, start, end, limit=1000, dbid=dbid, userid=userid, queryid=queryid, using=records
        )
        if found
        else []
    )
    span = figures.bucket_span(start, end)
    keys = [(row.dbid, row.userid, row.queryid) for row in totals]
    buckets, values = figures.window_series(using, start, end, keys, span, records)
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
        owners=tuple(figures.statement_row(row, databases, roles) for row in totals),
        schema_note=figures.schema_notes_for(totals[:1], databases, using).get(queryid, "") if totals else "",
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
    databases, roles = figures.server_names(using)
    dbid, userid, found = figures.owner_ids(database, role, (databases, roles))
    if not found:
        return []
    min_calls = max(1, int(app_settings()["QUERY_STATS_REGRESSION_MIN_CALLS"]))
    changes = query_windows.regressions(
        using, before, after, min_calls=min_calls, limit=limit, dbid=dbid, userid=userid, using=records
    )
    notes = figures.schema_notes_for(changes, databases, using)
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
