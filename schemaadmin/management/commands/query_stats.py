"""Print the statements that cost most in a recent window (snapshots), or since the last reset (live view)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from schemaadmin.services.workload.query_stats import InvalidDuration, QueryStats, parse_duration, query_stats

MAX_LIMIT = 1000


def stats_as_text(stats: QueryStats) -> str:
    """Return the statements for a terminal: the window, then one block per statement."""
    if not stats.availability.ok and not stats.statements:
        lines = [f"Query statistics are unavailable: {stats.availability.reason}"]
        lines.extend(f"  {statement}" for statement in stats.availability.statements)
        return "\n".join(lines)
    if stats.uncovered:
        return f"No snapshot covers {stats.start:%Y-%m-%d %H:%M} to {stats.end:%Y-%m-%d %H:%M} UTC: no figures for it."
    if stats.start is None:
        since = f" ({stats.since_reset:%Y-%m-%d %H:%M} UTC)" if stats.since_reset else ""
        lines = [f"No snapshots in the window: pg_stat_statements since its last reset{since}."]
    else:
        lines = [f"From {stats.start:%Y-%m-%d %H:%M} to {stats.end:%Y-%m-%d %H:%M} UTC."]
    if not stats.statements:
        lines.append("No statement ran.")
    for row in stats.statements:
        lines.append("")
        lines.append(
            f"{row.total_ms:12.1f} ms total  {row.mean_ms:10.3f} ms mean  {row.calls:>10,} calls  {row.rows:>12,} rows"
            f"  {row.share * 100:5.1f}%  {row.database}/{row.role}  queryid {row.queryid}"
        )
        lines.append("    " + " ".join(row.query.split())[:300])
    return "\n".join(lines)


def _limit(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise CommandError(f"--limit must be a whole number from 1 to {MAX_LIMIT:,}, not {value!r}.") from None
    if not 1 <= number <= MAX_LIMIT:
        raise CommandError(f"--limit must be from 1 to {MAX_LIMIT:,}; {number:,} is outside that.")
    return number


class Command(BaseCommand):
    help = "Show the costliest statements of a window from pg_stat_statements snapshots (else since the last reset)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", default="1h", help="Window length up to now: 30m, 1h, 1d, 2w (default 1h).")
        parser.add_argument("--order", choices=("total", "mean", "calls", "rows"), default="total")
        parser.add_argument("--limit", default="20", help=f"How many statements, 1 to {MAX_LIMIT:,} (default 20).")
        parser.add_argument("--format", choices=("text", "json"), default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            length = parse_duration(options["since"])
        except InvalidDuration as exc:
            raise CommandError(f"--since: {exc}") from None
        limit = _limit(options["limit"])
        end = timezone.now()
        stats = query_stats(end - length, end, order=options["order"], limit=limit, with_series=False)
        if options["format"] == "json":
            self.stdout.write(json.dumps(stats.as_json()))
        else:
            self.stdout.write(stats_as_text(stats))
