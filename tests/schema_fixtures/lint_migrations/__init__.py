"""Lint fixtures: the schema_fixtures app's migrations, then one dangerous or safe change per file, never applied.

Tests point MIGRATION_MODULES["schema_fixtures"] here (tests/services/schema/lint_fixtures.py), so 0004 onwards
are pending migrations of the Widget table whose lint and `schema_report` they check; nothing here ever runs.
Each rule has a dangerous migration and a safe look-alike that must stay silent.
"""
