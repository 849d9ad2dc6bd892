"""A small planted table with ANN indexes, shared by the recall check's tests."""

from __future__ import annotations

from tests.planting import Planter

DIMS = 16
ROWS = 2_000
# A deterministic pseudo-random value in [0, 1) per (row i, dimension j): the classic fract(sin(x) * 43758).
FILL = f"""
    i, ARRAY(
        SELECT (sin(i * 12.9898 + j * 78.233) * 43758.5453) - floor(sin(i * 12.9898 + j * 78.233) * 43758.5453)
        FROM generate_series(1, {DIMS}) AS j
    )::vector({DIMS})
"""  # noqa: S608 -- constants


def plant_items(planter: Planter) -> Planter:
    """Plant 2,000 vectors with an HNSW halfvec cosine expression index and an IVFFlat l2 index of 20 lists."""
    table = planter.table("items", f"id bigint PRIMARY KEY, embedding vector({DIMS})", rows=ROWS, fill=FILL)
    planter.sql(f"CREATE INDEX items_hnsw ON {table} USING hnsw ((embedding::halfvec({DIMS})) halfvec_cosine_ops)")
    planter.sql(f"CREATE INDEX items_ivf ON {table} USING ivfflat (embedding vector_l2_ops) WITH (lists = 20)")
    planter.sql(f"ANALYZE {table}")
    return planter
