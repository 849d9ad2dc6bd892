"""One statement's text: what the page shows when the live view cannot be read."""

from __future__ import annotations

import pytest
from django.db import connection

from schemaadmin.services.workload import history

pytestmark = pytest.mark.django_db


def test_a_statement_text_the_view_refuses_leaves_the_transaction_usable(monkeypatch):
    # As on a database where pg_stat_statements is preloaded but not created: reading the view fails. Inside a
    # transaction (a test's, ATOMIC_REQUESTS) the failure aborted it, and the next query of the request was a 500.
    def refused(queryids, *, using="default"):
        with connection.cursor() as cur:
            cur.execute("SELECT * FROM pg_stat_statements_missing_view")
        return {}

    monkeypatch.setattr(history, "statement_texts", refused)
    assert history.statement_text(12345) == ""
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
