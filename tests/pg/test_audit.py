"""A read written to the audit log in one statement: asynchronous commit alone, or part of the caller's transaction."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from schemaadmin.audit import record
from schemaadmin.models import AuditEvent
from schemaadmin.pg.audit import insert_read_event

WHO = {"actor_id": None, "actor_username": "ada", "ip_address": "192.0.2.1"}


def _insert(action: str, **detail: object) -> None:
    insert_read_event(**WHO, action=action, target="conversation:7", detail=detail)


def _synchronous_commit() -> str:
    with connection.cursor() as cur:
        cur.execute("SHOW synchronous_commit")
        return cur.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_the_event_is_written_and_the_session_keeps_its_synchronous_commit():
    assert connection.get_autocommit()
    before = _synchronous_commit()
    _insert("conversation.view", user_id="u-1", around=42)
    event = AuditEvent.objects.get(action="conversation.view")
    assert (event.actor_id, event.actor_username, event.target, event.ip_address) == (
        None,
        "ada",
        "conversation:7",
        "192.0.2.1",
    )
    assert event.detail == {"user_id": "u-1", "around": 42} and event.at is not None
    # set_config(..., true) lasted for the insert's own transaction: the next statements commit as before.
    assert _synchronous_commit() == before


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_event_commits_or_rolls_back_with_it():
    with transaction.atomic():
        _insert("kept")
        assert _synchronous_commit() == "on"  # the caller's commit stays durable
    with pytest.raises(RuntimeError), transaction.atomic():
        _insert("undone")
        raise RuntimeError
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["kept"]
    assert _synchronous_commit() == "on"


@pytest.mark.django_db
def test_deleting_an_account_leaves_its_audit_events_as_they_were():
    departed = User.objects.create_user("departed")
    departed_id = departed.pk
    for n in range(3):
        record(None, "conversation.view", f"conversation:{n}", actor=departed)
    with CaptureQueriesContext(connection) as captured:
        departed.delete()
    assert not [q["sql"] for q in captured if "schemaadmin_auditevent" in q["sql"]]
    events = AuditEvent.objects.filter(actor_username="departed")
    assert events.count() == 3 and set(events.values_list("actor_id", flat=True)) == {departed_id}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'schemaadmin_auditevent'::regclass AND contype = 'f'"
        )
        assert cur.fetchone() == (0,)  # nothing in the database rewrites or refuses them either
