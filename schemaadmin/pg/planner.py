"""Steer the planner for one transaction where its statistics cannot know better."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from schemaadmin.pg.connection import cursor

__all__ = ["bitmap_scans_only"]


@contextmanager
def bitmap_scans_only(*, using: str = "default") -> Iterator[None]:
    """Within the block, read tables through bitmap scans (e.g. a GIN index) instead of walking another index.

    For a search term too rare for the statistics to know, the planner guesses thousands of hits and walks
    messages newest-first, reading millions of rows for a handful of matches; this makes it collect the hits
    from the GIN index and sort them instead. SET LOCAL: the settings end with the transaction.
    """
    with transaction.atomic(using=using), cursor(using) as cur:
        # One round trip for both settings; is_local=true: they end with the transaction, as SET LOCAL does.
        cur.execute("SELECT set_config('enable_indexscan', 'off', true), set_config('enable_seqscan', 'off', true)")
        yield
