"""Plant objects in the test database from a second, autocommit connection.

What it creates is committed (so VACUUM, CREATE INDEX CONCURRENTLY and usage counters work), lives in a schema
of its own that autovacuum leaves alone, and is dropped at teardown. Request `plant` before `db` in a test's
arguments, or use the `plant` fixture which orders them itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection


class Planter:
    def __init__(self, conn: psycopg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run statement (committed at once) and return its rows, if any."""
        cur = self.conn.execute(statement, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []

    def table(self, name: str, columns: str, *, rows: int = 0, fill: str | None = None) -> str:
        """Create schema.name (autovacuum off) with columns, insert rows from the fill SELECT over i, return it."""
        qualified = f"{self.schema}.{name}"
        self.sql(f"CREATE TABLE {qualified} ({columns}) WITH (autovacuum_enabled = false)")
        # Planted tables stand for the product's tables, which the EXPLAIN console's role may read.
        self.sql(
            f"""
            DO $$ BEGIN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'schemaadmin_explain') THEN
                    GRANT USAGE ON SCHEMA {self.schema} TO schemaadmin_explain;
                    GRANT SELECT ON {qualified} TO schemaadmin_explain;
                END IF;
            END $$
            """  # noqa: S608 -- a test schema name
        )
        if rows:
            self.sql(f"INSERT INTO {qualified} SELECT {fill} FROM generate_series(1, {rows}) AS i")  # noqa: S608 -- a test schema name
            # Counted now, so a VACUUM or ANALYZE that follows resets them rather than being added to later.
            self.flush_stats()
        return qualified

    def flush_stats(self) -> None:
        """Publish this connection's pending usage counters now (PostgreSQL 15+ batches them)."""
        self.sql("SELECT pg_stat_force_next_flush()")


def connect_to_test_database(*, autocommit: bool = True) -> psycopg.Connection:
    """Open a connection of its own to the test database as the application's role (its password included, which
    conn.info.dsn and get_parameters() leave out: a server that asks for one refused such copies)."""
    params = connection.settings_dict
    return psycopg.connect(
        dbname=params["NAME"],
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        autocommit=autocommit,
    )


@pytest.fixture
def planter(django_db_setup, django_db_blocker) -> Iterator[Planter]:
    conn = connect_to_test_database()
    schema = f"planted_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield Planter(conn, schema)
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


@pytest.fixture
def plant(planter, db) -> Planter:
    """Return the planter, set up before (so torn down after) the test's own transaction."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
    return planter


def plant_findings(planter: Planter) -> Planter:
    """Plant docs with an invalid index (critical), a duplicate pair and an unindexed vector column (warnings)."""
    s = planter.schema
    planter.table("docs", "id int PRIMARY KEY, x int, embedding vector(3)", rows=50, fill="i, 1, '[1,2,3]'")
    with pytest.raises(Exception, match="could not create unique index"):
        planter.sql(f"CREATE UNIQUE INDEX CONCURRENTLY docs_x_uniq ON {s}.docs (x)")
    planter.sql(f"CREATE INDEX docs_x_a ON {s}.docs (x)")
    planter.sql(f"CREATE INDEX docs_x_b ON {s}.docs (x)")
    planter.sql(f"ANALYZE {s}.docs")
    return planter
