"""Every keyset list's pager says where the page sits and of how many: exact when small, the planner's "≈" estimate
when counting would be slow (never COUNT(*) over a big table)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from schemaadmin.models import AuditEvent, ChatUser, Conversation

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
    second = operator.get("/rebuilds/", {"after": first.context["page"].next_cursor})
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
    second = operator.get("/schema/applies/", {"after": first.context["page"].next_cursor})
    assert pager_text(second.content.decode()) == ["51–55 of 55 runs"]
    assert [r.target for r in second.context["runs"]][-1] == "app.0000"
    back = operator.get("/schema/applies/", {"before": second.context["page"].previous_cursor})
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
    second = dba.get("/explain/", {"after": first.context["history_page"].next_cursor})
    assert pager_text(second.content.decode()) == ["21–25 of 25 runs"]
    assert len({r.pk for r in first.context["history"]} | {r.pk for r in second.context["history"]}) == 25
    everyone = dba.get("/explain/", {"runs": "all"})
    assert pager_text(everyone.content.decode()) == ["1–20 of 30 runs"]
    assert "runs=all" in everyone.content.decode().split('rel="next" href="', 1)[1].split('"', 1)[0]
    # A page link of one's own runs is not one of everyone's.
    mixed = dba.get("/explain/", {"runs": "all", "after": first.context["history_page"].next_cursor})
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
