"""Report pending migrations, the lint of pending migrations, and drift; exit 1 at or above --fail-on (for CI)."""

from __future__ import annotations

import importlib
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from schemaadmin.management.options import add_report_options
from schemaadmin.pg.connection import UnknownDatabase, validated_alias
from schemaadmin.services.findings import Severity
from schemaadmin.services.schema.lint import lint_migrations
from schemaadmin.services.schema.migrations import MigrationStatus, migration_status, migrations_problem
from schemaadmin.services.schema.model_changes import unreadable_migrations

DRIFT_MODULE = "schemaadmin.services.schema.drift"
SECTIONS = ("pending", "lint", "drift")
TITLES = {
    "pending": "Pending migrations, in the order migrate applies them",
    "lint": "Lint of the pending migrations",
    "drift": "Drift between the database, its migrations and the models",
}


def _pending_item(status: MigrationStatus) -> dict[str, Any]:
    transaction = "in one transaction" if status.atomic else "outside a transaction (non-atomic)"
    return {
        "code": "pending_migration",
        "severity": str(Severity.WARNING),
        "object": status.label,
        "message": f"{status.label} is not applied: {status.operation_count} operation(s), {transaction}.",
        "migration": status.label,
        "atomic": status.atomic,
    }


def _drift_items(using: str) -> tuple[list[dict[str, Any]], bool]:
    """Return the drift findings as items, and whether the drift check exists in this installation."""
    try:
        drift = importlib.import_module(DRIFT_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != DRIFT_MODULE:
            raise
        return [], False
    return [finding.as_json() for finding in drift.drift_findings(using=using)], True


def schema_report(*, using: str = "default") -> dict[str, Any]:
    """Return the report as the documented JSON: database, pending, lint, drift (and drift_checked). When the
    migration files cannot be read, nothing can be listed or linted: the report is that one critical finding."""
    try:
        pending = [status for status in migration_status(using=using) if status.pending]
    except Exception:
        problem = migrations_problem()
        if problem is None:
            raise
        unreadable = unreadable_migrations(problem).as_json()
        return {"database": using, "pending": [], "lint": [], "drift": [unreadable], "drift_checked": False}
    lint = []
    for result in lint_migrations([(s.app_label, s.name) for s in pending], using=using):
        for finding in result.findings:
            item = finding.as_json()
            item["line"] = finding.line + 1 if finding.line is not None else None  # 1-based, as sqlmigrate prints
            lint.append(item)
    drift, checked = _drift_items(using)
    return {
        "database": using,
        "pending": [_pending_item(status) for status in pending],
        "lint": lint,
        "drift": drift,
        "drift_checked": checked,
    }


def failing_items(report: dict[str, Any], fail_on: str) -> list[dict[str, Any]]:
    """Return the items at or above the fail_on severity ("never": none; "error" is critical's former name)."""
    if fail_on == "never":
        return []
    floor = Severity(fail_on)
    return [item for key in SECTIONS for item in report[key] if Severity(item["severity"]).at_least(floor)]


def report_as_text(report: dict[str, Any]) -> str:
    """Return the report for a terminal: a summary line, then each section's items with help and fix."""
    counts = {key: len(report[key]) for key in SECTIONS}
    lines = [
        f"Schema report for database alias {report['database']!r}: {counts['pending']} pending migration(s), "
        f"{counts['lint']} lint finding(s), {counts['drift']} drift finding(s)."
    ]
    for key in SECTIONS:
        lines += ["", f"{TITLES[key]}:"]
        if key == "drift" and not report["drift_checked"]:
            lines.append("  (drift check not installed)")
        elif not report[key]:
            lines.append("  none")
        for item in report[key]:
            where = ""
            if item.get("migration"):  # lint findings name their migration (and line); drift items do not
                line = f", line {item['line']}" if item.get("line") is not None else ""
                where = f"  [{item['migration']}{line}]"
            lines.append(f"  {item['severity'].upper():8} {item['code']}  {item['object']}{where}")
            lines.append(f"           {item['message']}")
            for label, extra in (("instead", item.get("help")), ("fix", item.get("fix"))):
                if extra:
                    lines.extend(
                        f"           {label}: {line}" if i == 0 else f"           | {line}"
                        for i, line in enumerate(str(extra).splitlines())
                    )
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Report pending migrations, the lock-risk lint of the pending migrations (squawk and SchemaAdmin's rules) "
        "and drift between the database, its migrations and the models. JSON keys: pending, lint, drift; each "
        "item has code, severity (info, warning, critical), object and message. A pending migration is a warning, "
        "so the default --fail-on critical lets a deploy with migrations to apply pass and stops one whose lint "
        "or drift finds something critical."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_report_options(parser)
        parser.add_argument(
            "--fail-on",
            choices=("warning", "critical", "error", "never"),
            default="critical",
            help=(
                "Exit with status 1 when an item of this severity or worse exists (default: critical; warning also "
                "fails on any pending migration; never always exits 0; error is the former name of critical)."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = schema_report(using=validated_alias(options["database"]))
        except UnknownDatabase as exc:
            raise CommandError(str(exc)) from exc
        if options["format"] == "json":
            self.stdout.write(json.dumps(report))
        else:
            self.stdout.write(report_as_text(report))
        failing = failing_items(report, options["fail_on"])
        if failing:
            if options["format"] == "text":
                self.stderr.write(f"{len(failing)} item(s) at or above {options['fail_on']}.")
            raise SystemExit(1)
