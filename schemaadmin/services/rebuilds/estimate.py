"""What a rebuild will cost, worked out before it runs: the build's memory (and the maintenance_work_mem the job sets),
the disk it needs, and its time, learned from the last rebuild like it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from schemaadmin.conf import app_settings
from schemaadmin.models import IndexRebuild, JobState
from schemaadmin.pg.index_builds import setting_reset_bytes
from schemaadmin.pg.indexes import VECTOR_METHODS, IndexInfo
from schemaadmin.services.index_health.vectors import (
    HNSW_DEFAULT_M,
    IVFFLAT_DEFAULT_LISTS,
    hnsw_build_bytes,
    stored_value_bytes,
)

__all__ = ["RebuildEstimate", "estimate_rebuild", "planned_maintenance_work_mem"]

# IVFFlat runs k-means on a sample of this many rows per list.
IVFFLAT_SAMPLES_PER_LIST = 50


@dataclass(frozen=True, slots=True)
class RebuildEstimate:
    rows: int | None
    dimensions: int | None
    graph_memory_bytes: int | None  # HNSW: the whole graph; IVFFlat: the k-means sample and centres
    memory_unknown: str  # why a graph's or sample's memory is not estimated ("" when it is, or the build is a sort)
    server_maintenance_work_mem_bytes: int
    planned_maintenance_work_mem_bytes: int
    fits_in_memory: bool | None
    disk_bytes_needed: int
    estimated_seconds: float | None
    basis: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_rebuild(
    index: IndexInfo, target: str, parameters: dict[str, int], *, using: str = "default"
) -> RebuildEstimate:
    """Estimate the build's memory, disk and time, and the maintenance_work_mem the job will set."""
    rows = index.table_rows
    value_bytes = stored_value_bytes(index.key_types[0]) if index.is_vector and index.key_types else None
    graph: int | None = None
    disk = index.size_bytes
    if rows is not None and value_bytes is not None:
        if target == "hnsw":
            m = parameters.get("m", HNSW_DEFAULT_M)
            graph = hnsw_build_bytes(rows, value_bytes, m)
            if index.method != "hnsw":
                # An element tuple (value, heap pointers) and a neighbour tuple (2m + m level-0/upper tids).
                disk = math.ceil(rows * (value_bytes + 3 * m * 6 + 64) * 1.1)
        elif target == "ivfflat":
            lists = parameters.get("lists", IVFFLAT_DEFAULT_LISTS)
            graph = (min(rows, lists * IVFFLAT_SAMPLES_PER_LIST) + lists) * value_bytes
    server = setting_reset_bytes("maintenance_work_mem", using=using)
    planned = planned_maintenance_work_mem(graph, index.size_bytes, server)
    seconds, basis = _time_estimate(index, target, parameters, rows, using=using)
    return RebuildEstimate(
        rows=rows,
        dimensions=index.dimensions,
        graph_memory_bytes=graph,
        memory_unknown=_memory_unknown(index, target, rows) if graph is None else "",
        server_maintenance_work_mem_bytes=server,
        planned_maintenance_work_mem_bytes=planned,
        fits_in_memory=None if graph is None else graph <= planned,
        disk_bytes_needed=disk,
        estimated_seconds=seconds,
        basis=basis,
    )


def _memory_unknown(index: IndexInfo, target: str, rows: int | None) -> str:
    """Return why the memory of an HNSW or IVFFlat build is not estimated; "" for a build that sorts its keys."""
    if target not in VECTOR_METHODS:
        return ""
    if rows is None:
        return "not estimated: the table has not been analyzed, so its rows are unknown (ANALYZE it, then review again)"
    key_type = index.key_types[0] if index.key_types else "its key"
    # A sparsevec's size is its non-zero elements', which its type does not say.
    return f"not estimated: the size of one {key_type} value is not known from its type"


def planned_maintenance_work_mem(graph_bytes: int | None, index_bytes: int, server_bytes: int) -> int:
    """Return the maintenance_work_mem to build with: the graph (or a sort of the index) plus a margin, capped, and
    never less than the server's own (the cap limits what SchemaAdmin asks for, not what the server gives)."""
    settings = app_settings()
    wanted = (graph_bytes if graph_bytes is not None else index_bytes) * settings["REBUILD_MAINTENANCE_WORK_MEM_MARGIN"]
    megabytes = math.ceil(wanted / 2**20)
    return int(max(server_bytes, min(settings["REBUILD_MAX_MAINTENANCE_WORK_MEM"], megabytes * 2**20)))


def _time_estimate(
    index: IndexInfo, target: str, parameters: dict[str, int], rows: int | None, *, using: str
) -> tuple[float | None, str]:
    """Scale the last successful rebuild of this index (else of this table with the method) to today's rows."""
    finished = IndexRebuild.objects.filter(
        state=JobState.SUCCEEDED,
        database_alias=using,
        schema_name=index.schema,
        method=target,
        started_at__isnull=False,
        finished_at__isnull=False,
    ).order_by("-finished_at")
    past = finished.filter(index_name=index.name).first() or finished.filter(table_name=index.table).first()
    if past is None or past.duration is None:
        return None, "No earlier rebuild of this index, or of its table with this method, to learn from."
    seconds = past.duration.total_seconds()
    then_rows = past.estimate.get("rows") if isinstance(past.estimate, dict) else None
    factor = 1.0
    # A quick REINDEX took a fraction of a second: "took 0 s" would look like nothing ran.
    how = f"rebuild {past.pk} on {past.finished_at:%Y-%m-%d} took {seconds:.{1 if seconds < 10 else 0}f} s"
    if then_rows:
        how += f" for {then_rows:,} rows"
    if rows and then_rows and rows != then_rows:
        factor *= rows / then_rows
        how += f", scaled to {rows:,} rows"
    then_ef = past.parameters.get("ef_construction") if isinstance(past.parameters, dict) else None
    now_ef = parameters.get("ef_construction")
    if then_ef and now_ef and then_ef != now_ef:
        factor *= now_ef / then_ef
        how += f" and to ef_construction {now_ef}"
    return seconds * factor, f"From the last rebuild like it: {how}."
