"""Print what the server is doing now; or cancel or terminate one backend (exit 1 with a sentence when it cannot)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from schemaadmin.audit import command_line_user
from schemaadmin.formats import duration_text
from schemaadmin.management.options import add_report_options
from schemaadmin.pg.connection import UnknownDatabase
from schemaadmin.services.workload.activity import ActivityReport, activity_report
from schemaadmin.services.workload.signals import OwnSessionUnconfirmed, Signal, SignalRefusal, send_signal


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def report_as_json(report: ActivityReport) -> dict[str, Any]:
    """Return the report as the documented JSON: connections, sessions (with blocked_by) and locks."""
    return {
        "connections": {
            "total": report.slots.total,
            "max": report.slots.max_connections,
            "by_state": report.by_state,
        },
        "sessions": [
            {
                "pid": row.pid,
                "database": row.session.database,
                "role": row.session.role,
                "application": row.session.application,
                "state": row.session.state,
                "wait_event_type": row.session.wait_event_type,
                "wait_event": row.session.wait_event,
                "query": row.query,
                "query_start": _iso(row.session.query_start),
                "xact_start": _iso(row.session.xact_start),
                "duration_s": None if row.duration_seconds is None else round(row.duration_seconds, 3),
                "blocked_by": list(row.session.blocked_by),
            }
            for row in report.rows
        ],
        "locks": {
            "total": report.locks.total,
            "waiting": report.locks.waiting,
            "by_mode": report.locks.by_mode,
        },
    }


def _node_lines(node: Any, depth: int) -> list[str]:
    row = node.row
    indent = "  " * (depth + 1) + ("└ " if depth else "")
    lines = [f"{indent}{row.pid} {row.session.state or ''}: {' '.join(row.query.split())[:100]}"]
    for waiter in node.waiters:
        lines.extend(_node_lines(waiter, depth + 1))
    return lines


def report_as_text(report: ActivityReport) -> str:
    """Return the report for a terminal: connections, the blocking tree, flagged sessions, locks."""
    slots = report.slots
    lines = [
        f"Connections: {slots.total} of {slots.available} (max_connections {slots.max_connections}, "
        f"{slots.reserved} reserved)"
        + (" — near the limit" if report.near_max else "")
        + ". "
        + ", ".join(f"{state} {count}" for state, count in report.by_state.items()),
        f"Locks: {report.locks.total} ({report.locks.waiting} waiting); "
        + ", ".join(f"{mode} {count}" for mode, count in report.locks.by_mode.items()),
    ]
    tree = report.blocking_tree
    lines.append("")
    lines.append("Blocking:" if tree else "Blocking: none.")
    for node in tree:
        lines.extend(_node_lines(node, 0))
    lines.append("")
    lines.append(f"{'pid':>8}  {'state':<20} {'role':<16} {'application':<24} {'duration':>10}  query")
    for row in report.rows:
        s = row.session
        flags = " [long-running]" if row.long_running else " [idle in transaction]" if row.idle_in_transaction else ""
        lines.append(
            f"{row.pid:>8}  {(s.state or s.backend_type)[:20]:<20} {(s.role or '')[:16]:<16} "
            f"{s.application[:24]:<24} {duration_text(row.duration_seconds):>10}  "
            f"{' '.join(row.query.split())[:80]}{flags}"
        )
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Show sessions, blocking, locks and connections; or cancel / terminate one backend by pid."

    def add_arguments(self, parser: CommandParser) -> None:
        add_report_options(parser)
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--cancel", metavar="PID", help="Cancel the statement backend PID runs.")
        action.add_argument("--terminate", metavar="PID", help="End backend PID's session.")
        parser.add_argument("--own", action="store_true", help="Confirm signalling one of SchemaAdmin's own sessions.")

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        if options["own"] and all(options[str(signal)] is None for signal in Signal):
            raise CommandError("--own confirms a --cancel or --terminate of our own session; give one.", returncode=2)
        for signal in Signal:
            if options[str(signal)] is not None:
                self._signal(signal, options[str(signal)], using=using, own=options["own"])
                return
        try:
            # The command line is the server's operator: it reads statements as they are.
            report = activity_report(show_query_text=True, using=using)
        except UnknownDatabase as exc:
            raise CommandError(str(exc)) from exc
        if options["format"] == "json":
            self.stdout.write(json.dumps(report_as_json(report)))
        else:
            self.stdout.write(report_as_text(report))

    def _signal(self, signal: Signal, raw_pid: str, *, using: str, own: bool) -> None:
        try:
            # ASCII digits only: int() would read other scripts' digits too ("٤٢" as 42), and "1_000" as 1000.
            if not re.fullmatch(r"[+-]?[0-9]+", raw_pid.strip()):
                raise ValueError(raw_pid)
            pid = int(raw_pid.strip())
        except ValueError:
            self.stderr.write(f"{raw_pid!r} is not a process id: give the pid as a whole number, e.g. --{signal} 4242.")
            raise SystemExit(1) from None
        try:
            outcome = send_signal(signal, pid, as_username=command_line_user(), confirmed_own=own, using=using)
        except SignalRefusal as refusal:
            hint = " Add --own to confirm." if isinstance(refusal, OwnSessionUnconfirmed) else ""
            self.stderr.write(f"{refusal}{hint}")
            raise SystemExit(1) from None
        except UnknownDatabase as exc:
            raise CommandError(str(exc)) from exc
        if not outcome.signalled:
            self.stderr.write(outcome.message)
            raise SystemExit(1)
        self.stdout.write(outcome.message)
