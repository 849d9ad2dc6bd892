"""The statements one rebuild sends on its build connection, made once: the review shows them, the job runs them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from schemaadmin.conf import app_settings
from schemaadmin.models import IndexRebuild
from schemaadmin.pg.ddl import (
    Statement,
    cluster_on,
    comment_on_index,
    create_index,
    drop_index,
    index_definition_of,
    reindex_index,
    rename_index,
    set_index_column_statistics,
    setting,
    setting_reset,
)
from schemaadmin.pg.index_builds import build_settings, temporary_index_name
from schemaadmin.pg.indexes import IndexInfo

__all__ = ["RebuildScript", "rebuild_script", "script_fingerprint"]


@dataclass(frozen=True, slots=True)
class RebuildScript:
    """A rebuild's statements in the order the job sends them."""

    settings: tuple[Statement, ...]  # the build session's memory, parallelism and dead-client check
    build: Statement  # REINDEX INDEX CONCURRENTLY, or CREATE INDEX CONCURRENTLY of the replacement
    # What the old index has that CREATE INDEX does not write, set on the replacement before the swap (its comment,
    # its keys' statistics targets: they follow it through the rename); none for REINDEX, which keeps them.
    carried: tuple[Statement, ...] = ()
    # The replacement swapped in under a short lock_timeout (and the table's CLUSTER mark moved to it: only once the
    # old index is gone, so a swap that fails leaves the mark where it was); none for REINDEX
    swap: tuple[Statement, ...] = ()

    @property
    def statements(self) -> tuple[Statement, ...]:
        return (*self.settings, self.build, *self.carried, *self.swap)

    @property
    def ddl(self) -> tuple[Statement, ...]:
        """Return the statements that make and swap the index: all but the session's settings."""
        return (self.build, *self.carried, *self.swap)


def script_fingerprint(definition: str, script: RebuildScript) -> str:
    """Return a short hash of what a rebuild does to which index: the index's definition (pg_get_indexdef(), which a
    REINDEX's text does not show) and the text of every DDL statement. The session's settings are left out: the
    job sizes maintenance_work_mem from the table as it is when it runs."""
    text = "\n".join((definition, *(statement.text for statement in script.ddl)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rebuild_script(
    index: IndexInfo, *, kind: str, method: str, parameters: dict[str, int], maintenance_work_mem_bytes: int
) -> RebuildScript:
    """Return the statements that rebuild index: REINDEX CONCURRENTLY, or a replacement built, then swapped in."""
    settings = app_settings()
    session = tuple(
        build_settings(
            maintenance_work_mem_bytes=maintenance_work_mem_bytes,
            max_parallel_maintenance_workers=settings["REBUILD_MAX_PARALLEL_MAINTENANCE_WORKERS"],
        )
    )
    if kind == IndexRebuild.Kind.REINDEX:
        return RebuildScript(session, reindex_index(index.schema, index.name))  # keeps all of them itself
    temporary = temporary_index_name(index.name)
    # The index's other storage options (fillfactor, pages_per_range, fastupdate) stay; a new method's are its own.
    options: dict[str, int | str] = {**index.options, **parameters} if method == index.method else {**parameters}
    # In the index's own tablespace (pg_get_indexdef() names none, so a replacement was built in the default one).
    definition = index_definition_of(index, name=temporary, method=method, options=options, tablespace=index.tablespace)
    carried = tuple(
        set_index_column_statistics(index.schema, temporary, position, target)
        for position, target in enumerate(index.key_statistics, start=1)
        if target is not None
    )
    if index.comment is not None:
        carried = (comment_on_index(index.schema, temporary, index.comment), *carried)
    swap = (
        setting("lock_timeout", f"{settings['REBUILD_SWAP_LOCK_TIMEOUT_MS']}ms"),
        drop_index(index.schema, index.name, if_exists=True),
        rename_index(index.schema, temporary, index.name),
        *((cluster_on(index.schema, index.table, index.name),) if index.is_clustered else ()),
        setting_reset("lock_timeout"),
    )
    return RebuildScript(session, create_index(definition), carried, swap)
