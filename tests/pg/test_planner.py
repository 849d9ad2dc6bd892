"""Planner steering and statement time limits last as long as their block, also inside a caller's transaction."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection
from psycopg.errors import QueryCanceled

from schemaadmin.pg.planner import bitmap_scans_only, index_walks_only, statement_time_limit

SETTINGS = ("enable_bitmapscan", "enable_indexscan", "enable_seqscan")


def _settings() -> dict[str, str]:
    with connection.cursor() as cur:
        cur.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(SETTINGS)), SETTINGS)
        return dict(zip(SETTINGS, cur.fetchone(), strict=True))


def test_each_block_steers_the_planner_and_then_puts_it_back(db):
    # The test runs in a transaction, as a search inside a caller's transaction would: SET LOCAL alone would keep
    # the first block's settings until it ends, and a walk after a bitmap block could use neither.
    assert connection.in_atomic_block
    before = _settings()
    assert before == dict.fromkeys(SETTINGS, "on")
    with bitmap_scans_only():
        assert _settings() == {"enable_bitmapscan": "on", "enable_indexscan": "off", "enable_seqscan": "off"}
    assert _settings() == before
    with index_walks_only():
        assert _settings() == {"enable_bitmapscan": "off", "enable_indexscan": "on", "enable_seqscan": "off"}
        with bitmap_scans_only():
            assert _settings() == {"enable_bitmapscan": "off", "enable_indexscan": "off", "enable_seqscan": "off"}
        assert _settings() == {"enable_bitmapscan": "off", "enable_indexscan": "on", "enable_seqscan": "off"}
    assert _settings() == before


def test_a_time_limit_stops_the_block_s_statements_and_then_ends(db):
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('statement_timeout')")
        before = cur.fetchone()[0]
    with pytest.raises(OperationalError) as stopped, statement_time_limit(20):
        with connection.cursor() as cur:
            cur.execute("SELECT pg_sleep(5)")
    assert isinstance(stopped.value.__cause__, QueryCanceled)
    # The transaction goes on, under the caller's timeout; no limit at all (None) changes nothing.
    with statement_time_limit(None), connection.cursor() as cur:
        cur.execute("SELECT current_setting('statement_timeout'), pg_sleep(0.05)")
        assert cur.fetchone()[0] == before
