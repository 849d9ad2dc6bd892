"""squawk (squawk-cli) on migrations' SQL: findings per migration, cached per SQL text, many migrations per run.

Results are cached in this process, keyed on (migration label, SHA-256 of the SQL, excluded rules, server
version, squawk binary): the SQL of a migration file rarely changes, and a changed file changes the key.
Migrations not in the cache are written to files and read by one squawk run per SQUAWK_BATCH of them (squawk
reports each file's findings): starting squawk once per migration cost 3–7 ms each, seconds for a schema page
of 1,000 pending migrations. When a run of many fails, each of its migrations is run alone, so the failure is
told about the SQL that caused it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import replace
from itertools import batched
from pathlib import Path
from typing import Any

from schemaadmin.conf import app_settings
from schemaadmin.services.findings import Finding, Kind, Severity

__all__ = ["SQUAWK_EXCLUDED", "lint_finding", "squawk_binary", "squawk_findings", "squawk_findings_of"]

SQUAWK_EXCLUDED = ("require-lock-timeout", "require-statement-timeout", "prefer-robust-stmts")
SQUAWK_BATCH = 200  # files per run: a short command line, and a timeout that fits
_LEVELS = {"Error": Severity.CRITICAL, "Warning": Severity.WARNING}
_CACHE_SIZE = 4096  # a few findings each: a long history's pending migrations stay cached between views
_cache: dict[tuple[str, str, str, int, str], tuple[Finding, ...]] = {}
_lock = threading.Lock()
# Without --config squawk reads a .squawk.toml from its working directory or any parent: a run of many works in a
# temporary directory, where anyone who may write to /tmp could leave one that excludes every path.
OWN_CONFIG = Path(__file__).with_name("squawk.toml")

Key = tuple[str, str, str, int, str]


SYNTAX_ERROR = "syntax-error"  # squawk's rule name for text PostgreSQL's parser refuses


def squawk_binary() -> str | None:
    """Return the squawk executable: the setting, else beside this Python (the venv), else on PATH; None if absent."""
    configured = app_settings()["SQUAWK_PATH"]
    if configured:
        return configured if Path(configured).is_file() else None
    beside = Path(sys.executable).parent / "squawk"
    return str(beside) if beside.is_file() else shutil.which("squawk")


def lint_finding(code: str, severity: Severity, label: str, message: str, help: str = "") -> Finding:
    """Return a lint Finding about a whole migration (label: app_label.name) that squawk or our rules raise."""
    return Finding(code, severity, Kind.LINT, label, message, help=help, source="schemaadmin", migration=label)


def squawk_findings(sql: str, *, label: str, version: int) -> tuple[Finding, ...]:
    """Return squawk's findings on one migration's SQL; a missing or failing squawk is a finding too."""
    return squawk_findings_of([(label, sql)], version=version)[0]


def squawk_findings_of(migrations: Sequence[tuple[str, str]], *, version: int) -> list[tuple[Finding, ...]]:
    """Return squawk's findings on each (label, SQL), in order: from the cache, else from a run of many."""
    binary = squawk_binary()
    keys = [_key(label, sql, version, binary) for label, sql in migrations]
    found: dict[int, tuple[Finding, ...]] = {}
    for position, key in enumerate(keys):
        cached = _cache.get(key)
        if cached is not None:
            found[position] = cached
    if binary is None:
        return [
            found[position] if position in found else _unavailable(label)
            for position, (label, _sql) in enumerate(migrations)
        ]
    missing = [position for position in range(len(migrations)) if position not in found]
    for chunk in batched(missing, SQUAWK_BATCH):
        many = _run_many([migrations[position] for position in chunk], binary, version) if len(chunk) > 1 else None
        for offset, position in enumerate(chunk):
            label, sql = migrations[position]
            findings, cacheable = (many[offset], True) if many is not None else _run_one(sql, binary, label, version)
            if cacheable:
                _remember(keys[position], findings)
            found[position] = findings
    return [found[position] for position in range(len(migrations))]


def _key(label: str, sql: str, version: int, binary: str | None) -> Key:
    return (label, hashlib.sha256(sql.encode()).hexdigest(), ",".join(SQUAWK_EXCLUDED), version, binary or "")


def _remember(key: Key, findings: tuple[Finding, ...]) -> None:
    with _lock:  # web threads share the cache
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)), None)
        _cache[key] = findings


def _unavailable(label: str) -> tuple[Finding, ...]:
    message = "squawk is not installed, so only SchemaAdmin's own rules ran on this SQL."
    help = "Install squawk-cli in this environment (pip install squawk-cli) or set SCHEMAADMIN['SQUAWK_PATH']."
    return (lint_finding("squawk_unavailable", Severity.WARNING, label, message, help),)


def _command(binary: str, version: int) -> list[str]:
    return [
        binary,
        "--config",
        str(OWN_CONFIG),
        "--reporter",
        "json",
        f"--exclude={','.join(SQUAWK_EXCLUDED)}",
        f"--pg-version={version // 10000}.{version % 100}",
    ]


def _squawk(command: list[str], *, stdin: str | None = None, cwd: str | None = None) -> list[dict[str, Any]]:
    """Run squawk and return its JSON items (raise ValueError, OSError or TimeoutExpired when it fails)."""
    done = subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=app_settings()["SQUAWK_TIMEOUT_SECONDS"],
        check=False,
    )
    if done.returncode not in (0, 1):
        raise ValueError(done.stderr.strip() or f"exit status {done.returncode}")
    items = json.loads(done.stdout or "[]")
    if not isinstance(items, list):
        raise ValueError("squawk's report is not a list")
    return items


def _run_one(sql: str, binary: str, label: str, version: int) -> tuple[tuple[Finding, ...], bool]:
    """Return squawk's findings on one SQL text, and whether they may be cached (not a failure)."""
    try:
        items = _squawk([*_command(binary, version), "--stdin-filepath", f"{label}.sql"], stdin=sql)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        message = f"squawk failed on this SQL ({exc}), so only SchemaAdmin's own rules ran."
        return (lint_finding("squawk_failed", Severity.WARNING, label, message),), False
    return _first_syntax_error(tuple(_finding(item, label) for item in items)), True


def _run_many(migrations: Sequence[tuple[str, str]], binary: str, version: int) -> list[tuple[Finding, ...]] | None:
    """Return squawk's findings on each SQL text from one run over a file each, or None when that run failed."""
    names = [f"{position}.sql" for position in range(len(migrations))]
    with tempfile.TemporaryDirectory(prefix="schemaadmin-squawk-") as folder:
        for name, (_label, sql) in zip(names, migrations, strict=True):
            Path(folder, name).write_text(sql)
        try:
            items = _squawk([*_command(binary, version), *names], cwd=folder)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return None
    by_file: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for item in items:
        file = Path(str(item.get("file", ""))).name if isinstance(item, dict) else ""
        if file not in by_file:
            return None  # a report this code cannot place: each migration is run alone instead
        by_file[file].append(item)
    labels = [label for label, _sql in migrations]
    return [
        _first_syntax_error(tuple(_finding(item, label) for item in by_file[name]))
        for name, label in zip(names, labels, strict=True)
    ]


def _first_syntax_error(findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """Keep the first of squawk's syntax errors, saying how many follow: the migration stops at it. One column name
    Django writes unescaped ('with"quote') made one critical finding per statement, some ninety."""
    errors = [finding for finding in findings if finding.code == SYNTAX_ERROR]
    if len(errors) < 2:
        return findings
    first = errors[0]
    more = f" ({len(errors) - 1} more syntax errors follow it; the migration stops at this one.)"
    return tuple(
        replace(finding, message=finding.message + more) if finding is first else finding
        for finding in findings
        if finding.code != SYNTAX_ERROR or finding is first
    )


def _finding(item: dict[str, Any], label: str) -> Finding:
    return Finding(
        code=str(item.get("rule_name") or "squawk"),
        severity=_LEVELS.get(str(item.get("level")), Severity.INFO),
        kind=Kind.LINT,
        object=label,
        message=str(item.get("message") or ""),
        help=str(item.get("help") or ""),
        line=item.get("line") if isinstance(item.get("line"), int) else None,
        source="squawk",
        migration=label,
    )
