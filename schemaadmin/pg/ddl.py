"""The DDL an index rebuild runs, on a connection of its own, outside any transaction.

CONCURRENTLY cannot run inside a transaction block, and the build must be cancellable by pid without touching
Django's connection, so the rebuild job opens an autocommit psycopg connection with open_build_connection() and
passes it to the statements here. Each statement is a Statement: it runs on that connection and renders as the
very text it sends, so the review page shows what the job runs. Catalog questions (leftovers, an index's state)
go through Django's cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors, sql

from schemaadmin.pg.connection import fetch_all, fetch_one, own_connection
from schemaadmin.pg.indexes import IndexInfo, index

__all__ = [
    "IndexState",
    "LockRetriesExhausted",
    "Statement",
    "build_settings",
    "build_settings_in_use",
    "cancel_build",
    "create_index_concurrently",
    "drop_index_concurrently",
    "drop_index_statement",
    "index_state",
    "leftover_indexes",
    "open_build_connection",
    "reindex_concurrently",
    "reindex_statement",
    "rename_index",
    "rename_index_statement",
    "rendered",
    "replacement_definition",
    "run_with_lock_retries",
    "session_pids",
    "set_build_settings",
    "setting",
    "setting_reset",
    "setting_reset_bytes",
    "temporary_index_name",
    "terminate_sessions",
]

NAME_BYTES = 63
TEMPORARY_SUFFIX = "_sa_new"


class LockRetriesExhausted(RuntimeError):
    """A swap statement could not get its lock within lock_timeout, however often it was retried."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a rebuild: run() sends it on the build connection, render() is the text it sends.

    Both bind values on the client (psycopg's ClientCursor), so the server receives exactly the rendered text:
    names quoted as identifiers and values as literals by psycopg, never by hand.
    """

    query: sql.SQL | sql.Composed
    params: tuple[Any, ...] | None = None
    # A swap statement: it waits for its lock at most lock_timeout and is tried again (run_with_lock_retries).
    retried: bool = False

    def run(self, conn: psycopg.Connection) -> None:
        """Send the statement on conn."""
        with psycopg.ClientCursor(conn) as cur:
            cur.execute(self.query, self.params)

    def render(self, conn: psycopg.Connection) -> str:
        """Return the text run() sends on conn."""
        with psycopg.ClientCursor(conn) as cur:
            return cur.mogrify(self.query, self.params)


def rendered(statements: Sequence[Statement], *, using: str = "default") -> list[str]:
    """Return the text each statement sends, rendered on the alias's own connection (nothing is sent)."""
    from django.db import connections

    wrapper = connections[using]
    wrapper.ensure_connection()
    return [statement.render(wrapper.connection) for statement in statements]


def setting(name: str, value: str) -> Statement:
    """Return the statement that sets a setting for the rest of the session."""
    return Statement(sql.SQL("SELECT set_config(%s, %s, false)"), (name, value))


def setting_reset(name: str) -> Statement:
    """Return the statement that puts a setting back to the session's default."""
    return Statement(sql.SQL("RESET {name}").format(name=sql.Identifier(name)))


def reindex_statement(schema: str, name: str) -> Statement:
    """Return REINDEX INDEX CONCURRENTLY of index schema.name."""
    return Statement(sql.SQL("REINDEX INDEX CONCURRENTLY {index}").format(index=sql.Identifier(schema, name)))


def drop_index_statement(schema: str, name: str) -> Statement:
    """Return DROP INDEX CONCURRENTLY of index schema.name (if it exists), retried on lock timeouts."""
    statement = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {index}").format(index=sql.Identifier(schema, name))
    return Statement(statement, retried=True)


def rename_index_statement(schema: str, name: str, new_name: str) -> Statement:
    """Return the renaming of index schema.name to new_name, retried on lock timeouts."""
    statement = sql.SQL("ALTER INDEX {index} RENAME TO {new_name}").format(
        index=sql.Identifier(schema, name), new_name=sql.Identifier(new_name)
    )
    return Statement(statement, retried=True)


# An index's state (whether it exists, its table, method, validity and size) is what indexes.index() reads.
IndexState = IndexInfo


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


def set_build_settings(
    conn: psycopg.Connection,
    *,
    maintenance_work_mem_bytes: int | None = None,
    max_parallel_maintenance_workers: int | None = None,
    client_connection_check_ms: int = 1000,
) -> dict[str, str]:
    """Set this session's build settings (None: leave the server's) and return them as the server shows them."""
    for statement in build_settings(
        maintenance_work_mem_bytes=maintenance_work_mem_bytes,
        max_parallel_maintenance_workers=max_parallel_maintenance_workers,
        client_connection_check_ms=client_connection_check_ms,
    ):
        statement.run(conn)
    return build_settings_in_use(conn)


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


def reindex_concurrently(conn: psycopg.Connection, schema: str, name: str) -> None:
    """Rebuild index schema.name with REINDEX INDEX CONCURRENTLY."""
    reindex_statement(schema, name).run(conn)


def create_index_concurrently(conn: psycopg.Connection, statement: sql.Composed) -> None:
    """Run a CREATE INDEX CONCURRENTLY statement made by replacement_definition()."""
    Statement(statement).run(conn)


def temporary_index_name(name: str) -> str:
    """Return the name a replacement of index name is built under before it is swapped in."""
    base = name.encode()[: NAME_BYTES - len(TEMPORARY_SUFFIX)].decode(errors="ignore")
    return base + TEMPORARY_SUFFIX


def replacement_definition(
    definition: str,
    *,
    schema: str,
    table: str,
    new_name: str,
    method: str,
    options: dict[str, int | str],
    opclasses: Sequence[str] = (),
) -> sql.Composed:
    """Return CREATE INDEX CONCURRENTLY new_name with definition's keys, INCLUDE, predicate, and new method and WITH.

    definition is pg_get_indexdef()'s text. Its key list, INCLUDE list and predicate are kept as the server
    wrote them (expressions, casts such as ::halfvec(3072), operator classes, collations, ordering); the head is
    rebuilt from identifiers and the WITH clause from options. Parentheses are matched outside quoted text.
    The server leaves a key's default operator class out; opclasses (one per key) are written out where missing,
    because the default of the old method may not be one of the new method (HNSW has none for vector).
    """
    keys_start = _find_unquoted(definition, "(", 0)
    keys_end = _matching_paren(definition, keys_start)
    keys: sql.Composable = sql.SQL(definition[keys_start : keys_end + 1])  # type: ignore[arg-type]
    if opclasses:
        keys = _keys_with_opclasses(definition[keys_start + 1 : keys_end], opclasses)
    tail = definition[keys_end + 1 :]
    include = ""
    if tail.startswith(" INCLUDE ("):
        end = _matching_paren(tail, len(" INCLUDE "))
        include, tail = tail[: end + 1], tail[end + 1 :]
    if tail.startswith(" WITH ("):
        tail = tail[_matching_paren(tail, len(" WITH ")) + 1 :]
    unique = definition.startswith("CREATE UNIQUE INDEX ")
    with_clause: sql.Composable = sql.SQL("")
    if options:
        with_clause = sql.SQL(" WITH ({})").format(
            sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(key), sql.Literal(value)) for key, value in options.items()
            )
        )
    # keys, include and tail are the server's own rendering of this index, never user input.
    return sql.SQL(
        "CREATE {unique}INDEX CONCURRENTLY {name} ON {table} USING {method} {keys}{include}{with_}{tail}"
    ).format(
        unique=sql.SQL("UNIQUE " if unique else ""),
        name=sql.Identifier(new_name),
        table=sql.Identifier(schema, table),
        method=sql.Identifier(method),
        keys=keys,
        include=sql.SQL(include),  # type: ignore[arg-type]
        with_=with_clause,
        tail=sql.SQL(tail),  # type: ignore[arg-type]
    )


def _keys_with_opclasses(keys: str, opclasses: Sequence[str]) -> sql.Composed:
    """Return (key, key, ...) with each key's operator class written after it unless it is there already."""
    segments = _top_level_split(keys)
    if len(segments) != len(opclasses):
        raise ValueError("The index definition's keys do not match its operator classes.")
    parts = []
    for segment, opclass in zip(segments, opclasses, strict=True):
        part: sql.Composable = sql.SQL(segment.strip())  # type: ignore[arg-type]
        if opclass and opclass not in segment.split():
            part = sql.SQL("{} {}").format(part, sql.Identifier(opclass))
        parts.append(part)
    return sql.SQL("({})").format(sql.SQL(", ").join(parts))


def _top_level_split(text: str) -> list[str]:
    """Split text on commas outside parentheses and quotes."""
    segments, depth, quote, start = [], 0, "", 0
    for position, current in enumerate(text):
        if quote:
            if current == quote:
                quote = ""
        elif current in "'\"":
            quote = current
        elif current == "(":
            depth += 1
        elif current == ")":
            depth -= 1
        elif current == "," and depth == 0:
            segments.append(text[start:position])
            start = position + 1
    segments.append(text[start:])
    return segments


def _find_unquoted(text: str, char: str, start: int) -> int:
    quote = ""
    for position in range(start, len(text)):
        current = text[position]
        if quote:
            if current == quote:
                quote = ""  # a doubled quote closes and reopens: same outcome
        elif current in "'\"":
            quote = current
        elif current == char:
            return position
    raise ValueError(f"Cannot find {char!r} in the index definition.")


def _matching_paren(text: str, opening: int) -> int:
    if text[opening] != "(":
        raise ValueError("The index definition does not have the expected shape.")
    depth = 0
    quote = ""
    for position in range(opening, len(text)):
        current = text[position]
        if quote:
            if current == quote:
                quote = ""
        elif current in "'\"":
            quote = current
        elif current == "(":
            depth += 1
        elif current == ")":
            depth -= 1
            if depth == 0:
                return position
    raise ValueError("Unbalanced parentheses in the index definition.")


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


def _with_lock_retries(
    conn: psycopg.Connection,
    statement: Statement,
    *,
    lock_timeout_ms: int,
    attempts: int,
    pause: float,
    on_retry: Callable[[int, str], None] | None,
) -> int:
    """Run statement under a short lock_timeout, retrying when the lock (or a stray cancel) stops it."""
    setting("lock_timeout", f"{lock_timeout_ms}ms").run(conn)
    try:
        return run_with_lock_retries(
            conn, statement, attempts=attempts, pause=pause, on_retry=on_retry, lock_timeout_ms=lock_timeout_ms
        )
    finally:
        setting_reset("lock_timeout").run(conn)


def drop_index_concurrently(
    conn: psycopg.Connection,
    schema: str,
    name: str,
    *,
    lock_timeout_ms: int = 2_000,
    attempts: int = 30,
    pause: float = 0.5,
    on_retry: Callable[[int, str], None] | None = None,
) -> int:
    """Drop index schema.name (if it exists) concurrently; return the attempts it took."""
    return _with_lock_retries(
        conn,
        drop_index_statement(schema, name),
        lock_timeout_ms=lock_timeout_ms,
        attempts=attempts,
        pause=pause,
        on_retry=on_retry,
    )


def rename_index(
    conn: psycopg.Connection,
    schema: str,
    name: str,
    new_name: str,
    *,
    lock_timeout_ms: int = 2_000,
    attempts: int = 30,
    pause: float = 0.5,
    on_retry: Callable[[int, str], None] | None = None,
) -> int:
    """Rename index schema.name to new_name; return the attempts it took."""
    return _with_lock_retries(
        conn,
        rename_index_statement(schema, name, new_name),
        lock_timeout_ms=lock_timeout_ms,
        attempts=attempts,
        pause=pause,
        on_retry=on_retry,
    )


def index_state(schema: str, name: str, *, using: str = "default") -> IndexState | None:
    """Return whether index schema.name exists, its table, method, validity and size; None if it does not."""
    return index(schema, name, using=using)


def leftover_indexes(schema: str, table: str, name: str, *, using: str = "default") -> list[str]:
    """Return INVALID indexes on schema.table left by a failed rebuild of index name, not being built now.

    That is REINDEX CONCURRENTLY's name_ccnew / name_ccold (with a digit when taken, the name cut to fit) and a
    replacement under temporary_index_name(name).
    """
    rows = fetch_all(
        r"""
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
              OR (
                  ic.relname ~ '_cc(new|old)[0-9]*$'
                  AND starts_with(%(name)s, regexp_replace(ic.relname, '_cc(new|old)[0-9]*$', ''))
              )
          )
          AND NOT EXISTS (
              SELECT 1
              FROM pg_stat_progress_create_index AS p
              WHERE p.index_relid = i.indexrelid
                 OR (p.relid = i.indrelid AND p.command = 'REINDEX CONCURRENTLY')
          )
        ORDER BY ic.relname
        """,
        {"schema": schema, "table": table, "name": name, "temporary": temporary_index_name(name)},
        using=using,
    )
    return [row[0] for row in rows]


def cancel_build(pid: int, *, using: str = "default") -> bool:
    """Cancel backend pid's statement if it is building an index (never a swap); return whether it was."""
    row = fetch_one(
        """
        SELECT bool_or(pg_cancel_backend(p.pid)) AS cancelled
        FROM pg_stat_progress_create_index AS p
        WHERE p.pid = %(pid)s
        """,
        {"pid": pid},
        using=using,
    )
    return bool(row and row[0])


def session_pids(application_name: str, *, using: str = "default") -> list[int]:
    """Return the pids of the server sessions that connected under application_name."""
    rows = fetch_all(
        """
        SELECT a.pid AS pid
        FROM pg_stat_activity AS a
        WHERE a.application_name = %(name)s
          AND a.pid <> pg_backend_pid()
        """,
        {"name": application_name[:NAME_BYTES]},
        using=using,
    )
    return [row[0] for row in rows]


def terminate_sessions(application_name: str, *, using: str = "default") -> list[int]:
    """End the server sessions that connected under application_name (a dead worker's build); return their pids."""
    rows = fetch_all(
        """
        -- Filter first, materialized: a qualifier order chosen by the planner must never terminate others.
        WITH targets AS MATERIALIZED (
            SELECT a.pid
            FROM pg_stat_activity AS a
            WHERE a.application_name = %(name)s
              AND a.pid <> pg_backend_pid()
        )
        SELECT t.pid AS pid,
               pg_terminate_backend(t.pid) AS terminated
        FROM targets AS t
        """,
        {"name": application_name[:NAME_BYTES]},
        using=using,
    )
    return [row[0] for row in rows if row[1]]
