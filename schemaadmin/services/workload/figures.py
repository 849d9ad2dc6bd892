"""A query-statistics window's figures as pages show them: the server's database and role names, the span of a bucket,
each statement's calls and time per bucket, its schema note, and its row (StatementRow). query_stats.py and
history.py read windows through these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections

from schemaadmin.pg import query_series
from schemaadmin.pg.query_windows import StatementChange
from schemaadmin.pg.stats import StatementTotals, owner_names
from schemaadmin.services.workload.coverage import schema_notes

__all__ = [
    "StatementRow",
    "bucket_span",
    "owner_ids",
    "schema_notes_for",
    "server_names",
    "statement_row",
    "window_series",
]


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


def server_names(using: str) -> tuple[dict[int, str], dict[int, str]]:
    """Return the server's database names and role names, each by oid."""
    names = owner_names(using=using)
    return names.databases, names.roles


def owner_ids(
    database: str | None, role: str | None, names: tuple[dict[int, str], dict[int, str]]
) -> tuple[int | None, int | None, bool]:
    """Return the oids of the named database and role, and whether every name given was found."""
    databases, roles = names
    dbid = next((oid for oid, name in databases.items() if name == database), None) if database else None
    userid = next((oid for oid, name in roles.items() if name == role), None) if role else None
    return dbid, userid, (dbid is not None or not database) and (userid is not None or not role)


def bucket_span(start: datetime, end: datetime) -> str:
    """Return what one bucket of the window's series is: each snapshot up to 12 hours, hours up to 8 days, days."""
    length = end - start
    if length <= timedelta(hours=12):
        return "snapshot"
    return "hour" if length <= timedelta(days=8) else "day"


def _buckets(alias: str, start: datetime, end: datetime, span: str, records: str) -> list[datetime]:
    if span == "snapshot":
        return query_series.snapshot_times(alias, start, end, using=records)
    unit = timedelta(hours=1) if span == "hour" else timedelta(days=1)
    moment = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if span == "day":
        moment = moment.replace(hour=0)
    buckets = []
    while moment < end:
        buckets.append(moment)
        moment += unit
    return buckets


def window_series(
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
    for line in query_series.series(alias, starts, end, keys, span=span, using=records):
        if (line.dbid, line.userid, line.queryid) not in values:
            continue  # the same queryid under a database or role not asked for
        calls, time = values[(line.dbid, line.userid, line.queryid)]
        for position, line_calls, line_ms in zip(line.bins, line.calls, line.total_ms, strict=True):
            calls[position - 1] += line_calls
            time[position - 1] += line_ms
    return starts, values


def schema_notes_for(
    rows: Sequence[StatementTotals | StatementChange], databases: dict[int, str], using: str
) -> dict[int, str]:
    """Return the schema notes of the rows that ran in the alias's own database (the catalog it can read)."""
    here = connections[using].settings_dict["NAME"]
    return schema_notes(((row.queryid, row.query) for row in rows if databases.get(row.dbid) == here), using=using)


def statement_row(
    totals: StatementTotals,
    databases: dict[int, str],
    roles: dict[int, str],
    series: Sequence[float] = (),
    notes: dict[int, str] | None = None,
) -> StatementRow:
    """Return the statement's totals as a page lists them: with its database's and role's names, series and note."""
    return StatementRow(
        **{name: getattr(totals, name) for name in StatementTotals.__dataclass_fields__},
        database=databases.get(totals.dbid, str(totals.dbid)),
        role=roles.get(totals.userid, str(totals.userid)),
        series=tuple(series),
        schema_note=(notes or {}).get(totals.queryid, ""),
    )
