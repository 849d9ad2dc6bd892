"""Every keyset list's pager says where the page sits and of how many: exact when small, the planner's "≈" estimate
when counting would be slow (never COUNT(*) over a big table)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from schemaadmin.models import AuditEvent, ChatUser, Conversation
from tests.views.pager_links import pager_token

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_totals():
    cache.clear()  # estimates are kept a minute per query
    yield
    cache.clear()


@pytest.fixture
def people(db):
    users = ChatUser.objects.bulk_create(
        ChatUser(external_id=f"acct-{n}", display_name=f"Person {n}", created_at=T0 + timedelta(minutes=n))
        for n in range(30)
    )
    Conversation.objects.bulk_create(
        Conversation(user=users[0], title=f"Thread {n}", created_at=T0, updated_at=T0, last_message_at=T0)
        for n in range(27)
    )
    return users


def pager_text(page: str) -> list[str]:
    return [re.sub(r"\s+", " ", t) for t in re.findall(r'data-testid="pager-range">(.*?)</span>', page, re.S)]


def test_users_list_and_a_users_conversations_say_of_how_many(people, client_as):
    support = client_as("support")
    assert pager_text(support.get("/users/").content.decode()) == ["1–25 of 30 users"]
    assert pager_text(support.get(f"/users/{people[0].pk}/").content.decode()) == ["1–25 of 27 conversations"]


def test_audit_list_says_of_how_many_events(db, client_as):
    dba = client_as("dba")
    AuditEvent.objects.bulk_create(AuditEvent(action="explain.run", target=f"explain:{n}") for n in range(60))
    total = AuditEvent.objects.count()  # signing in wrote events too
    assert pager_text(dba.get("/audit/").content.decode()) == [f"1–50 of {total} events"]
    filtered = dba.get("/audit/", {"action": "explain.run"}).content.decode()
    assert pager_text(filtered) == ["1–50 of 60 events"]


def test_a_big_list_shows_the_planners_estimate(people, client_as, settings):
    settings.SCHEMAADMIN = {**getattr(settings, "SCHEMAADMIN", {}), "EXACT_COUNT_BELOW": 5}
    shown = pager_text(client_as("support").get("/users/").content.decode())
    # The planner's guess, or, where it guessed under the limit (statistics of an emptier table), the floor the
    # bounded count met: never a count.
    assert len(shown) == 1 and re.fullmatch(r"1–25 of (≈|at least) [\d,]+ users", shown[0]), shown


def test_rebuilds_come_a_page_at_a_time_with_the_one_pager(db, client_as):
    from schemaadmin.models import IndexRebuild

    IndexRebuild.objects.bulk_create(IndexRebuild(index_name=f"idx_{n}", state="succeeded") for n in range(60))
    operator = client_as("operator")
    first = operator.get("/rebuilds/")
    assert pager_text(first.content.decode()) == ["1–50 of 60 rebuilds"]
    assert len(first.context["rebuilds"]) == 50 and first.context["rebuilds"][0].index_name == "idx_59"
    second = operator.get("/rebuilds/", {"after": pager_token(first, "next")})
    assert pager_text(second.content.decode()) == ["51–60 of 60 rebuilds"]
    assert [r.index_name for r in second.context["rebuilds"]][-1] == "idx_0"
    bad = operator.get("/rebuilds/", {"after": "not-a-cursor"})
    assert bad.status_code == 400 and "First page" in bad.content.decode()


def test_migration_runs_come_a_page_at_a_time_with_the_one_pager(db, client_as):
    from schemaadmin.models import MigrationApply

    MigrationApply.objects.bulk_create(
        MigrationApply(plan=[], target=f"app.{n:04}", state="succeeded") for n in range(55)
    )
    operator = client_as("operator")
    first = operator.get("/schema/applies/")
    assert pager_text(first.content.decode()) == ["1–50 of 55 runs"]
    assert first.context["runs"][0].target == "app.0054"
    second = operator.get("/schema/applies/", {"after": pager_token(first, "next")})
    assert pager_text(second.content.decode()) == ["51–55 of 55 runs"]
    assert [r.target for r in second.context["runs"]][-1] == "app.0000"
    back = operator.get("/schema/applies/", {"before": pager_token(second, "prev")})
    assert [r.target for r in back.context["runs"]] == [r.target for r in first.context["runs"]]
    bad = operator.get("/schema/applies/", {"after": "not-a-cursor"})
    assert bad.status_code == 400 and "start from page one" in bad.content.decode()


def test_the_explain_history_comes_a_page_at_a_time_with_the_one_pager(db, client, role_user):
    from schemaadmin.models import ExplainRun

    user, other = role_user("dba", "dana"), role_user("dba", "other")
    client.force_login(user)
    dba = client
    ExplainRun.objects.bulk_create(ExplainRun(user=user, sql=f"SELECT {n}", outcome="ok") for n in range(25))
    ExplainRun.objects.bulk_create(ExplainRun(user=other, sql=f"SELECT {n}", outcome="ok") for n in range(5))
    first = dba.get("/explain/")
    assert pager_text(first.content.decode()) == ["1–20 of 25 runs"]
    second = dba.get("/explain/", {"after": pager_token(first, "next")})
    assert pager_text(second.content.decode()) == ["21–25 of 25 runs"]
    assert len({r.pk for r in first.context["history"]} | {r.pk for r in second.context["history"]}) == 25
    everyone = dba.get("/explain/", {"runs": "all"})
    assert pager_text(everyone.content.decode()) == ["1–20 of 30 runs"]
    assert "runs=all" in everyone.content.decode().split('rel="next" href="', 1)[1].split('"', 1)[0]
    # A page link of one's own runs is not one of everyone's.
    mixed = dba.get("/explain/", {"runs": "all", "after": pager_token(first, "next")})
    assert mixed.status_code == 400 and "different list or sort order" in mixed.content.decode()


def test_a_count_that_reached_its_limit_says_at_least_never_an_estimate_below_what_was_seen(people, client_as):
    """The planner guessed fewer than EXACT_COUNT_BELOW and the bounded count met that many: the total is a floor
    ("at least 5"), not "≈ 5"; and a page past an estimate ("3,301–3,374 of ≈ 3,373") says at least its last place."""
    from django.template.loader import render_to_string

    from schemaadmin.pg.estimates import row_total

    users = ChatUser.objects.all()
    total = row_total(users, exact_below=5, estimate=2)  # the planner guessed 2; the count met the limit
    assert (total.value, total.exact, total.at_least) == (5, False, True)
    guessed = row_total(users, exact_below=5, estimate=400)  # the planner's guess over the limit: not counted
    assert (guessed.value, guessed.exact, guessed.at_least) == (400, False, False)

    def shown(**context) -> str:
        return pager_text(render_to_string("schemaadmin/includes/pager_nav.html", {"noun": "user", **context}))[0]

    assert shown(first=1, last=25, total=5, exact=False, at_least=True) == "1–25 of at least 25 users"
    assert shown(first=1, last=3, total=5, exact=False, at_least=True) == "1–3 of at least 5 users"
    assert shown(first=3301, last=3374, total=3373, exact=False) == "3,301–3,374 of at least 3,374 users"
    assert shown(first=1, last=25, total=3373, exact=False) == "1–25 of ≈ 3,373 users"
    assert shown(first=1, last=25, total=30, exact=True) == "1–25 of 30 users"


def test_a_page_link_edited_to_another_list_shows_its_rows_without_claiming_their_place(people, client_as):
    """A cursor keeps its place's number only in the list it was made for: the same order with other filters, or
    another user's conversations, shows the rows after its key but does not call them "26–27"."""
    support = client_as("support")
    other = ChatUser.objects.create(external_id="acct-other", display_name="Other", created_at=T0)
    Conversation.objects.bulk_create(
        Conversation(
            user=other, title=f"Other {n}", created_at=T0, updated_at=T0, last_message_at=T0 - timedelta(days=1)
        )
        for n in range(3)
    )
    theirs = f"/users/{people[0].pk}/"
    token = pager_token(support.get(theirs), "next")
    assert pager_text(support.get(theirs, {"after": token}).content.decode()) == ["26–27 of 27 conversations"]
    elsewhere = support.get(f"/users/{other.pk}/", {"after": token})
    assert elsewhere.status_code == 200 and pager_text(elsewhere.content.decode()) == ["This page of 3 conversations"]

    listed = support.get("/conversations/", {"size": 25})
    onwards = support.get("/conversations/", {"size": 25, "after": pager_token(listed, "next")})
    assert pager_text(onwards.content.decode()) == ["26–30 of 30 conversations"]
    # The page size is not part of the list: a link made at 25 a page keeps its place at 50.
    wider = support.get("/conversations/", {"size": 50, "after": pager_token(listed, "next")})
    assert pager_text(wider.content.decode()) == ["26–30 of 30 conversations"]
    edited = support.get("/conversations/", {"size": 25, "user": "acct-0", "after": pager_token(listed, "next")})
    assert edited.status_code == 200 and pager_text(edited.content.decode())[0].startswith("This page of")
    # Its own links are made for the list it shows: one step back is a place in it again.
    back = support.get("/conversations/", {"size": 25, "user": "acct-0", "before": pager_token(edited, "prev")})
    assert pager_text(back.content.decode())[0].startswith("1–")
