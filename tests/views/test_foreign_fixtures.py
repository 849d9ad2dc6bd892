"""Another project's database, as the dashboard meets it: hostile names in a schema with a hostile name of its own,
partitions with a default one, every kind of index option, pgvector's index types, an invalid index and a table of a
role that grants the application nothing. Every read page that lists or shows them answers, as the role that reads
it, names them as the other pages do, and says what it could not read."""

from __future__ import annotations

import io
import json
import re
import uuid
from html import unescape
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from schemaadmin.pg.indexes import indexes
from schemaadmin.pg.names import qualify
from schemaadmin.pg.relations import tables
from schemaadmin.services.schema.drift_checks import run_drift_check, start_drift_check
from tests.worker import clear_jobs

EXACT_63 = "a" * 61 + "é"  # 63 bytes, its last character two of them
EXACT_63_CJK = "i" * 60 + "表"  # 63 bytes, its last character three of them
EXACT_63_TABLE = "Т" * 31 + "x"  # 63 bytes of two-byte letters and one

# Statements split on ";\n"; {s} is the quoted schema.
FOREIGN_SCHEMA = '''
CREATE TABLE {s}."Mixed Case" (id int PRIMARY KEY, "Dot.Col" text, "100%" int, "say ""hi""" text, "ключ" text);
CREATE INDEX "Idx ""quoted"" 100%.x" ON {s}."Mixed Case" ("Dot.Col" COLLATE "C" text_pattern_ops DESC NULLS FIRST)
    INCLUDE ("100%");
CREATE INDEX "{long63}" ON {s}."Mixed Case" ("ключ");
CREATE INDEX "{long63cjk}" ON {s}."Mixed Case" (lower("say ""hi""") ASC NULLS FIRST);
CREATE INDEX "partial (quoted)" ON {s}."Mixed Case" ("100%")
    WHERE "Dot.Col" <> 'it''s (not) "here"' AND "say ""hi""" LIKE '%)%';
CREATE INDEX "wide" ON {s}."Mixed Case" (
    (coalesce("Dot.Col", '') || coalesce("say ""hi""", '') || coalesce("ключ", '') || repeat('x', 3)),
    (length(coalesce("Dot.Col", '') || 'a very long literal that makes the definition wide, wider than a line')),
    (md5(coalesce("ключ", '') || 'another long literal, with commas, (parentheses) and ''quotes'' in it')),
    id, "100%", "Dot.Col", "ключ")
    WHERE id > 0 AND "Dot.Col" IS NOT NULL AND "ключ" NOT IN ('a', 'b', 'c)', 'd''(', '"e"');
CREATE TABLE {s}."Part.Events" (at date NOT NULL, id int NOT NULL, body text, PRIMARY KEY (at, id))
    PARTITION BY RANGE (at);
CREATE TABLE {s}."Part.Events 2026" PARTITION OF {s}."Part.Events" FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE {s}."Part.Events default" PARTITION OF {s}."Part.Events" DEFAULT;
CREATE INDEX "Part idx" ON {s}."Part.Events" (lower(body) DESC NULLS FIRST) WHERE body <> '';
INSERT INTO {s}."Part.Events" SELECT DATE '2025-06-01' + i, i, 'b' || i FROM generate_series(1, 400) AS i;
CREATE UNLOGGED TABLE {s}."Unlogged ü" (id bigserial PRIMARY KEY, t text);
CREATE TABLE {s}.generated (a int, "b%" int GENERATED ALWAYS AS (a * 2) STORED);
CREATE INDEX ON {s}.generated ("b%");
CREATE TABLE {s}.booking (id int PRIMARY KEY, during tsrange,
    CONSTRAINT "no overlap ""x""" EXCLUDE USING gist (during WITH &&));
CREATE TABLE {s}.pairs (a int, b int);
CREATE UNIQUE INDEX "pairs nnd" ON {s}.pairs (a, b) NULLS NOT DISTINCT;
CREATE TABLE {s}."Embeddings" (id bigint PRIMARY KEY, embedding vector(1536), h halfvec(3000), bits bit(64),
    sv sparsevec(1000), big vector(3072));
CREATE INDEX "hnsw l2" ON {s}."Embeddings" USING hnsw (embedding vector_l2_ops) WITH (m = 24, ef_construction = 100);
CREATE INDEX "ivf lists" ON {s}."Embeddings" USING ivfflat (embedding vector_cosine_ops) WITH (lists = 10);
CREATE INDEX "half 3072" ON {s}."Embeddings" USING hnsw ((big::halfvec(3072)) halfvec_cosine_ops);
CREATE INDEX "half col" ON {s}."Embeddings" USING hnsw (h halfvec_l2_ops);
CREATE INDEX "bits" ON {s}."Embeddings" USING hnsw (bits bit_hamming_ops);
CREATE INDEX "sparse" ON {s}."Embeddings" USING hnsw (sv sparsevec_l2_ops);
INSERT INTO {s}."Embeddings" (id) SELECT i FROM generate_series(1, 20) AS i;
CREATE TABLE {s}."Dupes" (id int PRIMARY KEY, x int);
INSERT INTO {s}."Dupes" SELECT i, 1 FROM generate_series(1, 20) AS i;
CREATE TABLE {s}."{long63table}" (id int, "ссылка" int REFERENCES {s}."Dupes" (id), v int);
CREATE INDEX "dup a" ON {s}."{long63table}" (v);
CREATE INDEX "dup b" ON {s}."{long63table}" (v);
ANALYZE {s}."Part.Events";
ANALYZE {s}."Mixed Case"
'''

# Run as the superuser: a table SchemaAdmin's role neither owns nor may read, with an identity sequence and indexes.
NOT_YOURS = """
CREATE TABLE {s}."Not yours" (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, secret text, e vector(3));
CREATE INDEX "not yours hnsw" ON {s}."Not yours" USING hnsw (e vector_cosine_ops);
CREATE INDEX "not yours secret" ON {s}."Not yours" (secret);
INSERT INTO {s}."Not yours" (secret, e) SELECT 's' || i, '[1,2,3]' FROM generate_series(1, 50) AS i;
ANALYZE {s}."Not yours";
ALTER TABLE {s}."Not yours" OWNER TO {stranger};
REVOKE ALL ON {s}."Not yours" FROM PUBLIC
"""


@pytest.fixture
def foreign(planter, superuser_sql, settings):
    """Plant the other project's schema, and in it a table of a role that grants SchemaAdmin's nothing; return the
    schema's name. The live schema page and drift compare it (APP_SCHEMAS)."""
    schema = f'Odd "Sch.ema" 100% ü {uuid.uuid4().hex[:6]}'
    s = '"' + schema.replace('"', '""') + '"'
    stranger = f"stranger_{uuid.uuid4().hex[:8]}"
    planter.sql(f"CREATE SCHEMA {s}")
    try:
        planted = FOREIGN_SCHEMA.format(s=s, long63=EXACT_63, long63cjk=EXACT_63_CJK, long63table=EXACT_63_TABLE)
        for statement in planted.split(";\n"):
            planter.sql(statement)
        with pytest.raises(Exception, match="could not create unique index"):
            planter.sql(f'CREATE UNIQUE INDEX CONCURRENTLY "dupes x (invalid)" ON {s}."Dupes" (x)')
        superuser_sql(f"CREATE ROLE {stranger} NOLOGIN")
        superuser_sql(NOT_YOURS.format(s=s, stranger=stranger))
        settings.SCHEMAADMIN = {"APP_SCHEMAS": ["public", schema]}
        yield schema
    finally:
        planter.sql(f"DROP SCHEMA {s} CASCADE")
        superuser_sql(f"DROP ROLE IF EXISTS {stranger}")


def _signed_in(role_user, role: str) -> Client:
    client = Client()
    client.force_login(role_user(role))
    return client


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def _as_postgresql_quotes(schema: str, name: str) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT format('%%I.%%I', %s::text, %s::text)", [schema, name])
        return cur.fetchone()[0]


def _url(prefix: str, schema: str, name: str) -> str:
    return f"{prefix}{quote(qualify(schema, name), safe='')}/"


# `foreign` before `db`: the schema is dropped after the test's transaction has let go of what it read.
def test_every_read_page_shows_another_project_s_objects_to_the_role_that_reads_them(foreign, db, role_user):
    schema = foreign
    operator, dba = _signed_in(role_user, "operator"), _signed_in(role_user, "dba")
    planted_indexes = [index for index in indexes() if index.schema == schema]
    planted_tables = [table for table in tables() if table.schema == schema]
    assert len(planted_indexes) == 31 and len(planted_tables) == 12

    for url in ("/", "/tables/?per_page=200", "/findings/?per_page=200", "/schema/tables/diagram/"):
        _page(operator, url)
    listed = _page(operator, "/indexes/?scope=other&per_page=200")
    for index in planted_indexes:
        assert f'data-index="{qualify(schema, index.name)}"' in unescape(listed)
        page = _page(operator, _url("/indexes/", schema, index.name))
        assert index.creating_definition in unescape(page)
        # The review of a REINDEX: the statement it will run, or a sentence saying why it cannot (an exclusion
        # constraint's index, or a table SchemaAdmin's role does not own), never a failure.
        review = dba.get("/rebuilds/new", {"index": qualify(schema, index.name), "kind": "reindex", "review": "1"})
        text = unescape(review.content.decode())
        if index.table == "Not yours":
            assert review.status_code == 400 and "which SchemaAdmin's database role does not own" in text
        elif index.is_exclusion:
            assert review.status_code == 400 and "enforces an exclusion constraint" in text
        else:
            assert review.status_code == 200
            assert f"REINDEX INDEX CONCURRENTLY {_as_postgresql_quotes(schema, index.name)};" in text
    for table in planted_tables:
        response = operator.get(_url("/tables/", schema, table.name))
        assert response.status_code == 200 and response.context["table"].name == table.name
        card = _page(operator, f"/schema/tables/?table={quote(qualify(schema, table.name), safe='')}")
        assert f'data-table="{qualify(schema, table.name)}"' in unescape(card)

    out = io.StringIO()
    call_command("index_health", "--format", "json", stdout=out)
    report = json.loads(out.getvalue())
    assert {i["name"] for i in report["indexes"] if i["schema"] == schema} == {i.name for i in planted_indexes}
    codes = {(f["code"], f["table"]) for f in report["findings"] if f["schema"] == schema}
    assert {("invalid_index", "Dupes"), ("missing_fk_index", EXACT_63_TABLE), ("no_primary_key", "pairs")} <= codes
    # What the role could not read is said: the identity sequence of the table it may not read.
    (unreadable,) = [f for f in report["findings"] if f["code"] == "sequences_unreadable"]
    assert qualify(schema, "Not yours_id_seq") in unreadable["message"]


def _drift_objects(page: str) -> dict[str, str]:
    """Return each drift finding's object on the page, with its code."""
    return {unescape(about): code for code, about in re.findall(r'data-code="(\w+)" data-object="([^"]*)"', page)}


def test_drift_names_another_project_s_tables_as_every_other_page_does(foreign, db, role_user):
    """A table was named f"{schema}.{table}": "Odd "Sch.ema" ….Part.Events", which reads as other schemas'."""
    schema = foreign
    run_drift_check(start_drift_check(user=None).pk)
    clear_jobs()
    page = _page(_signed_in(role_user, "operator"), "/schema/drift/")
    objects = _drift_objects(page)
    for table in ("Part.Events", "Mixed Case", "Not yours", EXACT_63_TABLE):
        assert objects[qualify(schema, table)] == "unexpected_table", sorted(objects)
    said = unescape(page)
    assert f"Table {qualify(schema, 'Part.Events')} (partitioned, with 2 partitions below it" in said
    assert f'DROP TABLE "{schema.replace(chr(34), chr(34) * 2)}"."Part.Events";' in said
