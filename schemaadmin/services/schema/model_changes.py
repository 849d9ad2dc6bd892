"""Model changes no migration file describes yet, as `makemigrations --check` would find them (a drift source)."""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
from django.db.migrations.state import ProjectState
from django.db.models import NOT_PROVIDED

from schemaadmin.services.findings import Finding, Kind, Severity
from schemaadmin.services.schema.migrations import problem_of

__all__ = ["model_changes", "unreadable_migrations"]


def _finding(code: str, about: str, message: str, fix: str) -> Finding:
    return Finding(code, Severity.CRITICAL, Kind.DRIFT, about, message, fix)


class _Questioner(NonInteractiveMigrationQuestioner):
    """makemigrations' non-interactive questioner that notes what it would have to ask instead of exiting.

    Django's own calls a `log` callable and then sys.exit(3) for a NOT NULL field without a default: the
    everyday "forgot makemigrations" case. Here the change is still a model change without a migration; the
    note says what makemigrations will ask.
    """

    def __init__(self) -> None:
        super().__init__(specified_apps=None, dry_run=True, verbosity=0, log=lambda message: None)
        self.notes: dict[tuple[str, str], str] = {}

    def ask_not_null_addition(self, field_name: str, model_name: str) -> None:
        self.notes[(model_name.lower(), field_name)] = (
            "it is NOT NULL without a default, so makemigrations will ask for a one-off default for the existing "
            "rows (or give it db_default=, or null=True)"
        )
        return None

    def ask_not_null_alteration(self, field_name: str, model_name: str) -> Any:
        self.notes[(model_name.lower(), field_name)] = (
            "it becomes NOT NULL without a default, so makemigrations will ask what the existing NULLs become"
        )
        return NOT_PROVIDED

    def ask_auto_now_add_addition(self, field_name: str, model_name: str) -> Any:
        self.notes[(model_name.lower(), field_name)] = (
            "it has auto_now_add, so makemigrations will ask for a one-off default for the existing rows"
        )
        return None


def model_changes() -> list[Finding]:
    """Return each model change no migration file describes yet, as makemigrations --check would find it; or, when
    the migration files cannot be read (makemigrations would fail too), one finding saying which and why."""
    try:
        return _model_changes()
    except Exception as error:  # a migration file's own fault (an import, a model it alters that none creates)
        return [unreadable_migrations(problem_of(error))]


def unreadable_migrations(problem: str) -> Finding:
    """Return the finding that the migration files cannot be read, for problem (migrations.problem_of's)."""
    return _finding(
        "migrations_unreadable",
        "migrations",
        f"{problem}.",
        "Fix the file named above (an import it needs, a dependency on the migration that creates the model it "
        "alters): migrate and makemigrations fail the same way until then.",
    )


def _model_changes() -> list[Finding]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    conflicts = loader.detect_conflicts()
    if conflicts:
        return [
            _finding(
                "migration_conflict",
                app_label,
                f"App {app_label} has several leaf migrations: {', '.join(sorted(names))}.",
                f"manage.py makemigrations --merge {app_label}",
            )
            for app_label, names in sorted(conflicts.items())
        ]
    questioner = _Questioner()
    autodetector = MigrationAutodetector(loader.project_state(), ProjectState.from_apps(global_apps), questioner)
    findings = []
    for app_label, migrations in sorted(autodetector.changes(graph=loader.graph).items()):
        for migration in migrations:
            for operation in migration.operations:
                model = getattr(operation, "model_name", None) or getattr(operation, "name", "")
                note = questioner.notes.get((str(model).lower(), getattr(operation, "name", "")))
                findings.append(
                    _finding(
                        "model_without_migration",
                        f"{app_label}.{model}" if model else app_label,
                        f"{operation.describe()}: the models say so, but no migration file does"
                        + (f"; {note}." if note else "."),
                        f"manage.py makemigrations {app_label}, review the migration (lint it on the schema page) "
                        "and apply it.",
                    )
                )
    return findings
