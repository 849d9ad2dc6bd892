"""Names with a slash, a dot or an edge space: the health lists link each object to its own page, which opens it
(and not a look-alike), and the rebuild review takes the name its page hands it."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import unquote

from django.test import Client

from schemaadmin.pg.names import qualify


def _links(html: str, prefix: str) -> dict[str, str]:
    """Return the page's links under prefix: {as the browser requests it (percent-decoded): as written}."""
    return {unquote(unescape(href)): unescape(href) for href in re.findall(rf'href="({prefix}[^"]*)"', html)}


def test_odd_names_link_to_their_own_pages(plant, role_user):
    s = plant.schema
    dotted = f"{s}.sub"  # a schema whose name holds a dot, beside a table "sub.t" in s: both read s.sub.t unquoted
    plant.sql(f'CREATE TABLE {s}."sub.t" (id int PRIMARY KEY)')
    plant.sql(f'CREATE SCHEMA "{dotted}"')
    try:
        plant.sql(f'CREATE TABLE "{dotted}".t (nokey int)')
        plant.sql(f'CREATE TABLE {s}."a/b" (id int PRIMARY KEY, v int)')
        plant.sql(f'CREATE INDEX "i/slash" ON {s}."a/b" (v)')
        plant.sql(f'CREATE INDEX "trail " ON {s}."a/b" (id, v)')
        client = Client()
        client.force_login(role_user("dba"))
        tables = client.get("/tables/", {"scope": "other", "per_page": 200})
        indexes = client.get("/indexes/", {"scope": "other", "per_page": 200})
        findings = client.get("/findings/", {"per_page": 200})
        assert (tables.status_code, indexes.status_code, findings.status_code) == (200, 200, 200)

        table_links = _links(tables.content.decode(), "/tables/")
        index_links = _links(indexes.content.decode(), "/indexes/")
        wanted = {
            qualify(s, "sub.t"): (s, "sub.t"),
            qualify(dotted, "t"): (dotted, "t"),
            qualify(s, "a/b"): (s, "a/b"),
        }
        assert len(set(wanted)) == 3
        for name, (schema, table) in wanted.items():
            link = next(link for link in table_links if link.startswith(f"/tables/{name}/"))
            page = client.get(link)
            assert page.status_code == 200, link
            assert page.context["table"].schema == schema and page.context["table"].name == table
        # The finding about the dotted schema's table stays on its own page, not on its look-alike's.
        assert [f.code for f in client.get(f"/tables/{qualify(s, 'sub.t')}/").context["findings"]] == []
        assert "no_primary_key" in {f.code for f in client.get(f"/tables/{qualify(dotted, 't')}/").context["findings"]}

        for index in ("i/slash", "trail "):
            link = next(link for link in index_links if link.startswith(f"/indexes/{qualify(s, index)}/"))
            page = client.get(link)
            assert page.status_code == 200 and page.context["index"].name == index
            (rebuild,) = _links(page.content.decode(), "/rebuilds/new").values()
            review = client.get(rebuild)
            assert review.status_code == 200, review.content.decode()[:2000]
    finally:
        plant.sql(f'DROP SCHEMA "{dotted}" CASCADE')


def test_a_name_with_a_nul_is_no_page(plant, role_user):
    client = Client()
    client.force_login(role_user("dba"))
    assert client.get("/indexes/public.users%00/").status_code == 404
    assert client.get("/tables/public.users%00/").status_code == 404
