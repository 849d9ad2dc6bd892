"""services/workload/signals.py on a real server: refusals with a sentence, our own sessions, and a terminate that
frees a waiter."""

from __future__ import annotations

import pytest

from schemaadmin.models import AuditEvent
from schemaadmin.services.workload.signals import Signal, SignalRefusal, send_signal, signal_plan
from tests.blocking import blocking, blocking_factory, own_session, poll  # noqa: F401 -- the fixtures

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("pid", [0, -1, 2**31, 10**20])
def test_impossible_pids_are_refused_with_a_sentence(pid):
    with pytest.raises(SignalRefusal, match="not a process id"):
        signal_plan(Signal.CANCEL, pid, show_query_text=True)


def test_a_pid_that_is_not_running_is_refused_and_the_refusal_audited():
    with pytest.raises(SignalRefusal, match="No server process with pid 2147483647 is running") as refused:
        send_signal(Signal.TERMINATE, 2**31 - 1, as_username="ops")
    event = AuditEvent.objects.get()
    assert (event.action, event.target, event.actor_username) == ("activity.terminate_refused", "pid 2147483647", "ops")
    assert event.detail["reason"] == str(refused.value)


def test_our_own_session_is_refused_unless_confirmed():
    with own_session() as pid:
        with pytest.raises(SignalRefusal, match="SchemaAdmin's own sessions"):
            send_signal(Signal.TERMINATE, pid, as_username="ops")
        refused = AuditEvent.objects.get()
        assert refused.action == "activity.terminate_refused" and "confirm a second time" in refused.detail["reason"]
        outcome = send_signal(Signal.TERMINATE, pid, as_username="ops", confirmed_own=True)
        assert outcome.signalled
    event = AuditEvent.objects.get(action="activity.terminate")
    assert event.actor is None and event.actor_username == "ops" and event.detail["own"] is True


def test_terminate_through_the_service_frees_the_waiter(blocking):  # noqa: F811
    outcome = send_signal(Signal.TERMINATE, blocking.blocker_pid, as_username="ops")
    assert outcome.signalled and "rolled back" in outcome.message
    poll(blocking.waiter_finished, what="the waiter to get its row")
    assert blocking.outcome == {"done": True}
    assert "balance - 1" in AuditEvent.objects.get(action="activity.terminate").detail["query"]


def test_a_signal_for_a_session_that_started_at_another_time_is_refused_and_not_sent(blocking):  # noqa: F811
    """A pid reused since the confirmation: its session now started at another time. Neither the service nor the
    statement itself signals it."""
    from datetime import timedelta

    from schemaadmin.pg import activity

    session = activity.session(blocking.blocker_pid)
    other = session.backend_start - timedelta(seconds=1)
    with pytest.raises(SignalRefusal, match="no longer the session you confirmed"):
        send_signal(Signal.TERMINATE, blocking.blocker_pid, as_username="ops", started=other)
    refused = AuditEvent.objects.get(action="activity.terminate_refused")
    assert refused.detail["backend_start"] == other.isoformat()
    assert activity.terminate_backend(blocking.blocker_pid, started=other) is False
    assert activity.session(blocking.blocker_pid) is not None
    outcome = send_signal(Signal.TERMINATE, blocking.blocker_pid, as_username="ops", started=session.backend_start)
    assert outcome.signalled
    event = AuditEvent.objects.get(action="activity.terminate")
    assert event.detail["backend_start"] == session.backend_start.isoformat()
