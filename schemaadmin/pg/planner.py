"""Steer the planner for one transaction where its statistics cannot know better, and limit a block's statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction

from schemaadmin.pg.connection import cursor

__all__ = ["bitmap_scans_only", "index_walks_only", "statement_time_limit"]


@contextmanager
def bitmap_scans_only(*, using: str = "default") -> Iterator[None]:
    """Within the block, read tables through bitmap scans (e.g. a GIN index) instead of walking another index.

    For a search term too rare for the statistics to know, the planner guesses thousands of hits and walks
    messages newest-first, reading millions of rows for a handful of matches; this makes it collect the hits
    from the GIN index and sort them instead.
    """
    with _block_settings(using, enable_indexscan="off", enable_seqscan="off"):
        yield


@contextmanager
def statement_time_limit(milliseconds: int | None, *, using: str = "default") -> Iterator[None]:
    """Within the block, stop each statement after milliseconds (QueryCanceled, as the session's own timeout does);
    None: no limit of the block's own."""
    if milliseconds is None:
        yield
        return
    with _block_settings(using, statement_timeout=f"{int(milliseconds)}ms"):
        yield


@contextmanager
def index_walks_only(*, using: str = "default") -> Iterator[None]:
    """Within the block, read tables by walking an index in its order, never through a bitmap or in full.

    For a walk bounded by a key range the caller knows to be short (the newest few thousand messages), which the
    planner, guessing few hits for a phrase of common words, would read through the GIN index's bitmap of every hit
    instead.
    """
    with _block_settings(using, enable_bitmapscan="off", enable_seqscan="off"):
        yield


@contextmanager
def _block_settings(using: str, **settings: str) -> Iterator[None]:
    """Set settings (the planner's, statement_timeout) for the block, as SET LOCAL does: they end with the block's
    transaction, and inside a caller's transaction they are put back as they were when the block ends."""
    nested = connections[using].in_atomic_block
    with transaction.atomic(using=using), cursor(using) as cur:
        # One round trip reads the values in force and sets the new ones (is_local=true: until the transaction ends).
        reads = ", ".join(["current_setting(%s)"] * len(settings))
        cur.execute(f"SELECT {reads}, {_set_configs(len(settings))}", [*settings, *_pairs(settings)])
        before = dict(zip(settings, cur.fetchone(), strict=False))
        yield
        # Not after an error: rolling back to the block's savepoint puts them back, and the transaction takes no
        # statement before that.
        if nested:
            cur.execute(f"SELECT {_set_configs(len(before))}", _pairs(before))


def _set_configs(count: int) -> str:
    return ", ".join(["set_config(%s, %s, true)"] * count)


def _pairs(settings: dict[str, str]) -> list[str]:
    return [part for name, value in settings.items() for part in (name, value)]
