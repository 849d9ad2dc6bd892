"""The archives on /schema/: listed with their size and restore text; dropped by a DBA with the name typed."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from schemaadmin.models import AuditEvent
from schemaadmin.pg.archive import archive_columns
from schemaadmin.services.schema.archive import archives

NAME = "apply7_schema_fixtures_widget__name"


@pytest.fixture
def archive(db):
    with connection.cursor() as cur:
        cur.execute("INSERT INTO schema_fixtures_widget (name) SELECT 'w' || i FROM generate_series(1, 20) i")
    about = {
        "source": "schema_fixtures_widget.name",
        "migration": "schema_fixtures.0099_x",
        "apply": 7,
        "archived_at": "2026-12-06T02:37:09+00:00",
        "restore": "Reverse schema_fixtures.0099_x (…), then: UPDATE …",
    }
    archive_columns("schema_fixtures_widget", ["id", "name"], schema="schemaadmin_archive", name=NAME, about=about)
    return NAME


def test_operators_see_the_archives_with_size_and_restore_text_but_no_drop(client_as, archive):
    client = client_as("operator")
    response = client.get("/schema/")
    body = response.content.decode()
    assert response.status_code == 200
    assert f'data-archive="{NAME}"' in body and "schema_fixtures_widget.name" in body
    assert '<td class="text-end">20</td>' in body  # the rows copied
    size = body.split('data-testid="archive-size">')[1].split("<")[0]
    assert "Reverse schema_fixtures.0099_x" in body and re.fullmatch(r"[\d.]+ (bytes|kB|MB)", size), size
    # When it was archived, as every time on the page: a <time> the browser shows in the viewer's zone.
    made = body.split(f'data-archive="{NAME}"')[1].split("</li>")[0]
    assert re.search(r'before <code>schema_fixtures.0099_x</code>, <time datetime="[^"]+Z"', made), made
    assert 'name="typed_name"' not in body
    assert client.post("/schema/archives/drop", {"name": NAME, "typed_name": NAME}).status_code == 403
    assert [a.name for a in archives()] == [NAME]


def test_a_dba_drops_an_archive_only_with_its_name_typed_and_it_is_audited(client_as, archive):
    client = client_as("dba")
    assert 'name="typed_name"' in client.get("/schema/").content.decode()

    wrong = client.post("/schema/archives/drop", {"name": NAME, "typed_name": "apply7"}, follow=True)
    assert f"Type “{NAME}” exactly to drop it." in wrong.content.decode()
    # A name's edge spaces are part of it: between quotes, they can be seen (and typed).
    edged = client.post("/schema/archives/drop", {"name": "b ", "typed_name": "b"}, follow=True)
    assert "Type “b ” exactly to drop it." in edged.content.decode()
    assert [a.name for a in archives()] == [NAME]

    missing = client.post("/schema/archives/drop", {"name": "nope", "typed_name": "nope"}, follow=True)
    assert "There is no archive schemaadmin_archive.nope." in missing.content.decode()
    refused = AuditEvent.objects.get(action="migrations.archive_drop_refused", target="schemaadmin_archive.nope")
    assert refused.detail["reason"].startswith("There is no archive")

    done = client.post("/schema/archives/drop", {"name": NAME, "typed_name": NAME})
    assert done.status_code == 302 and done["Location"] == "/schema/#archives"
    assert archives() == []
    event = AuditEvent.objects.get(action="migrations.archive_dropped")
    assert event.target == f"schemaadmin_archive.{NAME}" and event.actor_username == "dba-user"
    assert event.detail["source"] == "schema_fixtures_widget.name"
    assert "No archives." in client.get("/schema/").content.decode()


def test_a_drop_refused_for_its_name_mistyped_is_audited_with_what_was_asked(client_as, archive):
    client = client_as("dba")
    wrong = client.post("/schema/archives/drop", {"name": NAME, "typed_name": "apply7"})
    assert wrong.status_code == 302 and wrong["Location"] == "/schema/#archives"
    assert f"Type “{NAME}” exactly to drop it." in client.get("/schema/").content.decode()
    assert [a.name for a in archives()] == [NAME]
    event = AuditEvent.objects.get(action="migrations.archive_drop_refused")
    assert (event.actor_username, event.target) == ("dba-user", f"schemaadmin_archive.{NAME}")
    assert event.detail["reason"] == f"Type the archive's name to drop it: Type “{NAME}” exactly to drop it."


def test_a_hostile_drop_is_refused_and_audited_bounded_and_without_nul(client_as, archive):
    client = client_as("dba")
    hostile = "x\x00" * 50_000
    response = client.post("/schema/archives/drop", {"name": hostile, "typed_name": hostile})
    assert response.status_code == 302 and [a.name for a in archives()] == [NAME]
    event = AuditEvent.objects.get(action="migrations.archive_drop_refused")
    assert event.actor_username == "dba-user" and event.target.startswith("schemaadmin_archive.")
    assert len(event.target) <= 2_000 and "\x00" not in event.target
    assert "Null characters are not allowed." in event.detail["reason"] and len(event.detail["reason"]) <= 2_000


def test_an_archive_something_depends_on_is_kept_and_the_page_says_what(client_as, archive):
    with connection.cursor() as cur:
        cur.execute(f"CREATE VIEW public.reads_archive AS SELECT * FROM schemaadmin_archive.{NAME}")  # noqa: S608
    client = client_as("dba")
    refused = client.post("/schema/archives/drop", {"name": NAME, "typed_name": NAME}, follow=True)
    assert refused.status_code == 200
    page = refused.content.decode()
    assert "was not dropped: other objects depend on it" in page and "view reads_archive depends on" in page
    assert [a.name for a in archives()] == [NAME]
    event = AuditEvent.objects.get(action="migrations.archive_drop_refused")
    assert event.target == f"schemaadmin_archive.{NAME}" and "reads_archive" in event.detail["reason"]
    assert not AuditEvent.objects.filter(action="migrations.archive_dropped").exists()


def _archive_tables(*names: str) -> None:
    with connection.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS schemaadmin_archive")
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            cur.execute(f"CREATE TABLE schemaadmin_archive.{quoted} (id int)")


@pytest.mark.django_db
@pytest.mark.parametrize(("named", "other"), [(" apply1_t", "apply1_t"), ("apply2_t ", "apply2_t")])
def test_an_archive_named_with_an_edge_space_is_the_one_dropped_never_its_neighbour(client_as, named, other):
    """A column named with an edge space gives its archive one: the drop names that table, not the one without."""
    _archive_tables(named, other)
    client_as("dba").post("/schema/archives/drop", {"name": named, "typed_name": named})
    assert [a.name for a in archives()] == [other]
    dropped = AuditEvent.objects.filter(action="migrations.archive_dropped").values_list("target", flat=True)
    assert list(dropped) == [f'schemaadmin_archive."{named}"']
