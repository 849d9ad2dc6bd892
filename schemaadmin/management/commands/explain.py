"""EXPLAIN one query through the console's safety layers; exit 1 with a one-line reason when refused or failed."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from schemaadmin.audit import command_line_user
from schemaadmin.management.options import add_database_option, add_format_option
from schemaadmin.pg.connection import UnknownDatabase
from schemaadmin.services.explain.run import (
    FALLBACK_WARNING,
    GENERIC_PLAN_NOTE,
    MIN_TIMEOUT_MS,
    ExplainResult,
    explain,
    explain_login,
    max_timeout_ms,
)
from schemaadmin.services.explain.statement import text_refusal
from schemaadmin.services.explain.summary import PlanSummary, plan_text


def summary_as_text(summary: PlanSummary) -> list[str]:
    """Return the summary's findings as lines for a terminal."""
    lines = []
    if summary.execution_ms is not None:
        lines.append(f"Execution {summary.execution_ms:.3f} ms, planning {summary.planning_ms or 0:.3f} ms.")
    for node in summary.slowest[:3]:
        lines.append(f"Slow: {node.label} {node.exclusive_ms:.3f} ms ({node.share:.0%})")
    for miss in summary.row_misses:
        lines.append(
            f"Row estimate off {miss.factor:.0f}x: {miss.label} (estimated {miss.estimated:.0f}, got {miss.actual:.0f})"
        )
    lines.extend(f"Sequential scan: {scan}" for scan in summary.seq_scans)
    lines.extend(f"Spilled to disk: {spill}" for spill in summary.disk_spills)
    if summary.buffer_hit_ratio is not None:
        lines.append(f"Buffer hit ratio: {summary.buffer_hit_ratio:.1%}")
    if summary.vector_order:
        lines.append(f"Vector ORDER BY: {summary.vector_order}")
    return lines


def result_as_json(result: ExplainResult) -> dict[str, Any]:
    """Return the documented JSON: run id, outcome, options, the raw plan and the summary."""
    return {
        "run": result.run.pk,
        "outcome": result.outcome,
        "options": result.run.options,
        "plan": result.plan,
        "summary": result.summary.as_dict() if result.summary else None,
    }


class Command(BaseCommand):
    help = "EXPLAIN one read-only query as the console does (read-only, time-limited, low-privilege, recorded)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sql", help="The query, or - to read it from standard input.")
        parser.add_argument("--analyze", action="store_true", help="Run the query (EXPLAIN ANALYZE).")
        parser.add_argument("--buffers", action="store_true", help="Report buffer usage.")
        parser.add_argument("--verbose-plan", action="store_true", dest="verbose_plan", help="EXPLAIN VERBOSE.")
        add_database_option(parser)
        parser.add_argument("--timeout", type=int, default=None, help="statement_timeout in ms.")
        add_format_option(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        text = sys.stdin.read() if options["sql"] == "-" else options["sql"]
        # As the console's form checks them: nothing runs, and nothing is recorded, for input that is not a query.
        if not text.strip():
            raise CommandError("Give a query to explain (or - to read it from standard input).", returncode=2)
        if refusal := text_refusal(text):  # as the form answers them: nothing to record yet
            raise CommandError(str(refusal), returncode=2)
        limit = max_timeout_ms()
        if options["timeout"] is not None and not MIN_TIMEOUT_MS <= options["timeout"] <= limit:
            raise CommandError(f"--timeout is in milliseconds, from {MIN_TIMEOUT_MS} to {limit:,}.", returncode=2)
        try:
            result = explain(
                text,
                options={
                    "ANALYZE": options["analyze"],
                    "BUFFERS": options["buffers"],
                    "VERBOSE": options["verbose_plan"],
                },
                timeout_ms=options["timeout"],
                using=options["database"],
                as_username=command_line_user(),
            )
        except UnknownDatabase as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            raise CommandError("Interrupted: a run that had started is recorded as stopped.", returncode=130) from None
        if explain_login() is None:
            self.stderr.write(f"Warning: {FALLBACK_WARNING}")
        if options["analyze"] and result.options.get("GENERIC_PLAN"):
            self.stderr.write(f"Note: {GENERIC_PLAN_NOTE}")
        if not result.ok:
            reason = result.message.replace("\n", " ")
            if result.marked:
                self.stderr.write(result.marked)
            raise CommandError(f"{result.outcome}: {reason}", returncode=1)
        if options["format"] == "json":
            document = result_as_json(result)
            try:
                self.stdout.write(json.dumps(document, indent=2))
            except RecursionError:  # a plan nested too deeply for the indenting encoder; the compact one copes
                self.stdout.write(json.dumps(document))
            return
        self.stdout.write(plan_text(result.plan))
        if result.summary:
            self.stdout.write("")
            self.stdout.write("\n".join(summary_as_text(result.summary)))
