"""How long a command waits for a table another session holds: a while, then a sentence, never for ever."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError
from django.db import DatabaseError
from psycopg.errors import LockNotAvailable

from schemaadmin.pg.sessions import swap_lock_timeout

__all__ = ["COMMAND_LOCK_TIMEOUT_MS", "lock_waits_limited"]

# Long enough for a lock held across a short transaction, short enough that a forgotten ACCESS EXCLUSIVE (an ALTER
# left open, a migration stuck) is said instead of a command that never returns and leaves its backend waiting.
COMMAND_LOCK_TIMEOUT_MS = 10_000


@contextmanager
def lock_waits_limited(using: str, *, timeout_ms: int | None = None) -> Iterator[None]:
    """Inside the block, the alias's session waits at most timeout_ms (COMMAND_LOCK_TIMEOUT_MS) for a lock; a wait
    that ends so is a CommandError (exit 1) saying what to do. The session's own lock_timeout is given back after."""
    timeout_ms = COMMAND_LOCK_TIMEOUT_MS if timeout_ms is None else timeout_ms
    kept = swap_lock_timeout(f"{int(timeout_ms)}ms", using=using)
    try:
        yield
    except DatabaseError as exc:
        if isinstance(exc.__cause__, LockNotAvailable):
            raise CommandError(
                f"A table this command reads is locked by another session, still after {timeout_ms / 1000:g} s: "
                "see who holds it with `manage.py activity` (or the Activity page), then try again.",
                returncode=1,
            ) from None
        raise
    finally:
        if kept is not None:
            swap_lock_timeout(kept, using=using)
