"""pgvector arithmetic: IVFFlat lists for a row count, HNSW graph memory, the parameters to recommend."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from schemaadmin.pg.indexes import IndexInfo

__all__ = [
    "HNSW_DEFAULT_EF_CONSTRUCTION",
    "HNSW_DEFAULT_M",
    "IVFFLAT_DEFAULT_LISTS",
    "VectorAdvice",
    "hnsw_build_bytes",
    "recommended_lists",
    "vector_advice",
]

HNSW_DEFAULT_M = 16
HNSW_DEFAULT_EF_CONSTRUCTION = 64
IVFFLAT_DEFAULT_LISTS = 100
# Per element, beyond the vector and its neighbour lists: element struct, heap pointers, allocator headers.
# Fitted to pgvector 0.8's "graph no longer fits" notices (768-d vector, 4,096-d halfvec, m=16), within ~3%.
_HNSW_ELEMENT_OVERHEAD = 300
_HNSW_CANDIDATE_BYTES = 16
_TYPE = re.compile(r"^(vector|halfvec|bit)\((\d+)\)$")


def recommended_lists(rows: int) -> int:
    """Return pgvector's advice for IVFFlat lists: rows / 1000 up to a million rows, √rows above."""
    if rows <= 1_000_000:
        return max(1, rows // 1000)
    return int(math.sqrt(rows))


def stored_value_bytes(key_type: str) -> int | None:
    """Return the bytes one indexed value takes (header included), from its type, e.g. halfvec(3072)."""
    match = _TYPE.match(key_type)
    if match is None:
        return None
    kind, dimensions = match.group(1), int(match.group(2))
    per_dimension = {"vector": 4.0, "halfvec": 2.0, "bit": 1 / 8}[kind]
    return 8 + math.ceil(dimensions * per_dimension)


def hnsw_build_bytes(rows: int, value_bytes: int, m: int) -> int:
    """Estimate the memory an HNSW build needs to hold the whole graph: rows × (value + neighbours + overhead)."""
    # Level 0 keeps 2m neighbours; an element reaches upper levels with probability 1/m each, m neighbours there.
    neighbours = 2 * m + m / (m - 1)
    return math.ceil(rows * (value_bytes + neighbours * _HNSW_CANDIDATE_BYTES + _HNSW_ELEMENT_OVERHEAD))


def memory_setting(size_bytes: int) -> str:
    """Return a maintenance_work_mem value at least size_bytes with a margin, rounded up to a readable unit."""
    wanted = size_bytes * 1.1
    megabytes = math.ceil(wanted / 2**20)
    if megabytes >= 1024:
        return f"{math.ceil(megabytes / 1024)}GB"
    return f"{max(64, math.ceil(megabytes / 64) * 64)}MB"


@dataclass(frozen=True, slots=True)
class VectorAdvice:
    method: str
    dimensions: int | None
    rows: int | None
    m: int | None
    ef_construction: int | None
    lists: int | None
    recommended_lists: int | None
    recommended_probes: int | None  # for the recommended lists: ≈ √lists
    build_bytes: int | None  # HNSW only: memory to build the whole graph in maintenance_work_mem
    recommended_maintenance_work_mem: str | None
    stored_type: str = "vector"  # what the key is stored as: vector, halfvec or sparsevec

    @property
    def dimensions_advice(self) -> str:
        """Return what the dimensions should be for this key's type to be indexable, in words ("" when they are)."""
        if self.stored_type == "sparsevec":
            return "any, with at most 1,000 non-zero elements a vector (HNSW)"
        if self.dimensions is not None and self.dimensions > 2000 and self.stored_type == "vector":
            return "≤ 2,000, or a halfvec cast of the key (≤ 4,000)"
        return ""

    @property
    def probes_for_lists_now(self) -> int | None:
        """IVFFlat: the probes that suit the lists the index has now (≈ √lists), before any rebuild."""
        return max(1, round(math.sqrt(self.lists))) if self.lists else None


def _stored_type(index: IndexInfo) -> str:
    """Return the base type the index's first key is stored as: halfvec for halfvec(3072), a cast's too."""
    return index.key_types[0].split("(")[0] if index.key_types else "vector"


def vector_advice(index: IndexInfo) -> VectorAdvice | None:
    """Return a vector index's parameters (defaults filled in), its build memory and the parameters to use."""
    if not index.is_vector:
        return None
    rows = index.table_rows
    if index.method == "ivfflat":
        lists = index.option("lists") or IVFFLAT_DEFAULT_LISTS
        advised = recommended_lists(rows) if rows is not None else None
        return VectorAdvice(
            method="ivfflat",
            dimensions=index.dimensions,
            rows=rows,
            m=None,
            ef_construction=None,
            lists=lists,
            recommended_lists=advised,
            recommended_probes=max(1, round(math.sqrt(advised))) if advised else None,
            build_bytes=None,
            recommended_maintenance_work_mem=None,
            stored_type=_stored_type(index),
        )
    m = index.option("m") or HNSW_DEFAULT_M
    value_bytes = stored_value_bytes(index.key_types[0]) if index.key_types else None
    build = hnsw_build_bytes(rows, value_bytes, m) if rows is not None and value_bytes is not None else None
    return VectorAdvice(
        method="hnsw",
        dimensions=index.dimensions,
        rows=rows,
        m=m,
        ef_construction=index.option("ef_construction") or HNSW_DEFAULT_EF_CONSTRUCTION,
        lists=None,
        recommended_lists=None,
        recommended_probes=None,
        build_bytes=build,
        recommended_maintenance_work_mem=memory_setting(build) if build else None,
        stored_type=_stored_type(index),
    )
