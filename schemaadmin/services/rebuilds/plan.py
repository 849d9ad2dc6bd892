"""What a rebuild will do, checked before anything runs: the index, the new parameters, memory, disk and time."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field

from schemaadmin.models import IndexRebuild
from schemaadmin.pg import indexes as catalog
from schemaadmin.pg.estimates import rows_up_to
from schemaadmin.pg.identifiers import quote_identifier
from schemaadmin.pg.index_builds import REINDEX_LEFTOVER, TEMPORARY_SUFFIX
from schemaadmin.pg.index_lookups import may_build_indexes_of
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.pg.names import qualify, split_qualified
from schemaadmin.services.index_health.partitions import index_with_partition_totals
from schemaadmin.services.index_health.vectors import (
    HNSW_DEFAULT_EF_CONSTRUCTION,
    HNSW_DEFAULT_M,
    IVFFLAT_DEFAULT_LISTS,
    recommended_lists,
)
from schemaadmin.services.rebuilds.estimate import RebuildEstimate, estimate_rebuild
from schemaadmin.services.rebuilds.leftovers import replacements_built, unknown_replacement
from schemaadmin.services.rebuilds.script import RebuildScript, rebuild_script, script_fingerprint

__all__ = [
    "RebuildAlreadyActive",
    "RebuildPlan",
    "RebuildRefused",
    "ReviewOutdated",
    "find_index",
    "plan_rebuild",
    "rebuildable_index",
    "suggested_indexes",
]

KINDS = (IndexRebuild.Kind.REINDEX, IndexRebuild.Kind.REPLACE)
# pgvector's limits (hnsw.c, ivfflat.c).
M_RANGE = (2, 100)
EF_CONSTRUCTION_RANGE = (4, 1000)
LISTS_RANGE = (1, 32768)
# A valid index under the replacement's name that no rebuild built: the build would fail on it, and it is not ours.
REPLACEMENT_NAME_TAKEN = (
    "{taken} already exists, and no rebuild of SchemaAdmin's made it: a new index is built under that name before "
    "it is swapped in. Rename that index (or drop it if nothing needs it), then try again."
)


class RebuildRefused(ValueError):
    """The rebuild cannot start; the message is a sentence for the user."""


class ReviewOutdated(RebuildRefused):
    """The confirmation does not carry the fingerprint of the plan as it is now: the review to confirm is another."""


# The confirmation's fingerprint is not the plan's now: the index changed (dropped and made again, its comment
# changed, ...) between the review and the POST.
INDEX_CHANGED = "The index changed since you reviewed it; review the statements again."
NOT_REVIEWED = "Review the statements below, then start the rebuild."


class NameNotTyped(RebuildRefused):
    """A rebuild that drops the index as it is now (a replace: the swap drops it), confirmed without its name typed."""

    def __init__(self, plan: RebuildPlan) -> None:
        super().__init__(
            f"Type {plan.qualified_name} to start this rebuild: the swap at its end drops the index as it is now."
        )


class RebuildAlreadyActive(RebuildRefused):
    """A rebuild of the same index is queued or running: `.rebuild` is that one."""

    def __init__(self, rebuild: IndexRebuild) -> None:
        super().__init__(
            f"A rebuild of {qualify(rebuild.schema_name, rebuild.index_name)} is already {rebuild.state} "
            f"(rebuild {rebuild.pk})."
        )
        self.rebuild = rebuild


@dataclass(frozen=True, slots=True)
class RebuildPlan:
    schema: str
    name: str
    table: str
    method: str
    target_method: str
    kind: str
    parameters: dict[str, int] = field(hash=False)
    current_parameters: dict[str, int] = field(hash=False)
    definition: str
    new_definition: str | None
    estimate: RebuildEstimate
    script: RebuildScript = field(hash=False)
    size_bytes: int = 0
    using: str = "default"

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, self.name)

    def statements(self) -> list[str]:
        """Return the SQL the job will send for this plan, statement by statement, as it sends it."""
        return [statement.text for statement in self.script.statements]

    @property
    def fingerprint(self) -> str:
        """Return the hash a review's confirmation carries and the job checks (script.script_fingerprint)."""
        return script_fingerprint(self.definition, self.script)


def find_index(named: str, *, using: str = "default") -> IndexInfo:
    """Return the index named schema.name (as pg.names.qualified() writes it), or refuse with a sentence."""
    parts = split_qualified(named.strip())
    if parts is None:
        raise RebuildRefused(f"Name the index as schema.name (got {named!r}).")
    schema, name = parts
    index = catalog.index(schema, name, using=using)
    if index is not None:
        return index_with_partition_totals(index, using=using)  # a partitioned index's size is its partitions'
    raise RebuildRefused(f"There is no index {qualify(schema, name)} in a user schema of this database.")


def rebuildable_index(named: str, *, using: str = "default") -> IndexInfo | None:
    """Return the index named schema.name if the form may start a rebuild of it, else None.

    It may when it is in a user schema, no earlier rebuild's leftover, and valid or an INVALID one REINDEX
    CONCURRENTLY repairs (not a partitioned one, nor one whose build is running); one index is read, never all.
    """
    parts = split_qualified(named.strip())
    index = catalog.index(*parts, using=using) if parts is not None else None
    if index is None or _is_leftover(index, using=using):
        return None
    if not index.is_valid and (index.is_partitioned or index.build_running):
        return None
    return index_with_partition_totals(index, using=using)


def suggested_indexes(*, using: str = "default") -> list[IndexInfo]:
    """Return pgvector's indexes (HNSW, IVFFlat) a rebuild may be started on: the names the form suggests."""
    found = catalog.ann_indexes(using=using)
    built = replacements_built([index.oid for index in found if index.name.endswith(TEMPORARY_SUFFIX)], using=using)
    return [index for index in found if not _is_leftover(index, built=built)]


def _is_leftover(index: IndexInfo, *, using: str = "default", built: Container[int] | None = None) -> bool:
    """Whether index is an earlier rebuild's copy: our own *_sa_new (INVALID, or the replacement a rebuild recorded
    building: in built, the oids replacements_built() returned, else asked for this one), or REINDEX CONCURRENTLY's
    *_ccnew/*_ccold left invalid when it stopped (a valid index may carry such a name that no rebuild made: it is
    somebody's index, not a leftover)."""
    if index.name.endswith(TEMPORARY_SUFFIX):
        if not index.is_valid:
            return True
        return index.oid in (built if built is not None else replacements_built([index.oid], using=using))
    return not index.is_valid and REINDEX_LEFTOVER.search(index.name) is not None


def current_parameters(index: IndexInfo) -> dict[str, int]:
    """Return a vector index's build parameters with pgvector's defaults filled in; {} for other methods."""
    if index.method == "hnsw":
        return {
            "m": index.option("m") or HNSW_DEFAULT_M,
            "ef_construction": index.option("ef_construction") or HNSW_DEFAULT_EF_CONSTRUCTION,
        }
    if index.method == "ivfflat":
        return {"lists": index.option("lists") or IVFFLAT_DEFAULT_LISTS}
    return {}


def parameters_when_empty(index: IndexInfo) -> dict[str, int]:
    """Return what a rebuild of index with new parameters uses for each option left empty: a vector index's values
    now (current_parameters), and pgvector's defaults for HNSW's options of an IVFFlat index (it may become HNSW);
    {} for other methods, which have none (as _new_parameters reads them)."""
    if index.method == "ivfflat":
        return {"m": HNSW_DEFAULT_M, "ef_construction": HNSW_DEFAULT_EF_CONSTRUCTION, **current_parameters(index)}
    return current_parameters(index)


def plan_rebuild(
    qualified: str,
    *,
    kind: str = IndexRebuild.Kind.REINDEX,
    method: str | None = None,
    m: int | None = None,
    ef_construction: int | None = None,
    lists: int | None = None,
    using: str = "default",
) -> RebuildPlan:
    """Check a rebuild request against the live index and return what it would run, with its estimate."""
    if kind not in KINDS:
        raise RebuildRefused(f"Unknown kind of rebuild {kind!r}: choose reindex or replace.")
    index = find_index(qualified, using=using)
    reindex_only = kind == IndexRebuild.Kind.REINDEX
    if not may_build_indexes_of(index.schema, index.table, reindex_only=reindex_only, using=using):
        # The review showed a plan and a Start button, and the job failed at once: "must be owner of table".
        raise RebuildRefused(
            f"{index.qualified_name} is on {qualify(index.schema, index.table)}, which SchemaAdmin's database role "
            "does not own: PostgreSQL lets only the table's owner (or a member of its role) build its indexes"
            + (", or, for REINDEX on PostgreSQL 17+, a role granted MAINTAIN on it" if reindex_only else "")
            + ". Grant the owner's role to SchemaAdmin's, or rebuild it as the owner."
        )
    if _is_leftover(index, using=using):
        raise RebuildRefused(
            f"{index.qualified_name} is a leftover of an earlier rebuild: drop it rather than rebuild it."
        )
    if not reindex_only and (taken := unknown_replacement(index.schema, index.name, using=using)) is not None:
        raise RebuildRefused(REPLACEMENT_NAME_TAKEN.format(taken=taken.qualified_name))
    if index.is_exclusion:
        # REINDEX CONCURRENTLY fails at once: "concurrent index creation for exclusion constraints is not supported".
        raise RebuildRefused(
            f"{index.qualified_name} enforces an exclusion constraint ({index.constraint or 'EXCLUDE'}), and "
            "PostgreSQL cannot build such an index concurrently, REINDEX CONCURRENTLY included. REINDEX INDEX without "
            "CONCURRENTLY locks the table against writes (and reads that use the index) for the whole build: run it "
            "yourself in a quiet hour."
        )
    if not index.is_valid and index.is_partitioned:
        # REINDEX leaves it invalid: what it lacks is an index attached for each partition, not a build.
        raise RebuildRefused(
            f"{index.qualified_name} is an INVALID partitioned index: it turns valid once every partition has an "
            "index attached to it (CREATE INDEX CONCURRENTLY on the partition, then ALTER INDEX … ATTACH "
            "PARTITION); its invalid_index finding shows how."
        )
    current = current_parameters(index)
    given = {
        key: value
        for key, value in (("m", m), ("ef_construction", ef_construction), ("lists", lists))
        if value is not None
    }
    target_method = (method or index.method).strip().lower()
    if kind == IndexRebuild.Kind.REINDEX:
        if given or target_method != index.method:
            raise RebuildRefused(
                "REINDEX CONCURRENTLY keeps the index's method and parameters; "
                "choose a rebuild with new parameters to change them."
            )
        parameters = current
    else:
        parameters = _new_parameters(index, target_method, given, current, using=using)
        # A plain unique index is swapped as any other: its replacement is CREATE UNIQUE INDEX CONCURRENTLY (NULLS NOT
        # DISTINCT kept), so uniqueness holds throughout. What its DROP would take with it is refused.
        if index.constraint is not None:
            what = "primary key" if index.is_primary else "unique constraint"
            raise RebuildRefused(
                f"{index.qualified_name} enforces the {what} {quote_identifier(index.constraint)}; swapping it for a "
                "new index would drop the constraint. Use REINDEX CONCURRENTLY."
            )
        if index.referenced_by is not None:
            raise RebuildRefused(
                f"{index.qualified_name} is the unique index the foreign key {quote_identifier(index.referenced_by)} "
                "references: PostgreSQL refuses to drop it while the key needs it, so no new index can be swapped in. "
                "Use REINDEX CONCURRENTLY."
            )
        if index.is_replica_identity:
            raise RebuildRefused(
                f"{index.qualified_name} is its table's replica identity (REPLICA IDENTITY USING INDEX): between the "
                "old index's drop and the new one's rename the table would have none, and logical replication of its "
                "updates and deletes would fail. Use REINDEX CONCURRENTLY, which keeps it."
            )
        if not index.is_valid:
            raise RebuildRefused(f"{index.qualified_name} is INVALID; REINDEX CONCURRENTLY repairs it.")
        if index.is_partitioned:
            raise RebuildRefused(
                f"{index.qualified_name} is a partitioned table's index: PostgreSQL cannot build one CONCURRENTLY. "
                "REINDEX CONCURRENTLY rebuilds it partition by partition; new parameters need each partition's "
                "index replaced."
            )
        if index.partition_of is not None:
            raise RebuildRefused(
                f"{index.qualified_name} is attached to the partitioned index {index.partition_of}, so it cannot "
                "be dropped alone to swap a new one in. REINDEX CONCURRENTLY rebuilds it in place."
            )
        if index.tablespace is not None and not index.may_create_in_tablespace:
            # The replacement is built where the index is: the job would fail with "permission denied for tablespace".
            raise RebuildRefused(
                f"{index.qualified_name} is in the tablespace {quote_identifier(index.tablespace)}, where "
                "SchemaAdmin's database role may not create indexes: grant it CREATE on that tablespace, or use "
                "REINDEX CONCURRENTLY, which rebuilds the index where it is."
            )
    estimate = estimate_rebuild(index, target_method, parameters, using=using)
    script = rebuild_script(
        index,
        kind=kind,
        method=target_method,
        parameters=parameters,
        maintenance_work_mem_bytes=estimate.planned_maintenance_work_mem_bytes,
    )
    return RebuildPlan(
        schema=index.schema,
        name=index.name,
        table=index.table,
        method=index.method,
        target_method=target_method,
        kind=str(kind),
        parameters=parameters,
        current_parameters=current,
        definition=index.definition,
        new_definition=script.build.text if script.swap else None,
        estimate=estimate,
        script=script,
        size_bytes=index.size_bytes,
        using=using,
    )


def _new_parameters(
    index: IndexInfo, target: str, given: dict[str, int], current: dict[str, int], *, using: str
) -> dict[str, int]:
    """Return the parameters of the replacement, refusing options that do not belong to its method."""
    name = index.qualified_name
    if target != index.method and not (index.method == "ivfflat" and target == "hnsw"):
        raise RebuildRefused(
            f"{name} is a {index.method} index; a rebuild can keep its method, or turn IVFFlat into HNSW, "
            f"not make it {target}."
        )
    if target not in ("hnsw", "ivfflat"):
        if given:
            raise RebuildRefused(
                f"{', '.join(given)} {'is an option' if len(given) == 1 else 'are options'} of vector indexes "
                f"(HNSW, IVFFlat); {name} is a {index.method} index."
            )
        return {}
    if target == "hnsw":
        if "lists" in given:
            raise RebuildRefused(f"lists is an IVFFlat option; the new {name} is an HNSW index (m, ef_construction).")
        base = current if index.method == "hnsw" else {}
        m = given.get("m", base.get("m", HNSW_DEFAULT_M))
        ef = given.get("ef_construction", base.get("ef_construction", HNSW_DEFAULT_EF_CONSTRUCTION))
        _check_range("m", m, M_RANGE)
        _check_range("ef_construction", ef, EF_CONSTRUCTION_RANGE)
        if ef < 2 * m:
            raise RebuildRefused(f"ef_construction must be at least twice m ({2 * m} for m = {m}); got {ef}.")
        return {"m": m, "ef_construction": ef}
    extra = [key for key in given if key != "lists"]
    if extra:
        raise RebuildRefused(
            f"{' and '.join(extra)} {'is an HNSW option' if len(extra) == 1 else 'are HNSW options'}; "
            f"{name} is an IVFFlat index (lists). Choose HNSW as the new method to use them."
        )
    lists = given.get("lists", current.get("lists", IVFFLAT_DEFAULT_LISTS))
    _check_range("lists", lists, LISTS_RANGE)
    rows = index.table_rows
    if rows is not None and (rows == 0 or lists > rows):
        # reltuples is an estimate, 0 after a bulk load into a table analyzed while empty: count before refusing.
        rows = rows_up_to(index.schema, index.table, lists + 1, using=using)
    if rows is not None and (rows == 0 or lists > rows):
        # IVFFlat's lists are centres k-means picks from the rows there are: built empty or with more lists than
        # rows, lists stay empty and recall collapses (pgvector only says so in a NOTICE).
        raise RebuildRefused(
            f"{name} would be an IVFFlat index of {lists:,} lists over "
            + (
                "an empty table: IVFFlat is built after the data is loaded, its lists found in the rows."
                if rows == 0
                else f"about {rows:,} rows, more lists than rows. For this many rows pgvector advises "
                f"lists = {recommended_lists(rows):,} (rows / 1000 up to a million rows, √rows above)."
            )
        )
    return {"lists": lists}


def _check_range(name: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RebuildRefused(f"{name} must be a whole number from {low} to {high}; got {value!r}.")
