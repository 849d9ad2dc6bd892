"""Pages while another session holds a table ACCESS EXCLUSIVE (a migration, a VACUUM FULL, a LOCK TABLE left open):
the health pages read around it, say so, and show it again once it is free; a page that must read the table itself
says it is locked (tests/test_middleware.py)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command

from schemaadmin.pg.connection import own_connection
from tests.blocking import holding
from tests.worker import wait_for

pytestmark = pytest.mark.django_db

HEALTH_PAGES = ["/", "/tables/", "/findings/", "/indexes/", "/tables/?q=held"]


@pytest.fixture
def hold() -> Iterator[Callable[[str], int]]:
    """Return hold(statement): another session runs it in a transaction left open until the test ends; its pid."""
    with contextlib.ExitStack() as sessions:
        yield lambda statement: sessions.enter_context(holding(statement))


@pytest.fixture
def lock(hold) -> Callable[[str], int]:
    """Return lock(table): another session takes it ACCESS EXCLUSIVE, until the test ends; its pid."""
    return lambda table: hold(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")


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
    assert "held" in banner and f"held by pid {pid}" in banner and 'href="/activity/"' in banner
    if url == "/indexes/":
        assert "held_note" not in body  # left out while its table cannot be opened
        assert [(r.name, r.holders) for r in response.context["report"].snapshot.locked] == [("held", (pid,))]


def test_once_the_lock_is_released_the_pages_show_the_table_s_indexes_again(client_as, held, settings):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    client = client_as("dba")
    with holding(f"LOCK TABLE {held} IN ACCESS EXCLUSIVE MODE"):
        during = client.get("/indexes/")
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


@pytest.mark.parametrize(
    ("statement", "part"),
    [
        ("REINDEX INDEX {schema}.held_ref", "its index"),  # the index alone; its table only SHARE
        ("TRUNCATE {table}", ""),  # the table, its TOAST table and every index of theirs
    ],
)
def test_a_lock_on_a_table_s_index_or_toast_table_is_read_around_too(client_as, held, hold, settings, statement, part):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    client = client_as("dba")
    pid = hold(statement.format(schema=held.split(".")[0], table=held))
    for url in ("/", "/indexes/", "/tables/", "/findings/", f"/tables/{held}/"):
        response = client.get(url)
        assert response.status_code == 200, (url, response.content.decode()[:300])
        banner = response.content.decode().split('data-testid="locked-relations"')[1].split("</div>")[0]
        assert f"held by pid {pid}" in banner and part in banner, url
        if url == f"/tables/{held}/" and statement.startswith("TRUNCATE"):  # no filter hid them: the lock did
            page = response.content.decode()
            assert "indexes are not read while the table is locked" in page and "Nothing matches" not in page
    # No missing index for the foreign key whose index could not be read.
    findings = client.get("/findings/").context["report"].findings
    assert not [f.code for f in findings if f.table == "held"]
    table = next(t for t in client.get("/tables/").context["report"].snapshot.tables if t.name == "held")
    assert table.locked and table.index_bytes > 0  # its indexes' last counted size, not none


def test_a_locked_partition_keeps_findings_off_its_partitioned_table(client_as, plant, lock, settings):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    s = plant.schema
    plant.table("owner", "id int PRIMARY KEY", rows=3, fill="i")
    plant.sql(
        f"CREATE TABLE {s}.ledger (id int PRIMARY KEY, owner_id int REFERENCES {s}.owner) PARTITION BY RANGE (id)"
    )
    plant.sql(f"CREATE TABLE {s}.ledger_1 PARTITION OF {s}.ledger FOR VALUES FROM (0) TO (100)")
    plant.sql(f"CREATE INDEX ledger_1_owner ON {s}.ledger_1 (owner_id)")  # the key is served partition by partition
    client = client_as("dba")
    codes = {(f.code, f.table) for f in client.get("/findings/").context["report"].findings}
    assert ("missing_fk_index", "ledger") not in codes
    lock(f"{s}.ledger_1")
    report = client.get("/findings/").context["report"]
    assert [r.tables for r in report.snapshot.locked] == [[(s, "ledger_1"), (s, "ledger")]]
    assert not [f.code for f in report.findings if f.table in ("ledger", "ledger_1")]


def test_a_lock_still_queued_names_the_session_it_waits_behind(client_as, held, hold, settings):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    reader = hold(f"SELECT count(*) FROM {held}")  # noqa: S608 -- ACCESS SHARE, kept by its open transaction
    waiter = own_connection(autocommit=False)
    waiting = threading.Thread(target=_lock_quietly, args=(waiter, held), daemon=True)
    waiting.start()
    try:
        client = client_as("dba")
        banner = wait_for(
            lambda: _banner(client.get("/indexes/").content.decode()), what="the queued lock in the banner"
        )
        assert f"pid {waiter.info.backend_pid} waiting to lock it, behind pid {reader}" in banner
        assert "prepared transaction" not in banner and "held by" not in banner
    finally:
        with own_connection() as canceller:
            canceller.execute("SELECT pg_cancel_backend(%s)", [waiter.info.backend_pid])
        waiting.join(timeout=30)
        waiter.close()


def _lock_quietly(connection: psycopg.Connection, table: str) -> None:
    with contextlib.suppress(psycopg.Error):  # cancelled at the end of the test
        connection.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")


def _banner(page: str) -> str:
    return page.split('data-testid="locked-relations"')[1].split("</div>")[0] if "locked-relations" in page else ""


def test_the_schema_page_lists_an_archive_another_session_is_dropping(client_as, plant, lock, settings):
    # DROP TABLE holds the archive ACCESS EXCLUSIVE until its transaction ends: its size is what pg_class counted.
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0, "ARCHIVE_SCHEMA": plant.schema}
    archive = plant.table("apply3_widget__name", "id int, name text", rows=5, fill="i, 'w'")
    plant.sql(f"""COMMENT ON TABLE {archive} IS '{{"source": "widget.name", "rows": 5}}'""")
    lock(archive)
    response = client_as("operator").get("/schema/")
    assert response.status_code == 200, response.content.decode()[:300]
    assert 'data-archive="apply3_widget__name"' in response.content.decode()


def test_a_partitioned_table_locked_whole_is_one_line_of_the_banner_and_the_command(client_as, plant, hold, settings):
    # TRUNCATE of a partitioned table locks it, each partition, their indexes and TOAST tables: one line says so.
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    s = plant.schema
    plant.sql(f"CREATE TABLE {s}.journal (id int, note text) PARTITION BY RANGE (id)")
    for n in range(3):
        plant.sql(
            f"CREATE TABLE {s}.journal_{n} PARTITION OF {s}.journal FOR VALUES FROM ({n * 10}) TO ({n * 10 + 10})"
        )
    plant.sql(f"CREATE INDEX journal_id ON {s}.journal (id)")
    pid = hold(f"TRUNCATE {s}.journal")
    banner = _banner(client_as("dba").get("/indexes/").content.decode())
    lines = [line.strip() for line in banner.split("<li>")[1:]]
    assert len(lines) == 1, lines
    assert "journal" in lines[0] and "3 partitions" in lines[0] and "3 indexes" in lines[0]
    assert "3 TOAST tables" in lines[0] and lines[0].count(f"held by pid {pid}") == 1
    text = StringIO()
    call_command("index_health", stdout=text)
    locked = [line for line in text.getvalue().splitlines() if line.startswith("Locked by another session")]
    assert locked == [
        f"Locked by another session, not read: {s}.journal (the table, 3 partitions, 3 indexes and 3 TOAST tables), "
        f"held by pid {pid}; its indexes and findings are left out."
    ]


def test_the_live_schema_shows_a_locked_table_s_columns_and_says_the_rest_waits_for_the_lock(client_as, lock, settings):
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    client = client_as("operator")
    before = client.get("/schema/tables/?q=conversation_messages").content.decode()
    assert "messages_content_fts" in before and 'data-testid="table-locked"' not in before
    pid = lock("public.conversation_messages")
    response = client.get("/schema/tables/?q=conversation_messages")
    assert response.status_code == 200, response.content.decode()[:300]
    body = response.content.decode()
    assert f"held by pid {pid}" in _banner(body)
    assert [(r.table_name, r.holders) for r in response.context["snapshot"].locked] == [
        ("conversation_messages", (pid,))
    ]
    card = body[body.index('data-table="public.conversation_messages"') :].split("</details>")[0]
    assert 'data-testid="table-locked"' in card and 'data-testid="locked-note"' in card
    assert "<code>search_vector</code>" in card  # its columns, by name and type
    # Its constraints, indexes and triggers are not read.
    assert "messages_content_fts" not in card and card.count("Not read: the table is locked.") == 3
    # The table next to it is read whole.
    other = client.get("/schema/tables/?q=conversation_preferences").content.decode()
    assert 'data-testid="table-locked"' not in other.split('data-testid="locked-relations"')[-1]


@pytest.mark.parametrize(
    "statement", ["LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE", "REINDEX INDEX {schema}.held_ref"]
)
def test_an_index_s_page_says_at_once_who_holds_its_table(client_as, held, hold, settings, statement):
    # Without the lock_timeout, a page that still read the index would wait for the statement timeout (503).
    settings.SCHEMAADMIN = {"WEB_STATEMENT_TIMEOUT_MS": 5_000, "WEB_LOCK_TIMEOUT_MS": 0}
    client = client_as("dba")
    pid = hold(statement.format(table=held, schema=held.split(".")[0]))
    response = client.get(f"/indexes/{held.split('.')[0]}.held_note/")
    assert response.status_code == 200, response.content.decode()[:300]
    body = response.content.decode()
    assert 'data-testid="index-locked"' in body and f"held by pid {pid}" in _banner(body)
    assert client.get(f"/indexes/{held.split('.')[0]}.nope/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_thread_and_its_user_open_at_once_while_only_the_preferences_are_locked(client_as, lock):
    """The preferences are a side panel: a lock on their table (a migration of it) said 503 for every thread."""
    from django.utils import timezone

    from schemaadmin.models import ChatUser, Conversation, ConversationPreference, Message

    now = timezone.now()
    ada = ChatUser.objects.create(external_id="acct-locked-ada", display_name="Ada", email="ada@example.org")
    ConversationPreference.objects.create(user=ada, language="en", tone="formal")
    thread = Conversation.objects.create(user=ada, title="Refund", created_at=now, updated_at=now)
    Message.objects.create(conversation=thread, user=ada, role="user", content="Where is my refund?", created_at=now)
    client = client_as("support")
    assert "formal" in client.get(f"/users/{ada.pk}/").content.decode()  # shown while the table is free
    lock("public.conversation_preferences")
    for url in (f"/conversations/{thread.pk}/", f"/users/{ada.pk}/"):
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200, (url, page[:300])
        assert 'data-testid="preferences-locked"' in page and "formal" not in page, url
    assert "Where is my refund?" in client.get(f"/conversations/{thread.pk}/").content.decode()
