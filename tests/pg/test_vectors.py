"""schemaadmin/pg/vectors.py: vector columns, their dimensions and fill."""

from __future__ import annotations

from schemaadmin.pg.vectors import vector_columns


def test_vector_columns_with_type_dimensions_and_fill(plant):
    s = plant.schema
    plant.table("v", "id int, a vector(3), b halfvec(4001), c sparsevec(10), d vector", rows=10, fill="i, NULL")
    plant.sql(f"ANALYZE {s}.v")
    found = {c.column: c for c in vector_columns() if c.schema == s}
    assert {n: (c.type, c.dimensions) for n, c in found.items()} == {
        "a": ("vector", 3),
        "b": ("halfvec", 4001),
        "c": ("sparsevec", 10),
        "d": ("vector", None),
    }
    assert found["a"].null_fraction == 1.0 and not found["a"].populated
    assert found["b"].too_wide_to_index and not found["a"].too_wide_to_index
    assert found["a"].bytes_per_value == 20 and found["b"].bytes_per_value == 8010


def test_a_never_analyzed_table_with_data_counts_as_populated(plant):
    s = plant.schema
    plant.table("v", "id int, a vector(3)", rows=5, fill="i, '[1,2,3]'")
    (column,) = [c for c in vector_columns() if c.schema == s]
    assert column.estimated_rows is None and column.has_data and column.populated
