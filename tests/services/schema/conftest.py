"""Each schema test writes its migrations' SQL itself: nothing kept by an earlier test in this process is served."""

from __future__ import annotations

import pytest

from schemaadmin.services.schema.sql import forget_written_sql


@pytest.fixture(autouse=True)
def no_written_sql_kept():
    forget_written_sql()
    yield
    forget_written_sql()
