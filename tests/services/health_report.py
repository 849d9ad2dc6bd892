"""The health report of a planted schema with thresholds loose enough for a few thousand rows."""

from __future__ import annotations

from django.db import connection

from schemaadmin.services.index_health import Thresholds, health_report

LOOSE = {
    "unused_index_min_bytes": 16 * 1024,
    "unused_index_min_stats_age_days": 0,
    "bloat_min_bytes": 100 * 1024,
    "sequential_scan_min_rows": 1000,
    "sequential_scan_min_scans": 10,
    "table_bloat_min_bytes": 100 * 1024,
}


def report(plant, **overrides):
    """Return the health report with loose thresholds, and the set of (code, object) found in plant's schema."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
    result = health_report(thresholds=Thresholds.from_settings(**{**LOOSE, **overrides}))
    return result, {(f.code, f.object) for f in result.findings if f.schema == plant.schema}


def fixes(result, code, schema):
    """Return {object: fix} of the findings of code in schema."""
    return {f.object: f.fix for f in result.findings if f.code == code and f.schema == schema}


def _statements(fix):
    for statement in fix.split(";\n"):
        lines = [line for line in statement.splitlines() if not line.startswith("--")]
        if "".join(lines).strip():
            yield "\n".join(lines)


def run_fix(plant, fix):
    """Run a fix's statements one by one on the autocommit planter (CONCURRENTLY cannot share a transaction)."""
    for statement in _statements(fix):
        plant.sql(statement)


def run_fix_in_test_transaction(fix):
    """Run a fix's statements in the test's transaction, which holds the locks reading the report took."""
    with connection.cursor() as cur:
        for statement in _statements(fix):
            cur.execute(statement)
