"""The live schema browser and the drift page: full pages, htmx partials, filters, bad input, permissions."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from schemaadmin.models import AuditEvent, DriftCheck, JobState
from schemaadmin.services.schema.drift_checks import run_drift_check, start_drift_check
from schemaadmin.views import schema_live
from tests.worker import clear_jobs

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def operator(client_as):
    return client_as("operator")


def diagram_source(page: str) -> str:
    match = re.search(r'<script id="schema-diagram-source" type="application/json">(.*?)</script>', page, re.S)
    assert match, "the diagram source is on the page"
    return json.loads(match.group(1))


def test_every_table_with_columns_constraints_indexes_and_relations(operator, django_assert_max_num_queries):
    with django_assert_max_num_queries(14):  # session, user, permissions, and eight catalog statements
        response = operator.get("/schema/tables/")
    assert response.status_code == 200
    page = response.content.decode()
    for table in ("public.users", "public.conversations", "public.conversation_messages", "public.django_migrations"):
        assert f'data-table="{table}"' in page
    section = page[page.index('data-table="public.conversations"') :]
    section = section[: section.index("</details>")]
    assert "<code>user_id</code>" in section and '<code title="uuid">uuid</code>' in section and "NOT NULL" in section
    assert '(user_id) → <a href="#table-public-users">public.users</a> (id)' in section
    messages = page[page.index('data-table="public.conversation_messages"') :]
    triggers = messages[messages.index('data-testid="triggers"') : messages.index("</details>")]
    assert "<code>conversation_messages_counts_insert</code>" in triggers and "AFTER INSERT ON public." in triggers
    assert "primary key" in section and "CREATE INDEX" in section
    assert 'href="/tables/public.conversations/"' in section  # operators may open table health

    assert '<iframe id="schema-diagram-frame"' in page and 'src="/schema/tables/diagram/"' in page
    assert "vendor/mermaid" not in page  # Mermaid runs only in the framed diagram document

    diagram = operator.get("/schema/tables/diagram/")
    assert diagram.status_code == 200
    source = diagram_source(diagram.content.decode())
    assert source.startswith("erDiagram\n")
    ids = dict(re.findall(r'^    (t\d+)\["([^"]+)"\] \{$', source, re.M))
    users, conversations, preferences = (
        next(k for k, v in ids.items() if v == name)
        for name in ("public.users", "public.conversations", "public.conversation_preferences")
    )
    lines = source.splitlines()
    assert f'    {users} ||--o{{ {conversations} : "user_id"' in lines  # a user has many conversations
    assert f'    {users} ||--o| {preferences} : "user_id"' in lines  # and at most one preferences row
    assert "        bigint id PK" in lines and "        uuid user_id PK,FK" in lines
    assert "vendor/mermaid/mermaid.min.js" in diagram.content.decode()


def test_only_the_diagram_document_allows_inline_styles_and_only_this_site_may_frame_it(operator):
    page, diagram = operator.get("/schema/tables/"), operator.get("/schema/tables/diagram/")
    assert "unsafe-inline" not in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"
    policy = dict(part.strip().split(" ", 1) for part in diagram["Content-Security-Policy"].split(";"))
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["script-src"].startswith("'self'") and "unsafe" not in policy["script-src"]
    assert policy["frame-ancestors"] == "'self'" and diagram["X-Frame-Options"] == "SAMEORIGIN"


def test_the_filter_narrows_tables_and_diagram_and_bad_input_is_a_400(operator):
    page = operator.get("/schema/tables/", {"q": "conversation"}).content.decode()
    assert 'data-table="public.conversations"' in page and 'data-table="public.users"' not in page
    assert 'src="/schema/tables/diagram/?q=conversation"' in page
    source = diagram_source(operator.get("/schema/tables/diagram/", {"q": "conversation"}).content.decode())
    assert '"public.conversations"' in source and "public.users" not in source  # only the tables shown are drawn

    response = operator.get("/schema/tables/", {"q": "x" * 101})
    assert response.status_code == 400
    assert "at most 100 characters" in response.content.decode()
    assert 'data-testid="schema-table"' not in response.content.decode()


def test_a_table_name_cannot_inject_into_the_diagram_or_the_page(plant, operator, settings):
    s = plant.schema
    plant.sql(f'CREATE TABLE {s}."evil""] {{ x }}\nclick" (id int PRIMARY KEY, "we""ird <b>" int)')
    settings.SCHEMAADMIN = {"APP_SCHEMAS": [s]}
    page = operator.get("/schema/tables/").content.decode()
    source = diagram_source(operator.get("/schema/tables/diagram/").content.decode())
    assert source.count('"') % 2 == 0 and "\nclick" not in source and "<b>" not in source
    assert re.search(r'^    t0\["[^"]+"\] \{$', source, re.M)
    assert "we&quot;ird &lt;b&gt;" in page and "<b>" not in page


def test_the_page_reads_its_tables_triggers_and_no_function_and_the_diagram_neither(operator):
    """The page read every function's definition on each view and showed none; its diagram read both for nothing."""
    for url, shows_triggers in (("/schema/tables/", True), ("/schema/tables/diagram/", False)):
        with CaptureQueriesContext(connection) as queries:
            assert operator.get(url).status_code == 200
        sent = [query["sql"] for query in queries]
        assert not any("pg_get_functiondef" in sql for sql in sent), url
        assert any("pg_get_triggerdef" in sql for sql in sent) is shows_triggers, url


def test_reading_the_drift_page_starts_nothing_and_a_dba_starts_the_replay_it_then_follows(
    operator, client_as, django_assert_max_num_queries
):
    page = operator.get("/schema/drift/").content.decode()
    assert not DriftCheck.objects.exists()  # a GET only reads: no replay queued, no database created
    assert 'data-testid="drift-no-replay"' in page and "No replay of the applied migrations yet" in page
    assert "Not compared with the migrations yet" in page and 'data-testid="no-drift"' not in page
    summary = page[
        page.index('data-testid="drift-summary"') : page.index("</div>", page.index('data-testid="drift-summary"'))
    ]
    assert "0 critical" not in summary and "0 warnings" not in summary and "compared in" not in summary
    assert 'hx-trigger="every 2s"' not in page  # nothing to follow
    # Operators may read drift, not start a replay (it creates a database): no button, and a POST is refused.
    assert 'data-testid="drift-replay"' not in page and "A DBA can start the replay." in page
    assert operator.post("/schema/drift/").status_code == 403
    assert not DriftCheck.objects.exists()

    dba = client_as("dba")
    offered = dba.get("/schema/drift/").content.decode()
    assert '<button type="submit" class="btn btn-primary btn-sm" data-testid="drift-replay">' in offered
    assert 'method="post" action="/schema/drift/"' in offered  # a plain form: it works without JavaScript
    response = dba.post("/schema/drift/")
    assert response.status_code == 302 and response["Location"] == "/schema/drift/"
    check = DriftCheck.objects.get()
    assert check.state == JobState.QUEUED and check.job_id
    assert AuditEvent.objects.filter(action="drift.check_requested", detail__check=check.pk).exists()

    page = operator.get("/schema/drift/").content.decode()
    assert 'data-testid="drift-replaying"' in page and 'hx-trigger="every 2s"' in page
    partial = operator.get("/schema/drift/", **HTMX).content.decode()
    assert "<html" not in partial and partial.lstrip().startswith('<div id="drift-findings"')
    assert dba.post("/schema/drift/").status_code == 302
    assert DriftCheck.objects.count() == 1  # a second request follows the same replay

    run_drift_check(check.pk)  # the job's body, as the worker runs it (test_drift.py runs the worker)
    # session, user, permissions, the stored replay, the live catalog (pg.schema.schema_snapshot, with its code)
    with django_assert_max_num_queries(17):
        done = operator.get("/schema/drift/", **HTMX).content.decode()
    assert "every 2s" not in done and 'data-testid="no-drift"' in done and "applied migrations replayed" in done
    assert DriftCheck.objects.count() == 1
    assert AuditEvent.objects.filter(action="drift.checked", detail__check=check.pk).exists()


def test_a_replay_that_ends_while_the_page_is_read_is_followed_to_its_result(operator, client_as, monkeypatch):
    check = start_drift_check(user=None)
    reading = schema_live.drift_report

    def report_while_the_worker_finishes(**kwargs):
        report = reading(**kwargs)  # read while the replay runs: it awaits the replay
        run_drift_check(check.pk)  # ... and the worker finishes it before the page has been written
        return report

    monkeypatch.setattr(schema_live, "drift_report", report_while_the_worker_finishes)
    racing = operator.get("/schema/drift/", **HTMX).content.decode()
    assert "Not compared with the migrations yet" in racing
    assert 'hx-trigger="every 2s"' in racing  # still polling: the next answer has the result
    monkeypatch.setattr(schema_live, "drift_report", reading)
    done = operator.get("/schema/drift/", **HTMX).content.decode()
    assert "applied migrations replayed" in done and "every 2s" not in done


def test_the_page_says_when_the_migrations_changed_since_the_last_replay(operator):
    DriftCheck.objects.create(state=JobState.SUCCEEDED, fingerprint="older migrations", snapshot={})
    page = operator.get("/schema/drift/").content.decode()
    assert "The applied migrations changed since the last replay" in page
    assert not DriftCheck.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING]).exists()


def test_drift_lists_a_hand_made_index_with_its_fix_and_compare_again_queues_a_fresh_replay(plant, operator, client_as):
    run_drift_check(start_drift_check(user=None).pk)
    clear_jobs()  # as if the worker had taken the job off the queue
    plant.sql("CREATE INDEX hand_made_page ON public.users (display_name)")
    try:
        page = operator.get("/schema/drift/").content.decode()
    finally:
        plant.sql("DROP INDEX public.hand_made_page")
    assert "<html" in page and 'data-testid="drift-replaying"' not in page
    assert 'data-code="unexpected_index" data-object="public.hand_made_page"' in page
    assert "DROP INDEX CONCURRENTLY public.hand_made_page;" in page
    summary = " ".join(page[page.index('data-testid="drift-summary"') :].split()[:40])
    assert "0 critical · 1 warning · 0 info" in summary, summary
    assert "Compare again" not in page  # for a DBA only

    dba = client_as("dba")
    assert "Compare again" in dba.get("/schema/drift/").content.decode()
    response = dba.post("/schema/drift/")
    assert response.status_code == 302 and response["Location"] == "/schema/drift/"
    assert DriftCheck.objects.filter(state=JobState.QUEUED).count() == 1
    assert AuditEvent.objects.filter(action="drift.check_requested").count() == 2


@pytest.mark.parametrize("url", ["/schema/tables/", "/schema/tables/diagram/", "/schema/drift/"])
def test_support_may_not_see_the_schema(client_as, url):
    assert client_as("support").get(url).status_code == 403


def test_the_schema_browser_is_read_only_and_support_cannot_queue_a_drift_check(client_as):
    dba = client_as("dba")
    assert dba.post("/schema/tables/").status_code == 405
    assert dba.put("/schema/drift/").status_code == 405
    assert client_as("support").post("/schema/drift/").status_code == 403
    assert not DriftCheck.objects.exists()


@pytest.mark.django_db
def test_live_schema_lists_product_tables_first_with_contents_collapsed_cards_and_short_types(client_as):
    page = client_as("operator").get("/schema/tables/").content.decode()
    scopes = re.findall(r'data-testid="schema-table" data-table="[^"]+" data-scope="(\w+)"', page)
    assert scopes[0] == "product" and scopes == sorted(scopes, key=["product", "framework", "other"].index)
    tables = re.findall(r'data-testid="schema-table" data-table="([^"]+)"', page)
    contents = page[page.index('data-testid="schema-contents"') : page.index("</nav>", page.index("schema-contents"))]
    assert contents.count('<a href="#table-') == len(tables) and "Product tables (6)" in contents
    assert re.search(r'<details class="card mb-2 schema-table"[^>]*data-table="public.users"[^>]*>', page)
    assert not re.search(r'<details [^>]*data-table="public.users"[^>]* open>', page)  # collapsed
    assert re.search(r'<code title="character varying\(\d+\)">varchar\(\d+\)</code>', page)
    assert ">timestamptz</code>" in page
    diagram = page[page.index('data-testid="diagram-source"') :]
    assert "character_varying" not in diagram and "varchar(" in diagram


def cards(page: str) -> list[str]:
    return re.findall(r'data-testid="schema-table" data-table="([^"]+)"', page)


@pytest.mark.django_db
def test_many_tables_are_shown_a_page_of_cards_at_a_time(client_as, monkeypatch):
    """A partitioned schema reaches thousands of tables: the page was 30 MB at 10,000, every card at once."""
    monkeypatch.setattr(schema_live, "TABLES_A_PAGE", 5)
    operator = client_as("operator")
    first = operator.get("/schema/tables/").content.decode()
    matching = int(re.search(r"1–5 of (\d+) tables", first).group(1))
    assert matching > 10 and len(cards(first)) == 5 and 'rel="next" href="?page=2"' in first
    second = operator.get("/schema/tables/", {"page": "2"}).content.decode()
    assert len(cards(second)) == 5 and not set(cards(first)) & set(cards(second))
    assert 'rel="prev" href="?page=1"' in second and "6–10 of" in second and 'rel="next" href="?page=3"' in second
    last = -(-matching // 5)
    past = operator.get("/schema/tables/", {"page": "999"}).content.decode()  # a page past the end shows the last
    assert f"{5 * (last - 1) + 1}–{matching} of {matching} tables" in past and 'rel="next"' not in past
    assert len(cards(past)) == matching - 5 * (last - 1)
    filtered = operator.get("/schema/tables/", {"q": "_", "page": "2"}).content.decode()  # the filter is kept
    assert 'rel="next" href="?q=_&amp;page=3"' in filtered and 'rel="prev" href="?q=_&amp;page=1"' in filtered
    narrowed = operator.get("/schema/tables/", {"q": "conversation", "page": "1"}).content.decode()
    assert len(cards(narrowed)) == 3 and 'data-testid="pager"' not in narrowed

    everything = []
    for number in range(1, last + 1):
        everything += cards(operator.get("/schema/tables/", {"page": str(number)}).content.decode())
    assert len(everything) == len(set(everything)) == matching


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["0", "-1", "x", "1e3", "99999999999"])
def test_a_bad_page_is_a_400_that_says_so(client_as, page):
    response = client_as("operator").get("/schema/tables/", {"page": page})
    assert response.status_code == 400
    assert "The page is a whole number from 1." in response.content.decode() or "There is no such page." in (
        response.content.decode()
    )


@pytest.mark.django_db
def test_a_foreign_key_to_a_table_on_another_page_links_to_that_table(client_as, monkeypatch, plant):
    """Its name is also part of another table's (a_zq_item sorts first): the link names the table, not a filter."""
    monkeypatch.setattr(schema_live, "TABLES_A_PAGE", 1)
    plant.sql(
        "CREATE TABLE public.zq_item (id int PRIMARY KEY); CREATE TABLE public.a_zq_item (id int PRIMARY KEY);"
        "CREATE TABLE public.zq_order (item_id int REFERENCES public.zq_item (id))"
    )
    operator = client_as("operator")
    try:
        order = operator.get("/schema/tables/", {"q": "zq_order"}).content.decode()
        (link,) = re.findall(r'→ <a href="([^"]+)">public.zq_item</a>', order)
        assert link == "?table=public.zq_item#table-public-zq_item"
        target = operator.get("/schema/tables/" + link.split("#")[0]).content.decode()
        assert cards(target) == ["public.zq_item"] and 'id="table-public-zq_item"' in target
        (back,) = re.findall(r'← <a href="([^"]+)">public.zq_order</a>', target)
        assert cards(operator.get("/schema/tables/" + back.split("#")[0]).content.decode()) == ["public.zq_order"]
        assert 'src="/schema/tables/diagram/?table=public.zq_item"' in target  # the diagram draws that table too
    finally:
        plant.sql("DROP TABLE public.zq_order, public.zq_item, public.a_zq_item")


@pytest.mark.django_db
def test_a_foreign_key_to_a_table_of_another_schema_links_to_that_table_s_card(client_as, plant):
    """Only the app's schemas (APP_SCHEMAS) are listed: the link to a table outside them showed an empty page."""
    s = plant.schema
    plant.sql(
        f"CREATE TABLE {s}.zq_account (id int PRIMARY KEY, label text);"
        f"CREATE TABLE public.zq_payment (account_id int REFERENCES {s}.zq_account (id))"
    )
    operator = client_as("operator")
    try:
        payment = operator.get("/schema/tables/", {"q": "zq_payment"}).content.decode()
        (link,) = re.findall(rf'→ <a href="([^"]+)">{s}.zq_account</a>', payment)
        target = operator.get("/schema/tables/" + link.split("#")[0]).content.decode()
        assert cards(target) == [f"{s}.zq_account"] and "label" in target
        assert f"{s}.zq_account" not in cards(operator.get("/schema/tables/").content.decode())  # not listed by default
    finally:
        plant.sql("DROP TABLE public.zq_payment")


@pytest.mark.django_db
def test_a_column_s_collation_and_comment_are_shown(client_as, plant):
    s = plant.schema
    plant.sql(f'CREATE TABLE {s}.zq_note (body text COLLATE "C", tag text)')
    plant.sql(f"COMMENT ON COLUMN {s}.zq_note.body IS 'what the <b>note</b> says'")
    page = client_as("operator").get("/schema/tables/", {"table": f"{s}.zq_note"}).content.decode()
    assert page.count("COLLATE pg_catalog.&quot;C&quot;") == 1  # body's; tag has its type's
    assert "what the &lt;b&gt;note&lt;/b&gt; says" in page


@pytest.mark.django_db
def test_too_many_tables_to_draw_ask_for_the_filter_instead(client_as, monkeypatch):
    monkeypatch.setattr(schema_live, "DIAGRAM_MAX_TABLES", 3)
    operator = client_as("operator")
    page = operator.get("/schema/tables/").content.decode()
    assert 'data-testid="diagram-too-many"' in page and "too many to draw (at most 3)" in page
    assert "schema-diagram-frame" not in page and 'data-testid="diagram-source"' not in page
    diagram = operator.get("/schema/tables/diagram/").content.decode()
    assert 'data-testid="diagram-too-many"' in diagram and "schema-diagram-source" not in diagram

    narrowed = operator.get("/schema/tables/", {"q": "conversation"}).content.decode()  # three tables
    assert "schema-diagram-frame" in narrowed and "diagram-too-many" not in narrowed
    assert diagram_source(operator.get("/schema/tables/diagram/", {"q": "conversation"}).content.decode())


def test_thousands_of_drift_findings_list_the_worst_and_each_code_on_its_own(plant, operator, monkeypatch):
    """A schema of thousands of tables no migration made was thousands of findings on one page (11.7 MB)."""
    run_drift_check(start_drift_check(user=None).pk)
    clear_jobs()
    monkeypatch.setattr(schema_live, "DRIFT_SHOWN", 2)
    monkeypatch.setattr(schema_live, "CODE_SHOWN", 3)
    plant.sql("".join(f"CREATE INDEX hand_made_{n} ON public.users (display_name);" for n in range(5)))
    plant.sql("CREATE TABLE public.hand_made_table (id int)")
    try:
        page = operator.get("/schema/drift/").content.decode()
        one_code = operator.get("/schema/drift/", {"code": "unexpected_index"}).content.decode()
        polled = operator.get("/schema/drift/", {"code": "unexpected_table"}, **HTMX).content.decode()
        bad = operator.get("/schema/drift/", {"code": "<script>"})
    finally:
        plant.sql("DROP TABLE public.hand_made_table;" + "".join(f"DROP INDEX public.hand_made_{n};" for n in range(5)))

    listed = re.findall(r'data-code="(\w+)" data-object="([^"]+)"', page)
    assert len(listed) == 2 and "4 more findings not listed here" in page
    codes = page[page.index('data-testid="drift-codes"') :]
    assert '<a href="?code=unexpected_index"><code>unexpected_index</code></a> 5' in codes
    assert '<a href="?code=unexpected_table"><code>unexpected_table</code></a> 1' in codes

    listed = re.findall(r'data-code="(\w+)" data-object="([^"]+)"', one_code)
    assert [code for code, _ in listed] == ["unexpected_index"] * 3
    assert "2 more <code>unexpected_index</code> findings not listed here" in one_code
    assert re.findall(r'data-code="(\w+)" data-object="([^"]+)"', polled) == [
        ("unexpected_table", "public.hand_made_table")
    ]
    assert "<html" not in polled and 'hx-get="/schema/drift/?code=unexpected_table"' not in polled  # no poll: idle

    assert bad.status_code == 400 and "A finding code is lower-case letters" in bad.content.decode()
    assert "<script>" not in bad.content.decode()


@pytest.mark.parametrize(("table", "why"), [("a\x00b", "Null characters are not allowed."), ("t" * 300, "at most 260")])
def test_a_bad_table_asked_for_is_a_400_that_says_which_parameter_and_why(client_as, table, why):
    client = client_as("operator")
    page = client.get("/schema/tables/", {"table": table})
    assert page.status_code == 400
    alert = page.content.decode().split('data-testid="table-error"')[1].split("</div>")[0]
    assert "Table asked for:" in alert and why in alert
    diagram = client.get("/schema/tables/diagram/", {"table": table})
    assert diagram.status_code == 400
    refused = diagram.content.decode().split('data-testid="diagram-refused"')[1].split("</p>")[0]
    assert "Table asked for:" in refused and why in refused


def test_a_bad_finding_code_says_each_of_its_faults_as_a_sentence(operator):
    response = operator.get("/schema/drift/", {"code": "\x00"})
    assert response.status_code == 400
    error = re.search(r'data-testid="drift-code-error">(.*?) <a', response.content.decode()).group(1)
    assert "allowed. A finding code" in html.unescape(error), error


@pytest.mark.django_db
def test_a_partition_s_card_names_its_parent_whose_card_lists_the_constraints_it_takes(client_as, plant, settings):
    """A partition's card said "None." under its constraints and foreign keys: the key it takes from its parent."""
    s = plant.schema
    plant.sql(f"CREATE TABLE {s}.zq_account (id int PRIMARY KEY)")
    plant.sql(
        f'CREATE TABLE {s}."zq.events" (at date NOT NULL, id int NOT NULL, account int REFERENCES {s}.zq_account (id),'
        " PRIMARY KEY (at, id)) PARTITION BY RANGE (at)"
    )
    plant.sql(f'CREATE TABLE {s}."zq.events default" PARTITION OF {s}."zq.events" DEFAULT')
    settings.SCHEMAADMIN = {"APP_SCHEMAS": [s]}
    operator = client_as("operator")
    page = operator.get("/schema/tables/", {"table": f'{s}."zq.events default"'}).content.decode()
    assert cards(page) == [f"{s}.&quot;zq.events default&quot;"]
    assert f"partition of {s}.&quot;zq.events&quot;</span>" in page
    note = html.unescape(re.sub(r"<[^>]+>", "", page[page.index('data-testid="partition-note"') :].split("</p>")[0]))
    assert f'A partition of {s}."zq.events": the primary key, unique, exclusion and foreign key' in note
    (link,) = re.findall(r'A partition of <a href="([^"]+)"', page)
    parent = operator.get("/schema/tables/" + html.unescape(link).split("#")[0]).content.decode()
    assert cards(parent) == [f"{s}.&quot;zq.events&quot;"] and "PRIMARY KEY (at, id)" in parent
    assert "FOREIGN KEY (account)" in parent and 'data-testid="partition-note"' not in parent
    assert page.count("None of its own.") == 2 and ">None.</p>" not in page.split('data-testid="indexes"')[0]
