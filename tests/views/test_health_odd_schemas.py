"""Another project's schema, with every kind of object the health pages meet in the wild: each page, each index's and
table's own page, the rebuild review of each index and the JSON command answer it without failing."""

from __future__ import annotations

import io
import json
from urllib.parse import quote

from django.core.management import call_command
from django.test import Client

from schemaadmin.pg.indexes import indexes
from schemaadmin.pg.relations import tables

ODD_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA {s};
CREATE TABLE {s}."Weird Name" ("Col A" int, "x""y" text, b boolean, arr int[], j jsonb, g point, v tsvector);
CREATE INDEX "idx with space" ON {s}."Weird Name" ("Col A") INCLUDE ("x""y");
CREATE INDEX ON {s}."Weird Name" USING brin ("Col A");
CREATE INDEX ON {s}."Weird Name" USING hash ("x""y");
CREATE INDEX ON {s}."Weird Name" USING gin (j jsonb_path_ops);
CREATE INDEX ON {s}."Weird Name" USING gin (arr);
CREATE INDEX ON {s}."Weird Name" USING gist (g);
CREATE INDEX ON {s}."Weird Name" USING spgist (g);
CREATE INDEX ON {s}."Weird Name" USING gin (v);
CREATE INDEX ON {s}."Weird Name" (lower("x""y") DESC NULLS LAST) WHERE b;
CREATE INDEX ON {s}."Weird Name" (("Col A" + 1), (j->>'k'));
CREATE TABLE {s}.booking (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, during tsrange, room int,
    EXCLUDE USING gist (room WITH =, during WITH &&)
);
CREATE TABLE {s}.pairs (a int, b int, UNIQUE NULLS NOT DISTINCT (a, b));
CREATE TABLE {s}.generated (a int, b int GENERATED ALWAYS AS (a * 2) STORED);
CREATE INDEX ON {s}.generated (b);
CREATE UNLOGGED TABLE {s}.scratch (id bigserial PRIMARY KEY, t text);
CREATE TABLE {s}.events (at date NOT NULL, id int, PRIMARY KEY (at, id)) PARTITION BY RANGE (at);
CREATE TABLE {s}.events_h1 PARTITION OF {s}.events FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
CREATE TABLE {s}.events_h2 PARTITION OF {s}.events FOR VALUES FROM ('2026-07-01') TO ('2027-01-01')
    PARTITION BY HASH (id);
CREATE TABLE {s}.events_h2_0 PARTITION OF {s}.events_h2 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE {s}.events_h2_1 PARTITION OF {s}.events_h2 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE INDEX ON {s}.events (id);
CREATE TABLE {s}.parent (id int PRIMARY KEY, name text);
CREATE TABLE {s}.child (extra int) INHERITS ({s}.parent);
CREATE TABLE {s}.links (
    id int PRIMARY KEY, parent int REFERENCES {s}.parent (id) DEFERRABLE INITIALLY DEFERRED,
    self int REFERENCES {s}.links (id)
);
CREATE MATERIALIZED VIEW {s}.names AS SELECT id, name FROM {s}.parent;
CREATE UNIQUE INDEX ON {s}.names (id);
CREATE DOMAIN {s}.positive AS int CHECK (VALUE > 0);
CREATE TYPE {s}.pair AS (a int, b text);
CREATE TABLE {s}.typed (p {s}.positive, c {s}.pair, e text COLLATE "C");
CREATE INDEX ON {s}.typed (e text_pattern_ops);
CREATE INDEX ON {s}.typed (e COLLATE "POSIX");
CREATE VIEW {s}.plain_view AS SELECT 1 AS one;
CREATE SEQUENCE {s}.lonely;
CREATE TABLE {s}."Ünïcødé 表" (id int PRIMARY KEY, "ключ" text);
CREATE INDEX "индекс" ON {s}."Ünïcødé 表" ("ключ");
CREATE TABLE {s}.vectors (id int PRIMARY KEY, e vector(3), h halfvec(3000), sv sparsevec(100), bits bit(64));
CREATE INDEX ON {s}.vectors USING hnsw (e vector_l2_ops);
CREATE INDEX ON {s}.vectors USING ivfflat (e vector_cosine_ops) WITH (lists = 1);
CREATE INDEX ON {s}.vectors USING hnsw (h halfvec_cosine_ops);
CREATE INDEX ON {s}.vectors USING hnsw (bits bit_hamming_ops);
CREATE INDEX ON {s}.vectors USING hnsw ((e::halfvec(3)) halfvec_ip_ops);
INSERT INTO {s}.parent SELECT i, 'n' || i FROM generate_series(1, 50) AS i;
ANALYZE {s}.parent
"""


# No django_db mark: it would open the test's transaction before `plant`, whose schema then could not be dropped
# while that transaction still holds the locks reading it took (a sequence's, until the transaction ends).
def test_every_health_page_reads_an_odd_schema(plant, role_user):
    s = plant.schema
    for statement in ODD_SCHEMA.format(s=s).split(";\n"):
        plant.sql(statement)
    client = Client(raise_request_exception=False)
    client.force_login(role_user("superuser"))
    pages = ["/", "/indexes/", "/indexes/?problems=on", "/tables/", "/tables/?problems=on", "/findings/"]
    pages += ["/schema/tables/", f"/schema/tables/?q={s}", f"/schema/tables/diagram/?q={s}"]
    planted_indexes = [index for index in indexes() if index.schema == s]
    planted_tables = [table for table in tables() if table.schema == s]
    assert len(planted_indexes) >= 30 and len(planted_tables) >= 15
    pages += [f"/indexes/{s}.{quote(index.name, safe='')}/" for index in planted_indexes]
    pages += [f"/tables/{s}.{quote(table.name, safe='')}/" for table in planted_tables]
    failed = [(page, status) for page in pages if (status := client.get(page).status_code) != 200]
    # The rebuild review takes any index; it may refuse one it cannot rebuild, with a sentence, never a failure.
    for index in planted_indexes:
        response = client.get("/rebuilds/new", {"index": f"{s}.{index.name}"})
        if response.status_code not in (200, 400):
            failed.append((f"/rebuilds/new?index={s}.{index.name}", response.status_code))
    assert not failed
    out = io.StringIO()
    call_command("index_health", "--format", "json", stdout=out)
    report = json.loads(out.getvalue())
    planted = {(f["code"], f["table"]) for f in report["findings"] if f["schema"] == s}
    # A few it must see here: an inheritance child has no key of its own, a self-reference wants its index too.
    assert {("no_primary_key", "child"), ("missing_fk_index", "links"), ("no_primary_key", "Weird Name")} <= planted
