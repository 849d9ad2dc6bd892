"""services/schema/squawk.py: many migrations read by one squawk run, with the findings each gets alone."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from schemaadmin.services.schema import squawk
from schemaadmin.services.schema.squawk import squawk_binary, squawk_findings, squawk_findings_of

MIGRATIONS = [
    ("shop.0001_index", "CREATE INDEX orders_placed ON orders (placed_at);"),
    ("shop.0002_required", "BEGIN;\nALTER TABLE orders ADD COLUMN total int NOT NULL;\nCOMMIT;"),
    ("shop.0003_clean", "SELECT 1;"),
    ("shop.0004_typo", "SELEC broken;"),
    ("shop.0005_index_again", "CREATE INDEX orders_placed ON orders (placed_at);"),
]
VERSION = 170000


@pytest.fixture
def runs(tmp_path, settings, monkeypatch):
    """squawk behind a wrapper that notes each run's arguments; an empty cache."""
    real = squawk_binary()
    assert real is not None
    log = tmp_path / "runs"
    wrapper = tmp_path / "squawk"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    settings.SCHEMAADMIN = {"SQUAWK_PATH": str(wrapper)}
    monkeypatch.setattr(squawk, "_cache", {})
    return lambda: log.read_text().splitlines() if log.exists() else []


def codes(findings):
    return [(finding.code, finding.line, finding.migration) for finding in findings]


def test_many_migrations_are_read_in_one_run_with_the_findings_each_gets_alone(runs, monkeypatch):
    together = squawk_findings_of(MIGRATIONS, version=VERSION)
    assert len(runs()) == 1

    monkeypatch.setattr(squawk, "_cache", {})
    alone = [squawk_findings(sql, label=label, version=VERSION) for label, sql in MIGRATIONS]
    assert len(runs()) == 1 + len(MIGRATIONS)

    assert [codes(findings) for findings in together] == [codes(findings) for findings in alone]
    by_label = dict(zip([label for label, _ in MIGRATIONS], together, strict=True))
    assert "require-concurrent-index-creation" in [f.code for f in by_label["shop.0001_index"]]
    assert "adding-required-field" in [f.code for f in by_label["shop.0002_required"]]
    assert by_label["shop.0003_clean"] == ()
    assert "syntax-error" in [f.code for f in by_label["shop.0004_typo"]]
    assert all(f.migration == "shop.0005_index_again" for f in by_label["shop.0005_index_again"])

    squawk_findings_of(MIGRATIONS, version=VERSION)  # all cached now
    assert len(runs()) == 1 + len(MIGRATIONS)


def test_a_run_of_many_that_fails_runs_each_migration_alone(runs, tmp_path, settings):
    real = Path(settings.SCHEMAADMIN["SQUAWK_PATH"])
    picky = tmp_path / "picky-squawk"  # refuses more than one file, as a broken or older squawk might
    refuse = 'case "$*" in *" 1.sql"*) echo "too many files" >&2; exit 2;; esac'
    picky.write_text(f'#!/bin/sh\n{refuse}\nexec {real} "$@"\n')
    picky.chmod(picky.stat().st_mode | stat.S_IEXEC)
    settings.SCHEMAADMIN = {"SQUAWK_PATH": str(picky)}

    found = squawk_findings_of(MIGRATIONS, version=VERSION)

    assert len(runs()) == len(MIGRATIONS)  # the failed run of many never reached the real squawk
    assert "require-concurrent-index-creation" in [f.code for f in found[0]]
    assert "squawk_failed" not in [f.code for findings in found for f in findings]


def test_when_every_run_fails_each_migration_says_so_and_nothing_is_cached(tmp_path, settings, monkeypatch):
    monkeypatch.setattr(squawk, "_cache", {})
    broken = tmp_path / "squawk"
    broken.write_text("#!/bin/sh\necho 'squawk exploded' >&2\nexit 2\n")
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    settings.SCHEMAADMIN = {"SQUAWK_PATH": str(broken)}

    found = squawk_findings_of(MIGRATIONS[:3], version=VERSION)

    assert [[f.code for f in findings] for findings in found] == [["squawk_failed"]] * 3
    assert all("squawk exploded" in findings[0].message for findings in found)
    assert [findings[0].migration for findings in found] == [label for label, _ in MIGRATIONS[:3]]
    assert squawk._cache == {}


def test_a_squawk_config_in_the_temporary_directory_changes_nothing(runs, tmp_path, monkeypatch):
    """squawk reads a .squawk.toml from its working directory or any parent: a shared /tmp could silence it."""
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    silencing = 'excluded_paths = ["*.sql"]\nexcluded_rules = ["require-concurrent-index-creation"]\n'
    (shared / ".squawk.toml").write_text(silencing)
    monkeypatch.setattr("tempfile.tempdir", str(shared))
    monkeypatch.chdir(shared)  # a run of one file works in the process's directory

    together = squawk_findings_of(MIGRATIONS, version=VERSION)
    monkeypatch.setattr(squawk, "_cache", {})
    alone = squawk_findings(MIGRATIONS[0][1], label=MIGRATIONS[0][0], version=VERSION)

    assert "require-concurrent-index-creation" in [f.code for f in together[0]]
    assert codes(alone) == codes(together[0])
