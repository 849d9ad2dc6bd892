"""Lint migrations for lock risks: squawk on each migration's SQL, plus our own rules on its operations.

Choices, so the page shows what matters rather than everything a linter can say:

- squawk reads the SQL exactly as `sqlmigrate` prints it (BEGIN/COMMIT around atomic migrations, so its
  transaction rules see them), told the server's PostgreSQL version (`--pg-version`).
- Excluded squawk rules (`SQUAWK_EXCLUDED`):
  `require-lock-timeout` and `require-statement-timeout`: the apply job sets `lock_timeout` and
  `statement_timeout` for its session (MIGRATION_LOCK_TIMEOUT_MS, MIGRATION_STATEMENT_TIMEOUT_MS), so every
  statement applied from SchemaAdmin runs under both; the page says so once instead of twice per migration.
  A plain `manage.py migrate` does not set them: give that role its own (ALTER ROLE … SET lock_timeout).
  `prefer-robust-stmts` (IF NOT EXISTS): Django records applied migrations and an atomic one rolls back whole;
  what a failed non-atomic CREATE INDEX CONCURRENTLY leaves is an INVALID index, which IF NOT EXISTS would
  silently keep (index health lists it with its fix).
- Overrides: where squawk's SQL-only view calls a change dangerous that strong_migrations and
  django-pg-zero-downtime-migrations call safe, our rules set its finding aside for that operation with the reason
  (shown like an exemption, counted nowhere): a widening type change (varchar(n) to a longer varchar or text,
  numeric to a larger precision at the same scale) for `changing-column-type`/`prefer-text-field`, dropping NOT
  NULL for `ban-drop-not-null`, a value column (not a key) for `prefer-bigint-over-*`, an AddField's
  `ban-drop-default` (our `add_field_python_default` says when that drop breaks inserts), and an exclusion
  constraint's `constraint-missing-not-valid` (it cannot be NOT VALID; ours gives advice that can be followed).
- `ban-drop-column` / `ban-drop-table` are dropped where our `drop_column` / `drop_table` fired: ours names the
  object and the safe sequence.
- Our rules that read live table sizes run for pending migrations only: the size of a table today says nothing
  about the lock an applied migration took back then.
- Exemptions: a migration may accept findings with a class attribute `lint_exemptions = {"code": "reason"}`
  (a squawk rule name or one of our codes). Exempted and overridden findings are kept aside with their reason,
  shown on the detail page, and count nowhere (summary, apply confirmation, `schema_report`).
- squawk's results are cached in this process, keyed on (app, name, SHA-256 of the SQL, server version, squawk):
  the SQL of a migration file rarely changes, and a changed file changes the key. Our rules run on every call:
  they are cheap (one catalog query for all table sizes) and must see today's sizes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration

from schemaadmin.conf import app_settings
from schemaadmin.pg.connection import server_version, validated_alias
from schemaadmin.pg.relations import table_estimates
from schemaadmin.services.findings import Finding, Kind, Severity, severity_counts, worst, worst_first
from schemaadmin.services.schema.lint_rules import SizedFinding, SquawkOverride, operation_findings
from schemaadmin.services.schema.migrations import MigrationLabel
from schemaadmin.services.schema.sql import (
    MigrationSql,
    collected_sql,
    find_migration,
    migration_label,
    migration_loader,
)
from schemaadmin.services.schema.states import MigrationStates

__all__ = [
    "SQUAWK_EXCLUDED",
    "MigrationLint",
    "lint_loaded",
    "lint_migrations",
    "migration_findings",
    "migration_lint",
    "pending_lint",
    "squawk_binary",
    "squawk_findings",
]

SQUAWK_EXCLUDED = ("require-lock-timeout", "require-statement-timeout", "prefer-robust-stmts")
_SQUAWK_LEVELS = {"Error": Severity.CRITICAL, "Warning": Severity.WARNING}
_SUPERSEDED = {  # our code: the squawk rule it replaces
    "drop_column": "ban-drop-column",
    "drop_table": "ban-drop-table",
    "foreign_key_on_big_table": "adding-foreign-key-constraint",
}
_CACHE_SIZE = 512
_squawk_cache: dict[tuple[str, str, str, int, str], tuple[Finding, ...]] = {}


@dataclass(frozen=True, slots=True)
class MigrationLint(MigrationLabel):
    app_label: str
    name: str
    findings: tuple[Finding, ...]  # the ones that count, worst first
    exempted: tuple[Finding, ...]  # accepted by lint_exemptions or set aside by our overrides, each with its reason
    sql: MigrationSql
    live: bool  # whether rules on today's table sizes ran (pending migrations only)

    @property
    def counts(self) -> dict[Severity, int]:
        """Return each severity, worst first, with how many findings that count have it."""
        return severity_counts(self.findings)

    @property
    def critical(self) -> int:
        return self.counts[Severity.CRITICAL]

    @property
    def warnings(self) -> int:
        return self.counts[Severity.WARNING]

    @property
    def worst(self) -> Severity | None:
        """Return the highest severity found, or None when the migration is clean."""
        return worst(self.findings)


def squawk_binary() -> str | None:
    """Return the squawk executable: the setting, else beside this Python (the venv), else on PATH; None if absent."""
    configured = app_settings()["SQUAWK_PATH"]
    if configured:
        return configured if Path(configured).is_file() else None
    beside = Path(sys.executable).parent / "squawk"
    return str(beside) if beside.is_file() else shutil.which("squawk")


def squawk_findings(sql: str, *, label: str, version: int) -> tuple[Finding, ...]:
    """Return squawk's findings on the SQL (cached per SQL text); a missing or failing squawk is a finding too."""
    binary = squawk_binary()
    key = (label, hashlib.sha256(sql.encode()).hexdigest(), ",".join(SQUAWK_EXCLUDED), version, binary or "")
    if key in _squawk_cache:
        return _squawk_cache[key]
    findings, cacheable = _run_squawk(sql, binary, label=label, version=version)
    if cacheable:
        if len(_squawk_cache) >= _CACHE_SIZE:
            _squawk_cache.pop(next(iter(_squawk_cache)))
        _squawk_cache[key] = findings
    return findings


def lint_migrations(
    keys: Iterable[tuple[str, str]], *, using: str = "default", assume_rows: Mapping[str, int] | None = None
) -> list[MigrationLint]:
    """Lint the named migrations (raise UnknownMigration for a name that does not exist)."""
    loader = migration_loader(using=using)
    return lint_loaded(loader, [find_migration(loader, app_label, name) for app_label, name in keys], assume_rows)


def lint_loaded(
    loader: MigrationLoader, migrations: Sequence[Migration], assume_rows: Mapping[str, int] | None = None
) -> list[MigrationLint]:
    """Lint migrations of the loader's graph with squawk and our rules, with one table-size query for all.

    assume_rows ("what if the tables were this big") replaces the live estimates and applies the size rules to
    applied migrations too.
    """
    using = validated_alias(getattr(loader.connection, "alias", "default"))
    big_rows = app_settings()["MIGRATION_BIG_TABLE_ROWS"]
    version = server_version(using)
    drafts = []
    states = MigrationStates(loader)
    for migration in migrations:
        live = assume_rows is not None or (migration.app_label, migration.name) not in loader.applied_migrations
        drafts.append(_Draft(loader, migration, states, live=live, big_rows=big_rows, version=version))
    if assume_rows is not None:
        rows: Mapping[str, int | None] = assume_rows
    else:
        tables = sorted({s.table for draft in drafts if draft.live for s in draft.sized})
        estimates = table_estimates(tables, schema=None, using=using) if tables else []
        rows = {estimate.table: estimate.estimated_rows for estimate in estimates}
    return [draft.result(rows) for draft in drafts]


def migration_lint(app_label: str, name: str, *, using: str = "default") -> MigrationLint:
    """Lint one migration (raise UnknownMigration when there is no such migration)."""
    return lint_migrations([(app_label, name)], using=using)[0]


def migration_findings(app_label: str, name: str, *, using: str = "default") -> list[Finding]:
    """Return the findings that count for one migration, worst first."""
    return list(migration_lint(app_label, name, using=using).findings)


def pending_lint(*, using: str = "default") -> list[MigrationLint]:
    """Lint every pending migration, in plan order."""
    from schemaadmin.services.schema.migrations import pending_migrations

    return lint_migrations([(m.app_label, m.name) for m in pending_migrations(using=using)], using=using)


class _Draft:
    """One migration's SQL, squawk findings and our rules' findings, before table sizes are known."""

    def __init__(
        self,
        loader: MigrationLoader,
        migration: Migration,
        states: MigrationStates,
        *,
        live: bool,
        big_rows: int,
        version: int,
    ):
        self.migration = migration
        self.label = migration_label(migration)
        self.live = live
        start = states.start(migration)
        self.sql = collected_sql(loader, migration, state=start.for_sql)
        states.ended(migration, start, sql_written=not self.sql.problem)
        self.findings: list[Finding] = []
        self.sized: list[SizedFinding] = []
        self.overrides: list[SquawkOverride] = []
        if self.sql.text.strip():
            squawked = squawk_findings(self.sql.text, label=self.label, version=version)
            self.findings.extend(replace(f, migration=self.label) for f in squawked)
        try:
            for found in operation_findings(
                migration, start.plain, loader.connection, big_rows=big_rows, lines=self.sql.operation_lines
            ):
                if isinstance(found, SizedFinding):
                    self.sized.append(found)
                elif isinstance(found, SquawkOverride):
                    self.overrides.append(found)
                else:
                    self.findings.append(found)
        except Exception as exc:  # a migration our rules cannot follow still gets squawk's verdict
            message = f"SchemaAdmin's own rules could not read this migration's operations: {exc}"
            self.findings.append(_finding("rules_failed", Severity.WARNING, self.label, message))

    def result(self, rows: Mapping[str, int | None]) -> MigrationLint:
        findings = list(self.findings)
        if self.live:
            for sized in self.sized:
                estimate = rows.get(sized.table)
                if estimate is not None and estimate >= sized.min_rows:
                    message = sized.finding.message.replace("{rows}", f"{estimate:,}")
                    findings.append(replace(sized.finding, message=message))
        findings = self._without_noise(findings)
        exemptions = getattr(self.migration, "lint_exemptions", {}) or {}
        counted, exempted = [], []
        for finding in findings:
            reason = exemptions.get(finding.code) or self._overridden(finding)
            if reason:
                exempted.append(replace(finding, exemption=reason))
            else:
                counted.append(finding)
        return MigrationLint(
            self.migration.app_label,
            self.migration.name,
            tuple(_worst_first(counted)),
            tuple(_worst_first(exempted)),
            self.sql,
            self.live,
        )

    def _without_noise(self, findings: Sequence[Finding]) -> list[Finding]:
        ours = {f.code for f in findings if f.source == "schemaadmin"}
        superseded = {rule for code, rule in _SUPERSEDED.items() if code in ours}
        kept = []
        for finding in findings:
            if finding.source == "squawk" and finding.code in superseded:
                continue
            kept.append(finding)
        return kept

    def _overridden(self, finding: Finding) -> str:
        """Return why our rules set this squawk finding aside ("" when they do not)."""
        if finding.source != "squawk" or finding.line is None:
            return ""
        index = self.sql.operation_at(finding.line)
        for override in self.overrides:
            if override.operation == index and finding.code in override.rules:
                return override.reason
        return ""


def _worst_first(findings: list[Finding]) -> list[Finding]:
    return worst_first(findings, then=lambda f: f.line if f.line is not None else -1)


def _finding(code: str, severity: Severity, label: str, message: str, help: str = "") -> Finding:
    """Return a lint Finding about a whole migration (label: app_label.name) that squawk or our rules raise."""
    return Finding(code, severity, Kind.LINT, label, message, help=help, source="schemaadmin", migration=label)


def _run_squawk(sql: str, binary: str | None, *, label: str, version: int) -> tuple[tuple[Finding, ...], bool]:
    if binary is None:
        message = "squawk is not installed, so only SchemaAdmin's own rules ran on this SQL."
        help = "Install squawk-cli in this environment (pip install squawk-cli) or set SCHEMAADMIN['SQUAWK_PATH']."
        return (_finding("squawk_unavailable", Severity.WARNING, label, message, help),), False
    command = [
        binary,
        "--reporter",
        "json",
        "--stdin-filepath",
        f"{label}.sql",
        f"--exclude={','.join(SQUAWK_EXCLUDED)}",
        f"--pg-version={version // 10000}.{version % 100}",
    ]
    try:
        done = subprocess.run(
            command,
            input=sql,
            capture_output=True,
            text=True,
            timeout=app_settings()["SQUAWK_TIMEOUT_SECONDS"],
            check=False,
        )
        if done.returncode not in (0, 1):
            raise ValueError(done.stderr.strip() or f"exit status {done.returncode}")
        items = json.loads(done.stdout or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        message = f"squawk failed on this SQL ({exc}), so only SchemaAdmin's own rules ran."
        return (_finding("squawk_failed", Severity.WARNING, label, message),), False
    return tuple(_squawk_finding(item, label) for item in items), True


def _squawk_finding(item: dict[str, Any], label: str) -> Finding:
    return Finding(
        code=str(item.get("rule_name") or "squawk"),
        severity=_SQUAWK_LEVELS.get(str(item.get("level")), Severity.INFO),
        kind=Kind.LINT,
        object=label,
        message=str(item.get("message") or ""),
        help=str(item.get("help") or ""),
        line=item.get("line") if isinstance(item.get("line"), int) else None,
        source="squawk",
        migration=label,
    )
