"""Pages while another session holds a table ACCESS EXCLUSIVE (a migration, a VACUUM FULL, a LOCK TABLE left open):
the health pages read around it, say so, and show it again once it is free; a page that must read the table itself
says it is locked (tests/test_middleware.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from schemaadmin.pg.connection import own_connection

pytestmark = pytest.mark.django_db

HEALTH_PAGES = ["/", "/tables/", "/findings/", "/indexes/", "/tables/?q=held"]


@pytest.fixture
def lock() -> Iterator[Callable[[str], int]]:
    """Return lock(table): another session takes it ACCESS EXCLUSIVE, until the test ends; its pid."""
    lockers: list[psycopg.Connection] = []

    def take(table: str) -> int:
        locker = own_connection(autocommit=False)
        lockers.append(locker)
        locker.execute("SET lock_timeout = '10s'")  # fail rather than hang if something here holds it already
        locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # held until its transaction ends
        return locker.info.backend_pid

    yield take
    for locker in lockers:
        locker.rollback()
        locker.close()


@pytest.fixture
def held(plant):
    """A planted table with indexes of its own, one serving its foreign key."""
    base = plant.table("base", "id int PRIMARY KEY", rows=5, fill="i")
    table = plant.table("held", f"id int PRIMARY KEY, ref int REFERENCES {base}, note text", rows=5, fill="i, i, 'n'")
    plant.sql(f"CREATE INDEX held_note ON {table} (note)")
    plant.sql(f"CREATE INDEX held_ref ON {table} (ref)")
    plant.sql(f"ANALYZE {table}")
    return table


@pytest.mark.parametrize("url", HEALTH_PAGES)
def test_health_pages_read_around_a_locked_table_and_say_who_holds_it(client_as, held, lock, settings, url):
    # The lock_timeout off: a page that still waited for the lock would be stopped by the statement timeout (503).
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    client = client_as("dba")
    client.get("/indexes/")  # the index list kept from before the lock
    pid = lock(held)
    response = client.get(url)
    assert response.status_code == 200, response.content.decode()[:300]
    body = response.content.decode()
    banner = body[body.index('data-testid="locked-relations"') :].split("</div>")[0]
    assert "held" in banner and f"Held by pid {pid}" in banner and 'href="/activity/"' in banner
    if url == "/indexes/":
        assert "held_note" not in body  # left out while its table cannot be opened
        assert [(r.name, r.holders) for r in response.context["report"].snapshot.locked] == [("held", (pid,))]


def test_once_the_lock_is_released_the_pages_show_the_table_s_indexes_again(client_as, held, lock, settings):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    client = client_as("dba")
    with own_connection(autocommit=False) as locker:
        locker.execute(f"LOCK TABLE {held} IN ACCESS EXCLUSIVE MODE")
        during = client.get("/indexes/")
        locker.rollback()
    after = client.get("/indexes/").content.decode()
    assert "held_note" not in during.content.decode()
    assert "held_note" in after and 'data-testid="locked-relations"' not in after
    tables = client.get("/tables/?q=held").context["report"].snapshot.tables
    assert [t.locked for t in tables if t.name == "held"] == [False]


def test_no_finding_is_made_of_a_locked_table_whose_indexes_were_not_read(client_as, held, lock, settings):
    # Its foreign key's index was not read while the table was locked: that is no missing index.
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    client = client_as("dba")
    lock(held)
    findings = client.get("/findings/").context["report"].findings
    assert not [f.code for f in findings if f.table == "held"]


def test_a_locked_table_s_size_is_its_last_count(client_as, held, lock, settings):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    client = client_as("dba")
    before = next(t for t in client.get("/tables/?q=held").context["report"].snapshot.tables if t.name == "held")
    lock(held)
    during = next(t for t in client.get("/tables/?q=held").context["report"].snapshot.tables if t.name == "held")
    assert during.locked and not before.locked
    # ANALYZE counted its pages: the heap's count is its size (the free space and visibility maps are not counted).
    assert during.table_bytes == before.table_bytes > 0


def test_the_overview_of_someone_without_health_pages_shows_the_product_tables_beside_a_locked_one(
    client_as, lock, settings
):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    client = client_as("support")
    lock("public.conversation_preferences")
    response = client.get("/")
    assert response.status_code == 200
    assert [t.table for t in response.context["tables"]][:2] == ["users", "conversations"]
