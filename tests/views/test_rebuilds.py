"""The rebuild pages: request form and review, the live page and its htmx partial, cancel, retry, the list."""

from __future__ import annotations

import html
import os
import re

import pytest
from django.test import Client
from django.utils import timezone

from schemaadmin.formats import ident_html
from schemaadmin.models import AuditEvent, ChatUser, IndexRebuild, JobState
from schemaadmin.pg import indexes as catalog
from schemaadmin.services.rebuilds import plan_rebuild
from tests.views.refusals import said_once

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def planted(plant):
    """A small table with an analyzed HNSW index (m = 8) and a btree index."""
    s = plant.schema
    plant.table(
        "items",
        "id int PRIMARY KEY, n int, embedding vector(4)",
        rows=500,
        fill="i, i % 7, ARRAY[random(), random(), random(), random()]::vector(4)",
    )
    plant.sql(f"CREATE INDEX items_hnsw ON {s}.items USING hnsw (embedding vector_l2_ops) WITH (m = 8)")
    plant.sql(f"CREATE INDEX items_n ON {s}.items (n)")
    plant.sql(f"ANALYZE {s}.items")
    return plant


@pytest.fixture
def dba(client_as):
    return client_as("dba")


def _rebuild(schema: str, index: str = "items_hnsw", **fields) -> IndexRebuild:
    values = {"schema_name": schema, "index_name": index, "table_name": "items", "method": "hnsw"}
    return IndexRebuild.objects.create(**{**values, **fields})


def _finished(schema: str, state: str, seconds: float, **fields) -> IndexRebuild:
    now = timezone.now()
    return _rebuild(
        schema, state=state, started_at=now - timezone.timedelta(seconds=seconds), finished_at=now, **fields
    )


def _review(client: Client, **params):
    return client.get("/rebuilds/new", {"review": "1", **params})


def _confirmation(page: str, *, typed: bool = True) -> dict[str, str]:
    """Return what the review's Start button posts: the values reviewed and the plan's fingerprint, hidden, and with
    typed the index's name where the review asks for it (a replace), typed as the review shows it."""
    start = page.index('data-testid="confirm-form"')
    form = page[start : page.index("</form>", start)]
    posted = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
        if name != "csrfmiddlewaretoken"
    }
    asked = re.search(r'<input id="typed-name" name="typed_name"[^>]* placeholder="([^"]*)"', form)
    if typed and asked:
        posted["typed_name"] = html.unescape(asked.group(1))
    return posted


def _confirm(client: Client, **params):
    """Review the rebuild, then press its Start button (a replace's index name typed as the review asks)."""
    review = _review(client, **params)
    assert review.status_code == 200, review.content.decode()
    return client.post("/rebuilds/new", _confirmation(review.content.decode()))


# --- the request form and its review ---------------------------------------------------------------------


def test_the_form_preselects_the_index_named_in_the_url(planted, dba):
    qualified = f"{planted.schema}.items_hnsw"
    response = dba.get("/rebuilds/new", {"index": qualified})
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(rf'<input type="text" name="index" value="{re.escape(qualified)}"', page)
    assert "USING hnsw" in page  # the current definition beside the choice
    assert 'data-testid="review"' not in page  # nothing planned until asked


def _box(page: str, name: str) -> str:
    return re.search(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', page).group(0)


def test_each_option_box_says_what_leaving_it_empty_builds_for_the_chosen_index(planted, dba):
    s = planted.schema
    planted.sql(f"CREATE INDEX items_ivf ON {s}.items USING ivfflat (embedding vector_l2_ops) WITH (lists = 5)")

    hnsw = dba.get("/rebuilds/new", {"index": f"{s}.items_hnsw"}).content.decode()
    assert 'placeholder="now 8"' in _box(hnsw, "m")  # its own m, not pgvector's 16
    assert 'placeholder="now 64"' in _box(hnsw, "ef_construction")  # unset, so pgvector's default is its own
    assert "placeholder" not in _box(hnsw, "lists")  # an HNSW index never becomes IVFFlat
    assert 'data-current-choice="hnsw"' in _box(hnsw, "method")

    ivfflat = dba.get("/rebuilds/new", {"index": f"{s}.items_ivf"}).content.decode()
    assert 'placeholder="now 5"' in _box(ivfflat, "lists")
    assert 'placeholder="default 16"' in _box(ivfflat, "m")  # what it gets if it becomes HNSW
    assert 'placeholder="default 64"' in _box(ivfflat, "ef_construction")
    assert 'data-current-choice="ivfflat"' in _box(ivfflat, "method")

    btree = dba.get("/rebuilds/new", {"index": f"{s}.items_n"}).content.decode()
    assert all("placeholder" not in _box(btree, name) for name in ("m", "ef_construction", "lists"))
    assert 'data-current-choice="btree"' in _box(btree, "method")  # its options all hide: it has none


def test_the_form_suggests_vector_indexes_by_name_and_reads_one_index_not_all(planted, dba, monkeypatch):
    """At 30,000 indexes a list of every index was a 2.8 MB page built from a read of them all (6 s)."""
    s = planted.schema
    read_indexes = catalog._indexes_where

    def vector_indexes_only(condition, params=None, **kwargs):
        assert "pg_am" in condition, "the rebuild form read every index"
        return read_indexes(condition, params, **kwargs)

    monkeypatch.setattr(catalog, "_indexes_where", vector_indexes_only)
    page = dba.get("/rebuilds/new").content.decode()
    suggestions = page[page.index('data-testid="index-suggestions"') : page.index("</datalist>")]
    assert f'<option value="{s}.items_hnsw">hnsw on items' in suggestions
    assert f"{s}.items_n" not in suggestions  # a btree: named by typing it, or from its own page

    review = _review(dba, index=f"{s}.items_n", kind="reindex")
    assert review.status_code == 200 and "REINDEX" in review.content.decode()


def test_an_unknown_preselected_index_is_said_plainly(planted, dba):
    response = dba.get("/rebuilds/new", {"index": "nope.missing"})
    assert response.status_code == 400
    # The sentence the review gives for it (forms.rebuilds.NOT_REBUILDABLE), not one of its own.
    said = "There is no index nope.missing that can be rebuilt (an index in a user schema: valid, or INVALID and not"
    assert said in response.content.decode() and "Name another below." in response.content.decode()
    long = dba.get("/rebuilds/new", {"index": "x" * 60_000})  # names nothing: said by its length, not echoed
    assert long.status_code == 400 and "at most 260 characters" in long.content.decode()
    assert "There is no index xxx" not in long.content.decode()


def test_review_shows_plan_estimate_and_sql_before_anything_runs(planted, dba):
    s = planted.schema
    response = _review(dba, index=f"{s}.items_hnsw", kind="replace", m="16", ef_construction="64")
    assert response.status_code == 200
    page = response.content.decode()
    review = page[page.index('data-testid="review"') :]
    heading = " ".join(re.sub(r"<[^>]+>", "", review[review.index("<h2") : review.index("</h2>")]).split())
    assert heading.endswith(f"Review: a new HNSW index built, then swapped in for {s}.items_hnsw"), heading
    assert "≈ 500 rows" in review
    assert "m = 8" in review and "<strong>m = 16</strong>" in review
    assert "maintenance_work_mem" in review and "fits" in review
    assert "not known: no earlier rebuild of this index" in review and review.count("to learn from") == 1
    sql = html.unescape(review[review.index('data-testid="sql"') : review.index("</pre>")])
    assert "CREATE INDEX CONCURRENTLY" in sql and "WITH (m = 16, ef_construction = 64)" in sql
    assert f"DROP INDEX CONCURRENTLY IF EXISTS {s}.items_hnsw;" in sql
    # The confirmation carries exactly the checked values, behind CSRF.
    assert 'name="csrfmiddlewaretoken"' in review
    assert '<input type="hidden" name="m" value="16">' in review
    assert IndexRebuild.objects.count() == 0
    # New parameters make the index differ from its migration: the review says drift will list it.
    assert 'data-testid="drift-note"' in review and "index_mismatch" in review


def _shown_sql(page: str) -> list[str]:
    """Return the statements of a review's SQL listing, as text (one per line, without the closing semicolon)."""
    listing = page[page.index('data-testid="sql"') :]
    code = html.unescape(listing[listing.index("<code>") + len("<code>") : listing.index("</code>")])
    assert all(line.endswith(";") for line in code.splitlines()), code
    return [line.removesuffix(";") for line in code.splitlines()]


def _queries_sent(trace: bytes) -> list[str]:
    """Return the text of every Query message a libpq trace shows the client sending."""
    sent = []
    for match in re.finditer(rb'^F\t(\d+)\tQuery\t "', trace, re.MULTILINE):
        length = int(match[1]) - 5  # the message's length word and the closing NUL
        sent.append(trace[match.end() : match.end() + length].decode())
    return sent


@pytest.mark.django_db(transaction=True)
def test_the_review_shows_exactly_the_sql_the_job_sends_even_for_a_hostile_index_name(
    planter, client_as, monkeypatch, tmp_path
):
    from psycopg import pq

    from schemaadmin.pg.indexes import index as index_state
    from schemaadmin.services.rebuilds import run

    name = 'weird "idx" name; DROP TABLE users'
    table = planter.table("t", "id int, v int", rows=200, fill="i, i % 10")
    planter.sql(f'CREATE INDEX "weird ""idx"" name; DROP TABLE users" ON {table} (v)')
    planter.sql(f"ANALYZE {table}")
    dba = client_as("dba")
    qualified = f"{planter.schema}.{name}"
    review = _review(dba, index=qualified, kind="replace")
    assert review.status_code == 200
    shown = _shown_sql(review.content.decode())
    assert f'DROP INDEX CONCURRENTLY IF EXISTS {planter.schema}."weird ""idx"" name; DROP TABLE users"' in shown

    # The job, run here with libpq tracing what its build connection sends to the server.
    trace = tmp_path / "libpq.trace"
    opened = run.open_build_connection

    def traced(**kwargs):
        conn = opened(**kwargs)
        with trace.open("ab") as log:
            conn.pgconn.trace(os.dup(log.fileno()))  # libpq keeps its own handle, line-buffered
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        return conn

    monkeypatch.setattr(run, "open_build_connection", traced)
    assert dba.post("/rebuilds/new", _confirmation(review.content.decode())).status_code == 302
    rebuild = IndexRebuild.objects.get()
    assert run.run_rebuild(rebuild.pk) == JobState.SUCCEEDED, IndexRebuild.objects.get().log
    sent = _queries_sent(trace.read_bytes())
    # Everything the job sent but the read-back of its settings is on the review, in order, byte for byte.
    assert [query for query in sent if not query.lstrip().startswith("SELECT current_setting(")] == shown
    assert index_state(planter.schema, name).is_valid
    assert index_state(planter.schema, f"{name}_sa_new") is None
    assert ChatUser.objects.count() == 0  # users is still there to count


def test_review_shows_the_time_estimate_in_minutes_and_hours(planted, dba):
    _finished(planted.schema, JobState.SUCCEEDED, 2 * 3600 + 5 * 60, estimate={"rows": 500})
    page = _review(dba, index=f"{planted.schema}.items_hnsw", kind="replace", m="16").content.decode()
    estimate = page[page.index('data-testid="time-estimate"') :]
    assert "≈ 2 h 05 min" in estimate[: estimate.index("</dd>")]


def test_review_of_a_reindex_shows_reindex_concurrently(planted, dba):
    page = _review(dba, index=f"{planted.schema}.items_n", kind="reindex").content.decode()
    assert f"REINDEX INDEX CONCURRENTLY {planted.schema}.items_n" in page
    assert "a sort of the keys" in page  # a btree: no graph
    assert 'data-testid="drift-note"' not in page  # the same definition: no drift


def test_review_of_an_invalid_unique_index_says_queries_never_used_it_and_duplicates_fail_it_again(planted, dba):
    # The review said "Queries keep using the current index" of an index no query uses, and nothing of the duplicate
    # keys that failed it and will fail the REINDEX the same way.
    s = planted.schema
    with pytest.raises(Exception, match="could not create unique index"):
        planted.sql(f"CREATE UNIQUE INDEX CONCURRENTLY items_n_uniq ON {s}.items (n)")  # n repeats: left INVALID
    invalid = _review(dba, index=f"{s}.items_n_uniq", kind="reindex").content.decode()
    assert "queries do not use it now" in invalid and "remove them first" in invalid
    assert "Queries keep using the current index" not in invalid
    valid = _review(dba, index=f"{s}.items_n", kind="reindex").content.decode()
    assert "Queries keep using the current index" in valid and 'data-testid="invalid-note"' not in valid


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"m": "abc"}, "m must be a whole number from 2 to 100."),
        ({"m": "1e3"}, "m must be a whole number from 2 to 100."),
        ({"m": "500"}, "m must be a whole number from 2 to 100."),  # one sentence, as the command says it
        ({"ef_construction": "-4"}, "ef_construction must be a whole number from 4 to 1000."),
        ({"m": "32", "ef_construction": "40"}, "ef_construction must be at least twice m (64 for m = 32); got 40."),
        ({"lists": "100"}, "lists is an IVFFlat option"),
        # Out of range in a box of the other method: said as the option it is, not as a range.
        ({"lists": "0"}, "lists is an IVFFlat option and the new index is HNSW: leave it empty."),
        ({"method": "btree"}, "The new method can be HNSW or IVFFlat, or empty to keep the current one."),
        ({"method": "ivfflat"}, "not make it ivfflat"),
        ({"kind": "drop everything"}, "Choose REINDEX CONCURRENTLY or a rebuild with new parameters."),
        ({"index": "public.no_such_index"}, "There is no index public.no_such_index that can be rebuilt"),
        ({"index": "'; DROP TABLE users; --"}, "that can be rebuilt"),
        ({"index": ""}, "Choose the index to rebuild."),
    ],
)
def test_nonsense_parameters_are_form_errors_never_500(planted, dba, params, message):
    values = {"index": f"{planted.schema}.items_hnsw", "kind": "replace", **params}
    for headers in ({}, HTMX):
        response = dba.get("/rebuilds/new", {"review": "1", **values}, **headers)
        assert response.status_code == 400, params
        assert message in response.content.decode().replace("&#x27;", "'"), params
        assert 'data-testid="confirm-form"' not in response.content.decode()


def test_vector_options_on_a_btree_and_parameters_on_a_reindex_are_refused(planted, dba):
    s = planted.schema
    page = _review(dba, index=f"{s}.items_n", kind="replace", m="16").content.decode()
    assert "m is an option of vector indexes (HNSW, IVFFlat)" in page
    page = _review(dba, index=f"{s}.items_hnsw", kind="reindex", m="16").content.decode()
    assert "REINDEX CONCURRENTLY keeps the index&#x27;s method and parameters" in page


@pytest.mark.parametrize("typed", [None, "", "items_hnsw", "{s}.items_hnsw_x", "{s}.ITEMS_HNSW"])
def test_a_replace_drops_the_index_so_it_starts_only_with_the_index_s_name_typed(planted, dba, typed):
    """Nothing is dropped without a typed confirmation: the swap at a replace's end drops the index as it is now."""
    s = planted.schema
    review = _review(dba, index=f"{s}.items_hnsw", kind="replace", m="12").content.decode()
    assert 'name="typed_name"' in review and "Type its name to start" in review
    posted = _confirmation(review, typed=False)
    assert "typed_name" not in posted  # the review carries no answer of its own
    if typed is not None:
        posted["typed_name"] = typed.format(s=s)
    response = dba.post("/rebuilds/new", posted)
    assert response.status_code == 400
    page = response.content.decode()
    assert f"Type {s}.items_hnsw to start this rebuild: the swap at its end drops the index as it is now." in page
    assert 'name="typed_name"' in page and not IndexRebuild.objects.exists()
    refused = AuditEvent.objects.get(action="rebuild.start_refused")
    assert refused.actor_username == "dba-user" and "drops the index as it is now" in refused.detail["reason"]
    posted["typed_name"] = f"  {s}.items_hnsw "  # as it is shown, spaces around it aside
    assert dba.post("/rebuilds/new", posted).status_code == 302
    assert IndexRebuild.objects.get().kind == "replace"


def test_a_reindex_drops_nothing_and_asks_for_no_typed_name(planted, dba):
    review = _review(dba, index=f"{planted.schema}.items_hnsw", kind="reindex").content.decode()
    assert 'name="typed_name"' not in review
    assert dba.post("/rebuilds/new", _confirmation(review)).status_code == 302


def test_retry_of_a_replace_asks_for_the_index_s_name_again(planted, dba):
    s = planted.schema
    failed = _rebuild(s, state=JobState.FAILED, kind="replace", parameters={"m": 12, "ef_construction": 64})
    assert 'name="typed_name"' in dba.get(f"/rebuilds/{failed.pk}/").content.decode()
    page = dba.post(f"/rebuilds/{failed.pk}/retry", {"typed_name": "items_hnsw"}, follow=True).content.decode()
    assert f"Type {s}.items_hnsw to start this rebuild" in page
    assert IndexRebuild.objects.count() == 1
    assert AuditEvent.objects.get(action="rebuild.retry_refused").detail["retry_of"] == failed.pk
    reindexed = _rebuild(s, index="items_n", state=JobState.FAILED)  # a reindex drops nothing: no name asked
    assert 'name="typed_name"' not in dba.get(f"/rebuilds/{reindexed.pk}/").content.decode()


def test_confirming_queues_the_rebuild_audits_it_and_opens_its_page(planted, dba):
    s = planted.schema
    response = _confirm(dba, index=f"{s}.items_hnsw", kind="replace", m="12")
    rebuild = IndexRebuild.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/rebuilds/{rebuild.pk}/"
    assert (rebuild.state, rebuild.kind, rebuild.parameters) == ("queued", "replace", {"m": 12, "ef_construction": 64})
    assert rebuild.requested_by.username == "dba-user"
    assert rebuild.job_id is not None
    event = AuditEvent.objects.get(action="rebuild.requested")
    assert event.target == f"{s}.items_hnsw" and event.actor_username == "dba-user"
    page = dba.get(response["Location"]).content.decode()
    assert "Rebuild of" in page and "Queued: waiting for the worker to pick it up. This page follows it." in page


def test_a_second_request_for_the_same_index_links_to_the_active_one(planted, dba):
    s = planted.schema
    first = _rebuild(s, state=JobState.RUNNING)
    review = _review(dba, index=f"{s}.items_hnsw", kind="reindex").content.decode()
    assert f'href="/rebuilds/{first.pk}/"' in review and "already running" in review
    assert 'data-testid="confirm-form"' not in review
    fingerprint = plan_rebuild(f"{s}.items_hnsw").fingerprint  # as a page opened before the first started carries
    response = dba.post("/rebuilds/new", {"index": f"{s}.items_hnsw", "kind": "reindex", "fingerprint": fingerprint})
    assert response.status_code == 409
    page = response.content.decode()
    assert "is already running" in page and f'href="/rebuilds/{first.pk}/"' in page
    assert IndexRebuild.objects.count() == 1
    event = AuditEvent.objects.get(action="rebuild.start_refused")
    assert (event.actor_username, event.target) == ("dba-user", f"{s}.items_hnsw")
    assert event.detail["reason"] == f"A rebuild of {s}.items_hnsw is already running (rebuild {first.pk})."
    assert event.detail["kind"] == "reindex" and not AuditEvent.objects.filter(action="rebuild.requested").exists()


def test_a_confirmation_of_an_index_changed_since_its_review_shows_the_new_review_and_queues_nothing(planted, dba):
    """The POST planned again from whatever index held the name: one dropped and made again with another operator
    class, ef_construction and a WHERE after the review was queued as it now was, and nobody had reviewed that."""
    s = planted.schema
    review = _review(dba, index=f"{s}.items_hnsw", kind="replace", m="12").content.decode()
    assert any("WITH (m = 12, ef_construction = 64)" in line for line in _shown_sql(review))
    planted.sql(f"DROP INDEX {s}.items_hnsw")
    planted.sql(
        f"CREATE INDEX items_hnsw ON {s}.items USING hnsw (embedding vector_cosine_ops) "
        "WITH (ef_construction = 100) WHERE n > 0"
    )
    response = dba.post("/rebuilds/new", _confirmation(review))
    assert response.status_code == 409
    page = response.content.decode()
    assert "The index changed since you reviewed it; review the statements again." in page
    assert not IndexRebuild.objects.exists() and not AuditEvent.objects.filter(action="rebuild.requested").exists()
    event = AuditEvent.objects.get(action="rebuild.start_refused")
    assert (event.actor_username, event.target) == ("dba-user", f"{s}.items_hnsw")
    assert event.detail["reason"] == "The index changed since you reviewed it; review the statements again."
    # The page is the review of the index as it is now: its statements, and a Start button that confirms those.
    [build] = [line for line in _shown_sql(page) if line.startswith("CREATE INDEX")]
    assert "vector_cosine_ops" in build and "ef_construction = 100" in build and "WHERE (n > 0)" in build
    again = dba.post("/rebuilds/new", _confirmation(page))
    assert again.status_code == 302
    rebuild = IndexRebuild.objects.get()
    assert rebuild.fingerprint == _confirmation(page)["fingerprint"]
    assert AuditEvent.objects.get(action="rebuild.requested").detail["fingerprint"] == rebuild.fingerprint


def test_a_confirmation_without_a_review_shows_the_review(planted, dba):
    response = dba.post("/rebuilds/new", {"index": f"{planted.schema}.items_hnsw", "kind": "reindex"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "Review the statements below, then start the rebuild." in page and 'data-testid="confirm-form"' in page
    assert not IndexRebuild.objects.exists()
    event = AuditEvent.objects.get(action="rebuild.start_refused")
    assert (event.actor_username, event.target) == ("dba-user", f"{planted.schema}.items_hnsw")
    assert event.detail["reason"] == "Review the statements below, then start the rebuild."


def test_an_invalid_confirmation_is_a_400_and_queues_nothing(planted, dba):
    response = dba.post("/rebuilds/new", {"index": f"{planted.schema}.items_hnsw", "kind": "replace", "m": "x"})
    assert response.status_code == 400
    assert "m must be a whole number" in response.content.decode()
    assert IndexRebuild.objects.count() == 0
    event = AuditEvent.objects.get(action="rebuild.start_refused")
    assert (event.actor_username, event.target) == ("dba-user", f"{planted.schema}.items_hnsw")
    assert "m must be a whole number" in event.detail["reason"]


@pytest.mark.django_db
def test_a_hostile_confirmation_is_refused_and_audited_bounded_and_without_nul(dba):
    response = dba.post("/rebuilds/new", {"index": "x\x00" * 100_000, "kind": "reindex"})
    assert response.status_code == 400 and not IndexRebuild.objects.exists()
    event = AuditEvent.objects.get(action="rebuild.start_refused")
    assert event.actor_username == "dba-user" and len(event.target) <= 2_000 and len(event.detail["reason"]) <= 2_000
    assert "\x00" not in event.target + event.detail["reason"]


# --- permissions and CSRF ----------------------------------------------------------------------------------


def test_operators_watch_but_cannot_start_cancel_or_retry(planted, client_as):
    s = planted.schema
    active = _rebuild(s, state=JobState.RUNNING)
    failed = _rebuild(s, index="items_n", method="btree", state=JobState.FAILED, error="boom")
    operator = client_as("operator")
    assert operator.get("/rebuilds/").status_code == 200
    page = operator.get(f"/rebuilds/{active.pk}/").content.decode()
    assert "Cancel rebuild" not in page
    assert "Retry this rebuild" not in operator.get(f"/rebuilds/{failed.pk}/").content.decode()
    assert operator.get("/rebuilds/new").status_code == 403
    assert operator.post("/rebuilds/new", {"index": f"{s}.items_n", "kind": "reindex"}).status_code == 403
    assert operator.post(f"/rebuilds/{active.pk}/cancel").status_code == 403
    assert operator.post(f"/rebuilds/{failed.pk}/retry").status_code == 403
    active.refresh_from_db()
    assert active.cancelled_by is None and IndexRebuild.objects.count() == 2
    assert not AuditEvent.objects.filter(action__startswith="rebuild.").exists()


def test_csrf_is_enforced_on_every_post(planted, role_user):
    s = planted.schema
    queued = _rebuild(s, state=JobState.QUEUED)
    failed = _rebuild(s, index="items_n", method="btree", state=JobState.FAILED)
    client = Client(enforce_csrf_checks=True)
    client.force_login(role_user("dba"))
    assert client.post("/rebuilds/new", {"index": f"{s}.items_n", "kind": "reindex"}).status_code == 403
    assert client.post(f"/rebuilds/{queued.pk}/cancel").status_code == 403
    assert client.post(f"/rebuilds/{failed.pk}/retry").status_code == 403
    queued.refresh_from_db()
    assert queued.state == "queued" and IndexRebuild.objects.count() == 2
    # With the token the page carries, the same cancel goes through.
    page = client.get(f"/rebuilds/{queued.pk}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(f"/rebuilds/{queued.pk}/cancel", {"csrfmiddlewaretoken": token}).status_code == 302
    queued.refresh_from_db()
    assert queued.state == "cancelled"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/rebuilds/999999/", "/rebuilds/999999/cancel", "/rebuilds/999999/retry"])
def test_a_missing_rebuild_is_404(client_as, path):
    client = client_as("dba")
    response = client.get(path) if path.endswith("/") else client.post(path)
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_non_numeric_id_is_not_a_page(client_as):
    assert client_as("dba").get("/rebuilds/abc/").status_code == 404


# --- the live page -------------------------------------------------------------------------------------------


def test_an_active_rebuild_polls_its_progress_partial(planted, dba):
    rebuild = _rebuild(planted.schema, state=JobState.QUEUED)
    page = dba.get(f"/rebuilds/{rebuild.pk}/").content.decode()
    assert "<html" in page and 'id="rebuild-live"' in page
    assert 'hx-trigger="every 2s"' in page and "waiting for the worker" in page.lower()
    assert "Cancel rebuild…" in page and "Yes, cancel the rebuild" in page
    partial = dba.get(f"/rebuilds/{rebuild.pk}/", **HTMX).content.decode()
    assert "<html" not in partial and partial.lstrip().startswith('<section id="rebuild-live"')
    assert f'hx-get="/rebuilds/{rebuild.pk}/" hx-trigger="every 2s"' in partial
    assert "hx-swap-oob" not in partial  # the buttons stay as they are while it runs


# A progress sample as the job's watcher saves it from pg_stat_progress_create_index.
LOADING_SAMPLE = {
    "phase": "building index: loading tuples",
    "command": "CREATE INDEX CONCURRENTLY",
    "blocks_done": 30,
    "blocks_total": 120,
    "tuples_done": 0,
    "tuples_total": 0,
    "percent": 25.0,
}


def test_a_running_rebuild_shows_its_last_progress_sample(planted, dba):
    rebuild = _rebuild(
        planted.schema,
        state=JobState.RUNNING,
        started_at=timezone.now(),
        progress=LOADING_SAMPLE,
        settings_used={"maintenance_work_mem": "64MB"},
    )
    partial = dba.get(f"/rebuilds/{rebuild.pk}/", **HTMX).content.decode()
    assert '<progress class="build-progress" max="100" value="25.0"' in partial
    assert "25.0%" in partial and "building index: loading tuples" in partial
    assert "blocks 30 of 120" in partial
    assert "maintenance_work_mem = 64MB" in partial


def test_a_rebuild_waiting_for_other_transactions_shows_whom_it_waits_for_not_the_last_scan_s_blocks(planted, dba):
    """A sample saved in "waiting for old snapshots": PostgreSQL's row still holds the validation scan's 88 of 89
    blocks, and samples saved before waits were counted carry its 98.9%. The page shows the wait (0 of 1
    transactions, pid 4242) at 0%, and no ETA."""
    rebuild = _rebuild(
        planted.schema,
        state=JobState.RUNNING,
        started_at=timezone.now(),
        progress={
            **LOADING_SAMPLE,
            "phase": "waiting for old snapshots",
            **{"blocks_done": 88, "blocks_total": 89, "lockers_done": 0, "lockers_total": 1},
            **{"current_locker_pid": 4242, "percent": 98.9},  # as saved before waits were counted
        },
    )
    partial = dba.get(f"/rebuilds/{rebuild.pk}/", **HTMX).content.decode()
    assert "waiting for old snapshots" in partial
    # The pid links to its session on the live activity page, where it can be looked at (and ended).
    assert 'transactions waited for: 0 of 1, now pid <a href="/activity/?all=on#pid-4242"' in partial
    assert "blocks 88 of 89" not in partial and "98.9" not in partial and 'value="0.0"' in partial
    assert 'data-testid="eta"' not in partial


def test_the_poll_that_sees_the_end_stops_polling_and_swaps_the_buttons(planted, dba):
    rebuild = _finished(
        planted.schema,
        JobState.FAILED,
        75,
        error="could not extend file: No space left on device",
        log="12:00:01 phase: building index: loading tuples\n12:01:16 FAILED: could not extend file",
        size_before_bytes=8192 * 40,
        progress={"phase": "building index: loading tuples", "blocks_done": 30, "blocks_total": 120, "percent": 25.0},
    )
    partial = dba.get(f"/rebuilds/{rebuild.pk}/", **HTMX).content.decode()
    assert "hx-trigger" not in partial
    assert "Failed" in partial and "No space left on device" in partial and "FAILED: could not extend" in partial
    assert "1 min 15 s" in partial and "stopped at" in partial and "blocks 30 of 120" in partial
    oob = partial[partial.index('id="rebuild-actions"') :]
    assert 'hx-swap-oob="true"' in oob and "Retry this rebuild" in oob
    full = dba.get(f"/rebuilds/{rebuild.pk}/").content.decode()
    assert "hx-trigger" not in full and "hx-swap-oob" not in full and "Retry this rebuild" in full


def test_a_succeeded_rebuild_shows_100_percent_sizes_and_its_recall_checks(planted, dba):
    rebuild = _finished(planted.schema, JobState.SUCCEEDED, 5, size_before_bytes=2 * 2**20, size_after_bytes=2**20)
    check = rebuild.recall_checks.create(schema_name=planted.schema, index_name="items_hnsw", state=JobState.QUEUED)
    page = dba.get(f"/rebuilds/{rebuild.pk}/").content.decode()
    assert 'value="100.0"' in page and "100.0%" in page and "Succeeded" in page
    assert "2.0 MB → 1.0 MB" in page
    assert f"recall check {check.pk}" in page
    assert "Cancel rebuild" not in page and "Retry this rebuild" not in page


def test_the_page_follows_the_recall_check_that_runs_after_the_rebuild(planted, dba):
    rebuild = _finished(planted.schema, JobState.SUCCEEDED, 5)
    check = rebuild.recall_checks.create(schema_name=planted.schema, index_name="items_hnsw", state=JobState.RUNNING)
    # The rebuild is over, but its recall check is not: the page keeps polling and refreshes the check's line.
    page = dba.get(f"/rebuilds/{rebuild.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in page
    partial = dba.get(f"/rebuilds/{rebuild.pk}/", **HTMX).content.decode()
    assert 'hx-trigger="every 2s"' in partial and 'hx-swap-oob="true"' in partial
    assert f"recall check {check.pk}</a>: running" in partial

    check.state, check.result = JobState.SUCCEEDED, {"recall": 0.987}
    check.save()
    partial = dba.get(f"/rebuilds/{rebuild.pk}/", **HTMX).content.decode()
    assert "hx-trigger" not in partial  # the last poll: nothing left to follow
    assert f"recall check {check.pk}</a>: succeeded" in partial and "recall 0.987" in partial


def test_cancel_of_a_queued_rebuild_is_immediate_audited_and_says_who(planted, dba):
    rebuild = _rebuild(planted.schema, state=JobState.QUEUED)
    response = dba.post(f"/rebuilds/{rebuild.pk}/cancel", follow=True)
    rebuild.refresh_from_db()
    assert rebuild.state == "cancelled" and rebuild.cancelled_by.username == "dba-user"
    page = response.content.decode()
    assert "cancelled by dba-user" in page and "Retry this rebuild" in page
    assert AuditEvent.objects.filter(action="rebuild.cancelled", target=f"{planted.schema}.items_hnsw").exists()


def test_cancel_of_a_finished_rebuild_says_so(planted, dba):
    rebuild = _rebuild(planted.schema, state=JobState.SUCCEEDED)
    response = dba.post(f"/rebuilds/{rebuild.pk}/cancel", follow=True)
    assert response.status_code == 200
    assert "already ended (succeeded); there is nothing to cancel" in response.content.decode()
    refused = AuditEvent.objects.get(action="rebuild.cancel_refused")  # a privileged action asked for, refused
    assert refused.actor_username == "dba-user" and refused.detail["rebuild"] == rebuild.pk
    assert "there is nothing to cancel" in refused.detail["reason"] and refused.target.endswith(".items_hnsw")


def test_retry_starts_the_same_rebuild_again_and_links_both_ways(planted, dba):
    s = planted.schema
    failed = _rebuild(s, state=JobState.FAILED, kind="replace", parameters={"m": 12, "ef_construction": 64})
    response = dba.post(f"/rebuilds/{failed.pk}/retry", {"typed_name": f"{s}.items_hnsw"})
    again = IndexRebuild.objects.exclude(pk=failed.pk).get()
    assert response["Location"] == f"/rebuilds/{again.pk}/"
    assert (again.retry_of_id, again.state, again.parameters) == (failed.pk, "queued", {"m": 12, "ef_construction": 64})
    assert f'href="/rebuilds/{failed.pk}/"' in dba.get(f"/rebuilds/{again.pk}/").content.decode()
    assert f'href="/rebuilds/{again.pk}/"' in dba.get(f"/rebuilds/{failed.pk}/").content.decode()


def test_retry_of_a_succeeded_rebuild_or_a_dropped_index_is_refused_plainly(planted, dba):
    s = planted.schema
    done = _rebuild(s, state=JobState.SUCCEEDED)
    page = dba.post(f"/rebuilds/{done.pk}/retry", follow=True).content.decode()
    assert f"Only a failed or cancelled rebuild can be retried; rebuild {done.pk} succeeded." in page
    assert AuditEvent.objects.get(action="rebuild.retry_refused").detail["state"] == "succeeded"
    gone = _rebuild(s, index="was_dropped", state=JobState.FAILED)
    page = dba.post(f"/rebuilds/{gone.pk}/retry", follow=True).content.decode()
    assert f"There is no index {s}.was_dropped" in page
    assert IndexRebuild.objects.count() == 2
    event = AuditEvent.objects.get(action="rebuild.retry_refused", detail__rebuild=gone.pk)
    assert (event.actor_username, event.target) == ("dba-user", f"{s}.was_dropped")
    assert event.detail["reason"].startswith(f"There is no index {s}.was_dropped")


def test_retry_while_another_rebuild_of_the_index_is_active_is_refused_and_audited(planted, dba):
    s = planted.schema
    failed = _rebuild(s, state=JobState.FAILED)
    running = _rebuild(s, state=JobState.RUNNING)
    response = dba.post(f"/rebuilds/{failed.pk}/retry")
    assert response.status_code == 302 and response["Location"] == f"/rebuilds/{running.pk}/"
    assert IndexRebuild.objects.count() == 2
    event = AuditEvent.objects.get(action="rebuild.retry_refused")
    assert (event.actor_username, event.target) == ("dba-user", f"{s}.items_hnsw")
    assert (event.detail["reason"], event.detail["retry_of"]) == (
        f"A rebuild of {s}.items_hnsw is already running (rebuild {running.pk}).",
        failed.pk,
    )


# --- the list, the index page, the overview -------------------------------------------------------------------


def test_list_newest_first_with_state_filter_and_polling_while_active(planted, client_as):
    s = planted.schema
    old = _rebuild(s, index="items_n", method="btree", state=JobState.SUCCEEDED)
    new = _rebuild(s, state=JobState.RUNNING, progress={"phase": "building index: loading tuples", "percent": 40.0})
    operator = client_as("operator")
    page = operator.get("/rebuilds/").content.decode()
    assert page.index(f'data-testid="rebuild-{new.pk}"') < page.index(f'data-testid="rebuild-{old.pk}"')
    assert 'hx-trigger="every 2s"' in page and "40.0%" in page and "New rebuild" not in page
    partial = operator.get("/rebuilds/", {"state": "succeeded"}, **HTMX).content.decode()
    assert "<html" not in partial and f"rebuild-{old.pk}" in partial and f"rebuild-{new.pk}" not in partial
    assert "hx-trigger" not in partial  # nothing active shown: nothing to poll
    by_index = operator.get("/rebuilds/", {"index": f"{s}.items_hnsw"}).content.decode()
    assert f"rebuild-{new.pk}" in by_index and f"rebuild-{old.pk}" not in by_index


def test_the_list_wraps_an_index_name_after_its_schema_never_inside_a_word(planted, dba):
    rebuild = _rebuild(planted.schema, index="items_n", method="btree", state=JobState.SUCCEEDED)
    page = dba.get("/rebuilds/").content.decode()
    row = page[page.index(f'data-testid="rebuild-{rebuild.pk}"') :]
    row = row[: row.index("</tr>")]
    assert f"<code>{ident_html(planted.schema, 'items_n')}</code>" in row
    assert ".<wbr>items_<wbr>n</span>" in row  # breaks after the dot and the underscore only
    assert "text-break" not in row  # it split names like users_pke|y to squeeze the column


def test_durations_read_alike_on_the_list_and_the_page_from_milliseconds_to_hours(planted, dba):
    quick = _finished(planted.schema, JobState.SUCCEEDED, 0.043, index="items_n", method="btree")
    long = _finished(planted.schema, JobState.SUCCEEDED, 2 * 3600 + 5 * 60)
    listed = dba.get("/rebuilds/").content.decode()
    assert "0.04 s" in listed and "2 h 05 min" in listed
    assert "0.0 s" not in listed and "7500" not in listed
    assert "0.04 s" in dba.get(f"/rebuilds/{quick.pk}/").content.decode()
    assert "2 h 05 min" in dba.get(f"/rebuilds/{long.pk}/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{"state": "exploded"}, {"index": "no-dot"}, {"index": ".c"}, {"index": "a\x00.c"}])
def test_bad_list_filters_are_a_clear_400(client_as, query):
    response = client_as("operator").get("/rebuilds/", query)
    assert response.status_code == 400
    assert "alert" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"state": "exploded"}, "Unknown state exploded: choose one from the list."),
        ({"index": "no-dot"}, "Name the index as schema.name."),
    ],
)
def test_a_refused_list_filter_is_said_once_where_the_rebuilds_would_be(client_as, query, message):
    """It was said twice: under the field, and again in the alert that stands in for the list."""
    response = client_as("operator").get("/rebuilds/", query)
    page = response.content.decode()
    assert response.status_code == 400
    rows = page[page.index('data-testid="rebuild-rows"') :]
    # The field is marked refused and read with that one message (its aria-describedby names it).
    said_once(page, rows[: rows.index("</ul>")], message)


def test_query_counts_do_not_grow_with_the_number_of_rebuilds(planted, dba, django_assert_max_num_queries):
    s = planted.schema
    user = IndexRebuild._meta.get_field("requested_by").related_model.objects.get(username="dba-user")
    for i in range(3):
        _rebuild(s, index=f"a{i}", state=JobState.SUCCEEDED, requested_by=user, cancelled_by=user)
    with django_assert_max_num_queries(8) as few:
        dba.get("/rebuilds/")
    for i in range(30):
        _rebuild(s, index=f"b{i}", state=JobState.CANCELLED, requested_by=user, cancelled_by=user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        dba.get("/rebuilds/")
    running = _rebuild(s, state=JobState.RUNNING, requested_by=user, backend_pid=1, started_at=timezone.now())
    with django_assert_max_num_queries(10):
        dba.get(f"/rebuilds/{running.pk}/", **HTMX)


def test_index_page_offers_rebuild_to_dbas_and_shows_the_active_one(planted, client_as):
    s = planted.schema
    active = _rebuild(s, state=JobState.RUNNING)
    dba_page = client_as("dba").get(f"/indexes/{s}.items_hnsw/").content.decode()
    assert f'href="/rebuilds/new?index={s}.items_hnsw"' in dba_page
    assert f'href="/rebuilds/{active.pk}/"' in dba_page and "is running" in dba_page


def test_index_page_shows_operators_the_active_rebuild_but_no_button(planted, client_as):
    s = planted.schema
    active = _rebuild(s, state=JobState.QUEUED)
    page = client_as("operator").get(f"/indexes/{s}.items_hnsw/").content.decode()
    assert "/rebuilds/new" not in page and f'href="/rebuilds/{active.pk}/"' in page


def test_overview_links_running_rebuilds_for_those_who_may_watch(planted, client_as):
    active = _rebuild(planted.schema, state=JobState.RUNNING)
    assert f'href="/rebuilds/{active.pk}/"' in client_as("operator").get("/").content.decode()


def test_navigation_offers_rebuilds_to_operators_not_support(client_as):
    assert 'href="/rebuilds/"' in client_as("operator").get("/").content.decode()


def test_an_invalid_index_is_offered_a_reindex_that_repairs_it(planted, dba, superuser_sql):
    """Its own page links here, and index health's fix is REINDEX CONCURRENTLY: the form refused it as not valid."""
    s = planted.schema
    superuser_sql("UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [f"{s}.items_n"])
    review = _review(dba, index=f"{s}.items_n", kind="reindex")
    assert review.status_code == 200, review.content.decode()[:2000]
    assert f"REINDEX INDEX CONCURRENTLY {s}.items_n" in review.content.decode()
    replace = _review(dba, index=f"{s}.items_n", kind="replace")
    assert "REINDEX CONCURRENTLY repairs it" in replace.content.decode()


def test_a_running_rebuild_whose_build_session_is_gone_says_so(planted, dba):
    """Its worker was killed: the page said "Building. This page follows it." for as long as no worker ran."""
    from schemaadmin.pg.connection import own_connection
    from schemaadmin.services.rebuilds.run import application_name

    # (The alive one first: pg_stat_activity is read once per transaction, and the test's is one transaction.)
    alive = _rebuild(planted.schema, index="items_n", method="btree", state="running")
    with own_connection(application_name=application_name(alive.pk)) as session:
        IndexRebuild.objects.filter(pk=alive.pk).update(backend_pid=session.info.backend_pid)
        page = dba.get(f"/rebuilds/{alive.pk}/").content.decode()
    assert 'data-testid="session-gone"' not in page and "Building" in page
    gone = _rebuild(planted.schema, state="running", backend_pid=2**31 - 1)
    page = dba.get(f"/rebuilds/{gone.pk}/").content.decode()
    assert 'data-testid="session-gone"' in page and "Recovery ends this rebuild" in page


def _text(fragment: str) -> str:
    """Return what a page fragment reads as: its text without tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_names_holding_a_dot_are_quoted_on_the_review_the_active_notice_the_refusal_and_the_cancel(plant, dba):
    """Printed as schema.name unquoted, "a.b".c and a."b.c" read the same: the review's Table line, the "already
    running" notice and refusal, and the cancel confirmation."""
    s = plant.schema
    plant.sql(f'CREATE TABLE {s}."odd.table" (id int, v int)')
    plant.sql(f'CREATE INDEX "odd.index" ON {s}."odd.table" (v)')
    table, index = f'{s}."odd.table"', f'{s}."odd.index"'
    review = _review(dba, index=index, kind="reindex").content.decode()
    estimate = review[review.index('data-testid="estimate"') :]
    assert f"Table{table}, rows" in _text(estimate[: estimate.index("</dd>")])

    running = _rebuild(s, index="odd.index", table_name="odd.table", state=JobState.RUNNING)
    review = _review(dba, index=index, kind="reindex").content.decode()
    notice = review[review.index('data-testid="already-active"') :]
    assert f"A rebuild of {index} is already running" in " ".join(_text(notice[: notice.index("</div>")]).split())
    fingerprint = plan_rebuild(index).fingerprint
    refused = dba.post("/rebuilds/new", {"index": index, "kind": "reindex", "fingerprint": fingerprint})
    assert refused.status_code == 409
    assert f"A rebuild of {index} is already running (rebuild {running.pk})." in _text(refused.content.decode())
    detail = dba.get(f"/rebuilds/{running.pk}/").content.decode()
    cancel = detail[detail.index('data-testid="cancel"') :]
    assert f"{index} stays as it is" in _text(cancel[: cancel.index("</form>")])
    assert str(running) == f"Rebuild of {index} (running)"


def test_review_of_a_vector_index_says_why_its_build_memory_is_not_estimated(plant, dba):
    """An HNSW build on a table never analyzed (a restored dump), or over sparsevec, was "a sort of the keys"."""
    s = plant.schema
    plant.table("fresh", "id int PRIMARY KEY, e vector(3), sv sparsevec(100)", rows=50, fill="i, '[1,2,3]', NULL")
    plant.sql(f"CREATE INDEX fresh_hnsw ON {s}.fresh USING hnsw (e vector_l2_ops)")
    plant.sql(f"CREATE INDEX fresh_sparse ON {s}.fresh USING hnsw (sv sparsevec_l2_ops)")

    def memory(index: str, **params) -> str:
        page = _review(dba, index=f"{s}.{index}", **params).content.decode()
        said = page[page.index('data-testid="memory">') + len('data-testid="memory">') :]
        return " ".join(html.unescape(re.sub(r"<[^>]+>", "", said[: said.index("</dd>")])).split())

    for params in ({"kind": "reindex"}, {"kind": "replace", "m": "24"}):
        said = memory("fresh_hnsw", **params)
        assert said.startswith("not estimated: the table has not been analyzed, so its rows are unknown"), said
    plant.sql(f"ANALYZE {s}.fresh")
    assert memory("fresh_hnsw", kind="reindex").startswith("≈ ")
    said = memory("fresh_sparse", kind="reindex")
    assert said.startswith("not estimated: the size of one sparsevec(100) value is not known from its type"), said
    assert "a sort of the keys" in memory("fresh_pkey", kind="reindex")
