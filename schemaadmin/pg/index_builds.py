"""Index builds on a connection of their own: settings, lock retries for the swap, leftovers, cancelling a build.

CONCURRENTLY cannot run inside a transaction block, and a build must be cancellable by pid without touching
Django's connection, so the rebuild job opens an autocommit psycopg connection with open_build_connection() and
runs pg/ddl.py statements on it. Catalog questions (leftovers, memory settings) go through Django's cursor.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors

from schemaadmin.pg.connection import fetch_all, fetch_one, own_connection
from schemaadmin.pg.ddl import Statement, setting, setting_reset
from schemaadmin.pg.identifiers import NAME_BYTES

__all__ = [
    "REINDEX_LEFTOVER",
    "LockRetriesExhausted",
    "build_settings",
    "build_settings_in_use",
    "cancel_build",
    "is_reindex_old_index",
    "leftover_indexes",
    "open_build_connection",
    "partition_leftover_indexes",
    "run_under_lock_timeout",
    "run_with_lock_retries",
    "setting_reset_bytes",
    "temporary_index_name",
]

TEMPORARY_SUFFIX = "_sa_new"
# REINDEX CONCURRENTLY names its new copy *_ccnew and the old one *_ccold (a digit added when taken); a failed run
# leaves them behind. The SQL below matches by the same pattern, passed as a parameter; its group is which copy.
REINDEX_LEFTOVER = re.compile(r"_cc(new|old)[0-9]*$")


class LockRetriesExhausted(RuntimeError):
    """A swap statement could not get its lock within lock_timeout, however often it was retried."""


def open_build_connection(
    *, using: str = "default", application_name: str = "", on_notice: Callable[[str], None] | None = None
) -> psycopg.Connection:
    """Open an autocommit connection like the alias's, named for pg_stat_activity, passing NOTICEs to on_notice."""
    named: dict[str, Any] = {"application_name": application_name[:NAME_BYTES]} if application_name else {}
    conn = own_connection(using, **named)
    if on_notice is not None:
        conn.add_notice_handler(lambda diag: on_notice(_notice_text(diag)))
    return conn


def _notice_text(diag: psycopg.errors.Diagnostic) -> str:
    text = f"{diag.severity_nonlocalized or diag.severity or 'NOTICE'}: {diag.message_primary or ''}"
    if diag.message_detail:
        text += f" ({diag.message_detail})"
    return text


def build_settings(
    *,
    maintenance_work_mem_bytes: int | None = None,
    max_parallel_maintenance_workers: int | None = None,
    client_connection_check_ms: int = 1000,
) -> list[Statement]:
    """Return the statements that set a build session's settings (None: leave the server's).

    client_connection_check_interval makes the backend notice a dead worker and stop building, rather than
    finishing an index for a client that is gone (PostgreSQL 14+).
    """
    values = {
        "maintenance_work_mem": None
        if maintenance_work_mem_bytes is None
        else f"{max(maintenance_work_mem_bytes // 1024, 1024)}kB",
        "max_parallel_maintenance_workers": None
        if max_parallel_maintenance_workers is None
        else str(max_parallel_maintenance_workers),
        "client_connection_check_interval": f"{client_connection_check_ms}ms",
    }
    return [setting(name, value) for name, value in values.items() if value is not None]


def build_settings_in_use(conn: psycopg.Connection) -> dict[str, str]:
    """Return the build settings of conn's session as the server shows them."""
    row = conn.execute(
        """
        SELECT current_setting('maintenance_work_mem') AS maintenance_work_mem,
               current_setting('max_parallel_maintenance_workers') AS max_parallel_maintenance_workers
        """
    ).fetchone()
    assert row is not None
    return {"maintenance_work_mem": row[0], "max_parallel_maintenance_workers": row[1]}


def setting_reset_bytes(name: str, *, using: str = "default") -> int:
    """Return the size a memory setting (e.g. maintenance_work_mem) has for a new session, in bytes."""
    row = fetch_one(
        """
        SELECT pg_size_bytes(s.reset_val || COALESCE(s.unit, '')) AS size_bytes
        FROM pg_settings AS s
        WHERE s.name = %(name)s
        """,
        {"name": name},
        using=using,
    )
    if row is None:
        raise ValueError(f"The server has no setting {name!r}.")
    return int(row[0])


def temporary_index_name(name: str) -> str:
    """Return the name a replacement of index name is built under before it is swapped in: name_sa_new, or, when
    that is too long, the name cut and a hash of the whole name, so two long names sharing their first 56 bytes
    never share a replacement (one rebuild's clean-up dropped the other's only valid copy)."""
    if len(name.encode()) + len(TEMPORARY_SUFFIX) <= NAME_BYTES:
        return name + TEMPORARY_SUFFIX
    digest = "_" + hashlib.sha256(name.encode()).hexdigest()[:8]
    base = name.encode()[: NAME_BYTES - len(TEMPORARY_SUFFIX) - len(digest)].decode(errors="ignore")
    return base + digest + TEMPORARY_SUFFIX


def run_with_lock_retries(
    conn: psycopg.Connection,
    statement: Statement,
    *,
    attempts: int,
    pause: float = 0.5,
    on_retry: Callable[[int, str], None] | None = None,
    lock_timeout_ms: int | None = None,
) -> int:
    """Run statement, trying again when its lock_timeout (or a stray cancel) stops it; return the attempts taken.

    The session's lock_timeout is set beforehand (lock_timeout_ms only says it in the error).
    """
    for attempt in range(1, attempts + 1):
        try:
            statement.run(conn)
            return attempt
        except (errors.LockNotAvailable, errors.QueryCanceled) as exc:
            if attempt == attempts:
                each = f" of {lock_timeout_ms} ms" if lock_timeout_ms else ""
                raise LockRetriesExhausted(
                    f"Gave up after {attempts} attempts{each}: {exc.diag.message_primary}"
                ) from exc
            if on_retry is not None:
                on_retry(attempt, exc.diag.message_primary or type(exc).__name__)
            time.sleep(pause * attempt)
    raise AssertionError("unreachable")


def run_under_lock_timeout(
    conn: psycopg.Connection,
    statement: Statement,
    *,
    lock_timeout_ms: int = 2_000,
    attempts: int = 30,
    pause: float = 0.5,
    on_retry: Callable[[int, str], None] | None = None,
) -> int:
    """Run statement (a swap's DROP or RENAME) under a short lock_timeout, retrying when the lock (or a stray
    cancel) stops it, so it never queues writes behind it for long; return the attempts it took."""
    setting("lock_timeout", f"{lock_timeout_ms}ms").run(conn)
    try:
        return run_with_lock_retries(
            conn, statement, attempts=attempts, pause=pause, on_retry=on_retry, lock_timeout_ms=lock_timeout_ms
        )
    finally:
        setting_reset("lock_timeout").run(conn)


# Index ic is REINDEX CONCURRENTLY's leftover of the index named {name}: that name + a REINDEX_LEFTOVER suffix
# (passed as %(leftover)s), or, where the name and the suffix did not fit in 63 bytes together, that name's start + the
# suffix: PostgreSQL cuts the name at a character's edge, so a cut leftover's name is 60 bytes at least. Any other one
# with the name's start belongs to another index: t_v_ccnew is t_v's, never t_v_long's.
_REINDEX_LEFTOVER_OF = """ic.relname ~ %(leftover)s
                  AND (
                      regexp_replace(ic.relname, %(leftover)s, '') = {name}
                      OR (
                          octet_length(ic.relname) >= 60
                          AND octet_length({name}) + octet_length(ic.relname)
                              - octet_length(regexp_replace(ic.relname, %(leftover)s, '')) > 63
                          AND starts_with({name}, regexp_replace(ic.relname, %(leftover)s, ''))
                      )
                  )"""

# A build of this index or a REINDEX CONCURRENTLY of its table under way: what is INVALID there is not left over.
_NOT_BEING_BUILT = """
          NOT EXISTS (
              SELECT 1
              FROM pg_stat_progress_create_index AS p
              WHERE p.index_relid = i.indexrelid
                 OR (p.relid = i.indrelid AND p.command = 'REINDEX CONCURRENTLY')
          )"""


def is_reindex_old_index(schema: str, name: str, oid: int, *, using: str = "default") -> bool:
    """Return whether relation oid is now REINDEX CONCURRENTLY's _ccold leftover of index schema.name: the name its
    swap gives the old index, which its last steps then mark dead and drop."""
    row = fetch_one(
        f"""
        SELECT EXISTS (
            SELECT 1
            FROM pg_class AS ic
            JOIN pg_namespace AS n ON n.oid = ic.relnamespace
            WHERE ic.oid = %(oid)s
              AND n.nspname = %(schema)s
              AND substring(ic.relname FROM %(leftover)s) = 'old'
              AND ({_REINDEX_LEFTOVER_OF.format(name="%(name)s")})
        )
        """,  # noqa: S608 -- constants, no input
        {"schema": schema, "name": name, "oid": oid, "leftover": REINDEX_LEFTOVER.pattern},
        using=using,
    )
    return bool(row and row[0])


def leftover_indexes(schema: str, table: str, name: str, *, using: str = "default") -> list[str]:
    """Return INVALID indexes on schema.table left by a failed rebuild of index name, not being built now.

    That is REINDEX CONCURRENTLY's name_ccnew / name_ccold (with a digit when taken, the name cut to fit) and a
    replacement under temporary_index_name(name).
    """
    rows = fetch_all(
        f"""
        SELECT ic.relname AS name
        FROM pg_index AS i
        JOIN pg_class AS ic ON ic.oid = i.indexrelid
        JOIN pg_class AS t ON t.oid = i.indrelid
        JOIN pg_namespace AS n ON n.oid = t.relnamespace
        WHERE n.nspname = %(schema)s
          AND t.relname = %(table)s
          AND NOT i.indisvalid
          AND (
              ic.relname = %(temporary)s
              OR ({_REINDEX_LEFTOVER_OF.format(name="%(name)s")})
          )
          AND {_NOT_BEING_BUILT}
        ORDER BY ic.relname
        """,  # noqa: S608 -- constants, no input
        {
            "schema": schema,
            "table": table,
            "name": name,
            "temporary": temporary_index_name(name),
            "leftover": REINDEX_LEFTOVER.pattern,
        },
        using=using,
    )
    return [row[0] for row in rows]


def partition_leftover_indexes(index_oid: int, *, using: str = "default") -> list[tuple[str, str]]:
    """Return (schema, name) of the INVALID indexes a failed REINDEX CONCURRENTLY of partitioned index index_oid
    left on its partitions: it rebuilds each partition's index in turn, so each leaves its own name_ccnew /
    name_ccold beside it, on the partition's table, attached to nothing."""
    rows = fetch_all(
        f"""
        WITH attached AS (
            SELECT c.relname AS name, i.indrelid AS table_oid
            FROM pg_partition_tree(%(oid)s::oid::regclass) AS tree
            JOIN pg_class AS c ON c.oid = tree.relid
            JOIN pg_index AS i ON i.indexrelid = c.oid
            WHERE tree.isleaf
        )
        SELECT n.nspname AS schema, ic.relname AS name
        FROM attached AS a
        JOIN pg_index AS i ON i.indrelid = a.table_oid AND NOT i.indisvalid
        JOIN pg_class AS ic ON ic.oid = i.indexrelid
        JOIN pg_namespace AS n ON n.oid = ic.relnamespace
        WHERE {_REINDEX_LEFTOVER_OF.format(name="a.name")}
          AND {_NOT_BEING_BUILT}
        ORDER BY 1, 2
        """,  # noqa: S608 -- constants, no input
        {"oid": index_oid, "leftover": REINDEX_LEFTOVER.pattern},
        using=using,
    )
    return [(row[0], row[1]) for row in rows]


def cancel_build(pid: int, *, using: str = "default") -> bool:
    """Cancel backend pid's statement if it is building an index, or waiting for a lock before it can start one (no
    progress row exists until it holds its table); return whether it was. The caller never asks during a swap."""
    row = fetch_one(
        """
        SELECT bool_or(pg_cancel_backend(a.pid)) AS cancelled
        FROM pg_stat_activity AS a
        WHERE a.pid = %(pid)s
          AND (
              a.wait_event_type = 'Lock'
              OR EXISTS (SELECT 1 FROM pg_stat_progress_create_index AS p WHERE p.pid = a.pid)
          )
        """,
        {"pid": pid},
        using=using,
    )
    return bool(row and row[0])
