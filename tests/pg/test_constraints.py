"""schemaadmin/pg/constraints.py against planted objects: foreign keys with their columns in order."""

from __future__ import annotations

from schemaadmin.pg.constraints import foreign_keys


def test_foreign_keys_list_their_columns_in_order(plant):
    s = plant.schema
    plant.table("p", "a int, b int, PRIMARY KEY (a, b)")
    plant.table("c", f"id int, pb int, pa int, FOREIGN KEY (pa, pb) REFERENCES {s}.p (a, b)")
    (key,) = [k for k in foreign_keys() if k.schema == s]
    assert key.table == "c" and key.columns == ("pa", "pb") and key.column_attnums == (3, 2)
    assert key.referenced_table == f"{s}.p"
