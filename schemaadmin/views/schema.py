"""The schema page's migrations: every app's migrations with status and lint, and one migration's SQL and lint.

The list lints pending migrations only (squawk is cached per SQL, and the pending ones are written from one state
carried through the plan, but the SQL of every applied migration on every view would still cost seconds in a long
history); an applied migration is linted when its own page opens.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from schemaadmin.conf import app_settings
from schemaadmin.forms.archive import ArchiveDropForm
from schemaadmin.forms.migrations import MigrationFilterForm
from schemaadmin.permissions import permission_required
from schemaadmin.services.schema.archive import archives
from schemaadmin.services.schema.lint import MigrationLint, lint_migrations, migration_lint
from schemaadmin.services.schema.migrations import (
    UnknownMigration,
    by_app,
    migration_conflicts,
    migration_detail,
    migration_status,
    recorded_without_file,
)
from schemaadmin.services.schema.sql import MigrationSql
from schemaadmin.services.schema.squawk import squawk_binary
from schemaadmin.views.browsing import render_page
from schemaadmin.views.migrations_readable import reads_migrations

__all__ = ["migration", "migrations"]

LIST_TEMPLATE = "schemaadmin/schema/migrations.html"
DETAIL_TEMPLATE = "schemaadmin/schema/migration.html"


def _duration(ms: int) -> str:
    """Return 5 s, 30 min, 2 h or "none" (0) for a timeout in milliseconds."""
    if not ms:
        return "none"
    for unit, size in (("h", 3_600_000), ("min", 60_000), ("s", 1_000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"


def _timeouts() -> dict[str, str]:
    settings = app_settings()
    return {
        "lock": _duration(settings["MIGRATION_LOCK_TIMEOUT_MS"]),
        "statement": _duration(settings["MIGRATION_STATEMENT_TIMEOUT_MS"]),
    }


def _accepted(lint: MigrationLint) -> list[dict[str, Any]]:
    """Group the exempted findings by rule: how many, on which lines (1-based), and the migration's reason."""
    groups: dict[str, dict[str, Any]] = {}
    for finding in lint.exempted:
        group = groups.setdefault(
            finding.code,
            {"code": finding.code, "source": finding.source, "reason": finding.exemption, "lines": [], "count": 0},
        )
        group["count"] += 1
        if finding.line is not None and finding.line + 1 not in group["lines"]:
            group["lines"].append(finding.line + 1)
    return list(groups.values())


@permission_required("view_schema")
@require_GET
@reads_migrations
def migrations(request: HttpRequest) -> HttpResponse:
    """List every app's migrations in plan order, applied (when) or pending, with the lint of pending ones."""
    statuses = migration_status()
    form = MigrationFilterForm(request.GET, apps=sorted({s.app_label for s in statuses}))
    valid = form.is_valid()
    pending = [s for s in statuses if s.pending]
    lints = {lint.label: lint for lint in lint_migrations([(s.app_label, s.name) for s in pending])}
    groups = []
    for group in by_app([s for s in statuses if valid and form.matches(s)]):
        rows = [(status, lints.get(status.label)) for status in group.migrations]
        groups.append((group, rows))
    context = {
        "form": form,
        "groups": groups,
        "total": len(statuses),
        "pending": pending,
        "pending_lints": [lints[s.label] for s in pending],
        "critical_lint": sum(lint.critical for lint in lints.values()),
        "squawk_missing": squawk_binary() is None,
        "conflicts": migration_conflicts(),
        "recorded_without_file": recorded_without_file(),
        "timeouts": _timeouts(),
        "archives": [(archive, ArchiveDropForm(initial={"name": archive.name})) for archive in archives()],
        "archive_schema": app_settings()["ARCHIVE_SCHEMA"],
        "archiving": app_settings()["ARCHIVE_BEFORE_DROP"],
    }
    return render_page(request, LIST_TEMPLATE, context, partial="migration-list", status=200 if valid else 400)


@permission_required("view_schema")
@require_GET
@reads_migrations
def migration(request: HttpRequest, app_label: str, name: str) -> HttpResponse:
    """Show one migration: status, operations in words, forward and backward SQL, lint findings with help."""
    try:
        lint = migration_lint(app_label, name)
    except UnknownMigration as unknown:
        missing = {"problem": str(unknown), "app_label": app_label, "name": name}
        return render(request, "schemaadmin/schema/migration_unknown.html", missing, status=404)
    detail = migration_detail(app_label, name, forward=lint.sql)
    context: dict[str, Any] = {
        "detail": detail,
        "status": detail.status,
        "lint": lint,
        "accepted": _accepted(lint),
        "operations": _operations(detail.operations, detail.forward),
        "forward_lines": numbered_lines(detail.forward, lint),
        "backward_lines": numbered_lines(detail.backward, None),
        "squawk_missing": squawk_binary() is None,
        "conflicts": migration_conflicts(),
        "timeouts": _timeouts(),
    }
    return render(request, DETAIL_TEMPLATE, context)


def _operations(described: tuple[str, ...], sql: MigrationSql) -> list[tuple[str, int | None]]:
    """Pair each operation in words with the 1-based line of its SQL, when it has one."""
    pairs: list[tuple[str, int | None]] = []
    for index, text in enumerate(described):
        line = sql.operation_lines[index] if index < len(sql.operation_lines) else None
        pairs.append((text, line + 1 if line is not None else None))
    return pairs


def numbered_lines(sql: MigrationSql, lint: MigrationLint | None) -> list[dict[str, Any]]:
    """Return the SQL's lines, 1-based, each marked when a finding points at it."""
    flagged = {f.line for f in lint.findings if f.line is not None} if lint else set()
    return [{"number": i + 1, "text": text, "flagged": i in flagged} for i, text in enumerate(sql.lines)]
