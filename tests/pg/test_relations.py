"""schemaadmin/pg/relations.py: table health and database statistics."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from schemaadmin.pg.databases import database_statistics
from schemaadmin.pg.relations import table_estimates, tables


def test_tables_report_rows_dead_tuples_scans_and_thresholds(plant):
    s = plant.schema
    plant.table("t", "id int", rows=1000, fill="i")
    plant.sql(f"ALTER TABLE {s}.t SET (autovacuum_vacuum_threshold = 10, autovacuum_vacuum_scale_factor = 0.5)")
    plant.sql(f"VACUUM ANALYZE {s}.t")
    plant.sql(f"DELETE FROM {s}.t WHERE id <= 100")  # noqa: S608 -- a test schema name
    plant.sql(f"SELECT count(*) FROM {s}.t")  # noqa: S608 -- a test schema name
    plant.flush_stats()
    with CaptureQueriesContext(connection) as queries:
        (table,) = [t for t in tables() if t.schema == s]
    assert len(queries) == 1
    assert table.name == "t" and table.estimated_rows == 1000
    assert table.dead_tuples == 100 and table.changes_since_analyze == 100
    assert table.sequential_scans >= 2 and table.sequential_share == 1.0
    assert table.last_vacuum is not None and table.last_analyzed is not None
    assert table.vacuum_threshold == 10 + 0.5 * 1000  # the table's own autovacuum settings
    assert table.table_bytes > 0 and table.total_bytes >= table.table_bytes


def test_database_statistics(db):
    stats = database_statistics()
    assert stats.database == connection.settings_dict["NAME"]
    assert stats.cache_hit_rate is None or 0 <= stats.cache_hit_rate <= 1
    assert stats.stats_since <= stats.now
    assert stats.maintenance_work_mem_bytes >= 1024 * 1024
    assert stats.pgstattuple_installed is False  # the embedded server does not ship it


def test_a_table_written_with_its_schema_as_a_db_table_is_estimated(plant):
    s = plant.schema
    plant.table("t", "id int", rows=300, fill="i")
    plant.sql(f"ANALYZE {s}.t")
    # A model's db_table may name its schema, quoted the PostgreSQL way; unqualified names go by the search_path.
    qualified, plain, missing = f'"{s}"."t"', "conversation_messages", f'"{s}"."no_such_table"'
    django_spelling = f'{s}"."t'  # what a model writes for Django to quote as "schema"."t"
    found = {
        e.table: e.estimated_rows for e in table_estimates([qualified, plain, missing, django_spelling], schema=None)
    }
    assert found[qualified] == 300 and found[django_spelling] == 300 and plain in found and missing not in found
    assert table_estimates(["t"], schema=s)[0].estimated_rows == 300
