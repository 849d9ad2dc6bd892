"""The lint fixture migrations (tests/schema_fixtures/lint_migrations): loaded as the fixture app's, never applied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test.utils import override_settings

LINT_MIGRATIONS = {"schema_fixtures": "tests.schema_fixtures.lint_migrations"}


@pytest.fixture
def lint_fixture_migrations(transactional_db) -> Iterator[None]:
    """Make the lint fixtures the schema_fixtures app's migrations: 0004 onwards are then pending.

    transactional_db: Django writes a non-atomic migration's SQL only outside a transaction.
    """
    with override_settings(MIGRATION_MODULES=LINT_MIGRATIONS):
        yield
