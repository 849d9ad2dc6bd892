"""Lint migrations for lock risks: squawk on each migration's SQL, plus our own rules on its operations.

Choices, so the page shows what matters rather than everything a linter can say:

- squawk reads the SQL exactly as `sqlmigrate` prints it (BEGIN/COMMIT around atomic migrations, so its
  transaction rules see them), told the server's PostgreSQL version (`--pg-version`).
- Excluded squawk rules (`squawk.SQUAWK_EXCLUDED`):
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
- squawk runs in `squawk.py`: cached per SQL text, and the migrations not cached are read by one squawk run for
  many. Our rules run on every call: they are cheap (one catalog query for all table sizes) and must see today's
  sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, replace

from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration

from schemaadmin.conf import app_settings
from schemaadmin.pg.connection import server_version, validated_alias
from schemaadmin.pg.constraints import not_null_checked_columns
from schemaadmin.pg.relations import table_estimates
from schemaadmin.services.findings import Finding, Severity, severity_counts, worst, worst_first
from schemaadmin.services.schema.lint_base import PlanFacts
from schemaadmin.services.schema.lint_rules import SizedFinding, SquawkOverride, operation_findings
from schemaadmin.services.schema.migrations import MigrationLabel
from schemaadmin.services.schema.sql import (
    MigrationSql,
    collected_sql,
    find_migration,
    is_applied,
    migration_label,
    migration_loader,
    written_sql,
)
from schemaadmin.services.schema.squawk import lint_finding, squawk_findings_of
from schemaadmin.services.schema.states import MigrationStates

__all__ = [
    "MigrationLint",
    "lint_loaded",
    "lint_migrations",
    "migration_findings",
    "migration_lint",
    "pending_lint",
]

_SUPERSEDED = {  # our code: the squawk rule it replaces
    "drop_column": "ban-drop-column",
    "drop_table": "ban-drop-table",
    "foreign_key_on_big_table": "adding-foreign-key-constraint",
}


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
    sql_kept = written_sql(loader)
    plan = PlanFacts()
    for migration in migrations:
        live = assume_rows is not None or not is_applied(migration, loader.applied_migrations)
        # An applied migration's renames are the database's names already: only the pending ones' are noted.
        facts = plan if live else PlanFacts()
        drafts.append(_Draft(loader, migration, states, sql_kept, live=live, big_rows=big_rows, plan=facts))
    written = [draft for draft in drafts if draft.sql.text.strip()]
    squawked = squawk_findings_of([(draft.label, draft.sql.text) for draft in written], version=version)
    for draft, findings in zip(written, squawked, strict=True):
        draft.findings[:0] = [replace(finding, migration=draft.label) for finding in findings]
    # Each sized finding names the table the database has now (CheckerBase.sized_on), before pending renames.
    tables = sorted({s.table for draft in drafts if draft.live for s in draft.sized})
    estimates = table_estimates(tables, schema=None, using=using) if tables else []
    partitioned = {estimate.table for estimate in estimates if estimate.partitioned}
    if assume_rows is not None:
        rows: Mapping[str, int | None] = assume_rows
    else:
        rows = {estimate.table: estimate.estimated_rows for estimate in estimates}
    not_null_tables = sorted({s.table for draft in drafts if draft.live for s in draft.sized if s.not_null_column})
    checked = not_null_checked_columns(not_null_tables, using=using) if not_null_tables else set()
    return [draft.result(rows, partitioned, checked) for draft in drafts]


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
        sql_kept: dict[str, MigrationSql],
        *,
        live: bool,
        big_rows: int,
        plan: PlanFacts | None = None,
    ):
        self.migration = migration
        self.label = migration_label(migration)
        self.live = live
        start = states.start(migration)
        kept = sql_kept.get(self.label)
        if kept is None:
            kept = collected_sql(loader, migration, state=start.for_sql if start is not None else None)
            sql_written = not kept.problem
            if sql_written:  # a failure may pass (a timeout, a lock): the next view tries again
                sql_kept[self.label] = kept
        else:
            sql_written = False  # start.for_sql was not used: no rendered end state to hand over
        self.sql = kept
        if start is not None:
            states.ended(migration, start, sql_written=sql_written)
        self.findings: list[Finding] = []
        if kept.problem:  # no SQL to lint: never "lint clean"; critical when applying it would fail the same way
            unwritten = ("migration_fails", Severity.CRITICAL) if kept.fails else ("sql_unwritten", Severity.WARNING)
            self.findings.append(lint_finding(*unwritten, self.label, kept.problem))
        self.sized: list[SizedFinding] = []
        self.overrides: list[SquawkOverride] = []
        try:
            node = (migration.app_label, migration.name)
            state = start.plain if start is not None else loader.project_state(node, at_end=False)
            for found in operation_findings(
                migration,
                state,
                loader.connection,
                big_rows=big_rows,
                lines=self.sql.operation_lines,
                sql_lines=self.sql.lines,
                plan=plan,
            ):
                if isinstance(found, SizedFinding):
                    self.sized.append(found)
                elif isinstance(found, SquawkOverride):
                    self.overrides.append(found)
                else:
                    self.findings.append(found)
        except Exception as exc:  # a migration our rules cannot follow still gets squawk's verdict
            message = f"SchemaAdmin's own rules could not read this migration's operations: {exc}"
            self.findings.append(lint_finding("rules_failed", Severity.WARNING, self.label, message))

    def result(
        self,
        rows: Mapping[str, int | None],
        partitioned: Set[str],
        not_null_checked: Set[tuple[str, str]] = frozenset(),
    ) -> MigrationLint:
        """Return the lint, with the sized findings that hold for these row estimates and partitioned tables (and
        not_null_checked: (table, column)s a validated CHECK proves not null, whose SET NOT NULL scans nothing)."""
        findings = list(self.findings)
        if self.live:
            for sized in self.sized:
                estimate = rows.get(sized.table)
                if (sized.table, sized.not_null_column) in not_null_checked:
                    continue
                if sized.partitioned:
                    if sized.table in partitioned:
                        findings.append(sized.finding)
                elif estimate is not None and estimate >= sized.min_rows:
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
