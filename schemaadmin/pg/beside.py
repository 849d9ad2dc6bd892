"""A second connection per process and database, for a catalog read that runs beside the caller's own reading.

At 30,000 indexes the tables' sizes and the indexes' sizes are each a third of a second of stat() calls in the
server; read on two connections they take the time of the longer one, on a machine with a core to spare. The side
connection lives in one thread of its own and is kept as Django keeps a request's (CONN_MAX_AGE, health checks):
a new connection starts with an empty relation cache, and filling it for 10,000 tables costs more than the read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core.signals import request_finished
from django.db import connections

from schemaadmin.pg.connection import validated_alias

__all__ = ["close_side_connections", "read_beside"]

# One thread: its connections (one per alias, as Django keeps them per thread) are the side connections.
_side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="schemaadmin-beside")
_used = threading.Event()  # set at the first read: before it there is no thread and no connection to close


def read_beside[Result](read: Callable[[], Result], *, using: str) -> Callable[[], Result]:
    """Start read() on the side connection to using; return a function that waits for its result (or raises).

    read() runs under the caller's execute wrappers (a web request's statement_timeout, a benchmark's query
    count); it must not call read_beside() itself (the one thread would wait for itself). Inside a transaction the
    caller's connection may hold changes no other session sees: read() then runs at once, on the caller's
    connection, and the function returns what it returned.
    """
    caller = connections[validated_alias(using)]
    if caller.in_atomic_block or (caller.connection is not None and not caller.get_autocommit()):
        result = read()
        return lambda: result
    _used.set()
    return _side.submit(_on_side_connection, read, using, list(caller.execute_wrappers)).result


def _on_side_connection[Result](read: Callable[[], Result], using: str, wrappers: list[Any]) -> Result:
    side = connections[using]
    side.close_if_unusable_or_obsolete()  # as at a request's start: too old, or broken by an error
    side.execute_wrappers = wrappers
    try:
        return read()
    finally:
        side.execute_wrappers = []
        side.close_if_unusable_or_obsolete()


def close_side_connections() -> None:
    """Close the side thread's connections (before a test database is dropped, which they would hold open)."""
    _side.submit(connections.close_all).result()


def _close_obsolete(**_: Any) -> None:
    """At the end of each request, as Django does with the request's own: close a side connection past
    CONN_MAX_AGE or broken, so an idle one does not hold its relation cache (~250 MB at 30,000 indexes) for long."""
    if _used.is_set():
        try:
            _side.submit(_close_obsolete_here)
        except RuntimeError:  # the interpreter is shutting down: its connections close with it
            pass


def _close_obsolete_here() -> None:
    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()


request_finished.connect(_close_obsolete, dispatch_uid="schemaadmin.pg.beside.close_obsolete")
