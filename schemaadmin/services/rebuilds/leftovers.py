"""What a stopped rebuild leaves behind, and cleaning it up: a half-done swap finished or undone, the INVALID indexes
an interrupted build left dropped (run.py's failures and recovery use it)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from schemaadmin.models import IndexRebuild
from schemaadmin.pg.ddl import drop_index, rename_index
from schemaadmin.pg.index_builds import (
    is_reindex_old_index,
    leftover_indexes,
    open_build_connection,
    partition_leftover_indexes,
    run_under_lock_timeout,
    temporary_index_name,
)
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.pg.indexes import index as index_state
from schemaadmin.pg.names import qualify
from schemaadmin.services.jobs import JobLog

__all__ = ["Cleanup", "clean_leftovers", "clean_safely", "error_message", "replacements_built", "unknown_replacement"]


@dataclass(frozen=True, slots=True)
class Cleanup:
    """What clean_leftovers did: the indexes it dropped or renamed, and whether the rebuilt index is the one in
    service, whatever stopped the job: the clean-up finished its swap, or found it finished."""

    done: tuple[str, ...]
    finished_swap: bool
    found_swapped: bool = False  # the swap (or REINDEX's) had committed before the stop; nothing was left to do


def clean_leftovers(rebuild: IndexRebuild, conn: psycopg.Connection, log: JobLog) -> Cleanup:
    """Finish or undo a half-done swap, and drop INVALID indexes an earlier build of this index left behind."""
    using, schema, name = rebuild.database_alias, rebuild.schema_name, rebuild.index_name
    done: list[str] = []
    finished_swap = False
    temporary = temporary_index_name(name)
    new = index_state(schema, temporary, using=using)
    if new is not None and rebuild.table_name and new.table != rebuild.table_name:
        log.write(f"leaving {temporary} alone: it is an index of {new.table}, not of {rebuild.table_name}")
        new = None
    if new is not None and new.is_valid and new.oid not in replacements_built([new.oid], using=using):
        # A valid index of that name no rebuild recorded building is somebody's: never dropped or renamed here.
        log.write(f"leaving {temporary} alone: a valid index no rebuild of SchemaAdmin's built")
        new = None
    if new is not None and new.is_valid:
        old = index_state(schema, name, using=using)
        if old is not None and old.is_valid:
            log.write(f"dropping {temporary}, a replacement that was never swapped in")
            run_under_lock_timeout(conn, drop_index(schema, temporary, if_exists=True))
            done.append(temporary)
        else:
            # The old index was dropped (or half-dropped) before the crash: finish the swap.
            if old is not None:
                log.write(f"dropping {name}, left INVALID by an interrupted swap")
                run_under_lock_timeout(conn, drop_index(schema, name, if_exists=True))
            log.write(f"renaming {temporary} to {name} to finish an interrupted swap")
            run_under_lock_timeout(conn, rename_index(schema, temporary, name))
            done.append(temporary)
            finished_swap = True
    current = index_state(schema, name, using=using)
    found_swapped = False
    if not finished_swap and _rebuilt_in_service(rebuild, current):
        log.write(f"{name} is the replacement this rebuild built (oid {rebuild.built_oid}): the swap had finished")
        found_swapped = True
    elif not finished_swap and _reindexed_in_service(rebuild, current):
        log.write(
            f"{name} is the index REINDEX built (oid {current.oid if current else '?'}; the old one, oid "
            f"{rebuild.original_oid}, is its _ccold leftover): REINDEX's swap had finished"
        )
        found_swapped = True
    table = rebuild.table_name or (new.table if new else "") or (current.table if current else "")
    leftovers = [(schema, leftover) for leftover in leftover_indexes(schema, table, name, using=using)] if table else []
    if current is not None and current.is_partitioned:  # REINDEX of each partition's index leaves its own
        leftovers += partition_leftover_indexes(current.oid, using=using)
    for leftover_schema, leftover in leftovers:
        log.write(f"dropping INVALID leftover {qualify(leftover_schema, leftover)}")
        run_under_lock_timeout(conn, drop_index(leftover_schema, leftover, if_exists=True))
        done.append(leftover)
    return Cleanup(tuple(done), finished_swap or found_swapped, found_swapped)


def replacements_built(oids: list[int], *, using: str = "default") -> set[int]:
    """Return those of oids that a rebuild recorded as the replacement it built (IndexRebuild.built_oid) on the
    alias's database: a valid *_sa_new index among them is SchemaAdmin's, any other is somebody's."""
    if not oids:
        return set()
    built = IndexRebuild.objects.filter(database_alias=using, built_oid__in=oids).values_list("built_oid", flat=True)
    return {oid for oid in built if oid is not None}


def unknown_replacement(schema: str, name: str, *, using: str = "default") -> IndexInfo | None:
    """Return the valid index under the name a replacement of schema.name is built under, when no rebuild built it:
    the build would fail on it ("already exists"), and SchemaAdmin drops only what it made."""
    found = index_state(schema, temporary_index_name(name), using=using)
    if found is None or not found.is_valid or found.oid in replacements_built([found.oid], using=using):
        return None
    return found


def _rebuilt_in_service(rebuild: IndexRebuild, current: IndexInfo | None) -> bool:
    """Whether the index now under the rebuild's name is the replacement it built (a RENAME keeps the oid), valid.
    Any other index there, one someone else made meanwhile included, is not this rebuild's outcome."""
    return (
        rebuild.built_oid is not None and current is not None and current.oid == rebuild.built_oid and current.is_valid
    )


def _reindexed_in_service(rebuild: IndexRebuild, current: IndexInfo | None) -> bool:
    """Whether this rebuild's REINDEX CONCURRENTLY had swapped its new index in before the stop: a valid index of
    another oid holds the name, and the one the job claimed is now REINDEX's _ccold leftover (an index already dropped
    cannot be told from one someone dropped and made again). A partitioned index keeps its oid: each partition's is
    swapped."""
    return (
        rebuild.kind == IndexRebuild.Kind.REINDEX
        and rebuild.original_oid is not None
        and current is not None
        and current.is_valid
        and not current.is_partitioned
        and current.oid != rebuild.original_oid
        and is_reindex_old_index(
            rebuild.schema_name, rebuild.index_name, rebuild.original_oid, using=rebuild.database_alias
        )
    )


def clean_safely(rebuild: IndexRebuild, log: JobLog, conn: psycopg.Connection | None = None) -> Cleanup | None:
    """Finish or undo a stopped rebuild's swap and drop its INVALID leftovers, on conn when it is still usable, else
    on a connection of its own (closed after); None when that failed: recovery, or its next pass, tries again."""
    own = None
    try:
        if conn is None or conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn = own = open_build_connection(using=rebuild.database_alias)
        return clean_leftovers(rebuild, conn, log)
    except Exception as exc:  # cleanup is best effort
        log.write(f"cleanup failed: {error_message(exc)}")
        return None
    finally:
        if own is not None:
            own.close()


def error_message(exc: Exception) -> str:
    """Return what went wrong, as PostgreSQL said it (its primary message), else the exception's text."""
    if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
        return exc.diag.message_primary
    return str(exc).strip() or type(exc).__name__
