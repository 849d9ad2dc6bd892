"""manage.py activity: the documented JSON with a real blocked session, text, and signals with their exit codes."""

from __future__ import annotations

import getpass
import io
import json
import re

import pytest
from django.core.management import CommandError, call_command

from schemaadmin.models import AuditEvent
from tests.blocking import blocking, blocking_factory, own_session, poll  # noqa: F401 -- the fixtures

pytestmark = pytest.mark.django_db

SESSION_KEYS = {
    "pid", "database", "role", "application", "state", "wait_event_type", "wait_event", "query", "query_start",
    "xact_start", "duration_s", "blocked_by",
}  # fmt: skip


def run(*args: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("activity", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return out.getvalue(), err.getvalue(), int(exc.code or 0)
    return out.getvalue(), err.getvalue(), 0


def test_json_has_the_documented_shape_and_the_blocked_session(blocking):  # noqa: F811
    output, _, status = run("--format", "json")
    assert status == 0
    data = json.loads(output)
    assert set(data) == {"connections", "sessions", "locks"}
    assert set(data["connections"]) == {"total", "max", "by_state"}
    assert set(data["locks"]) == {"total", "waiting", "by_mode"}
    assert data["connections"]["max"] > 0 and data["connections"]["by_state"]["idle in transaction"] >= 1
    sessions = {s["pid"]: s for s in data["sessions"]}
    assert all(set(s) == SESSION_KEYS for s in sessions.values())
    waiter = sessions[blocking.waiter_pid]
    assert waiter["blocked_by"] == [blocking.blocker_pid]
    assert waiter["wait_event_type"] == "Lock" and waiter["state"] == "active"
    assert "balance + 1" in waiter["query"] and waiter["duration_s"] >= 0
    assert sessions[blocking.blocker_pid]["xact_start"] is not None
    assert data["locks"]["waiting"] >= 1 and data["locks"]["by_mode"]["ShareLock"] >= 1


def test_text_draws_the_blocking_tree(blocking):  # noqa: F811
    output, _, status = run()
    assert status == 0
    assert f"  {blocking.blocker_pid} idle in transaction" in output
    assert f"    └ {blocking.waiter_pid} active" in output
    assert "Connections:" in output and "Locks:" in output


def test_terminate_exits_0_and_is_audited_as_the_os_user(blocking):  # noqa: F811
    output, _, status = run("--terminate", str(blocking.blocker_pid))
    assert status == 0 and "terminated" in output
    poll(blocking.waiter_finished, what="the waiter to get its row")
    event = AuditEvent.objects.get(action="activity.terminate")
    assert event.actor is None and event.actor_username == f"os:{getpass.getuser()}"
    assert "balance - 1" in event.detail["query"]


def test_cancel_exits_0(blocking):  # noqa: F811
    _, _, status = run("--cancel", str(blocking.waiter_pid))
    assert status == 0
    poll(blocking.waiter_finished, what="the waiter to stop")
    assert "error" in blocking.outcome


@pytest.mark.parametrize(
    "pid, sentence",
    [
        ("abc", "'abc' is not a process id"),
        ("-7", "-7 is not a process id"),
        ("0", "0 is not a process id"),
        ("99999999999999999999", "is not a process id"),
        ("\u0664\u0662", "'\u0664\u0662' is not a process id"),  # Arabic-Indic 42: int() read it as pid 42
        ("1_000", "'1_000' is not a process id"),
        ("2147483647", "No server process with pid 2147483647 is running"),
    ],
)
def test_what_cannot_be_signalled_exits_1_with_a_sentence(pid, sentence):
    for flag in ("--cancel", "--terminate"):
        _, err, status = run(flag, pid)
        assert status == 1 and sentence in err
    # A whole number is a signal asked for and refused, audited with its sentence; anything else never names one.
    refused = AuditEvent.objects.order_by("pk")
    if re.fullmatch(r"-?[0-9]+", pid):
        assert [event.action for event in refused] == ["activity.cancel_refused", "activity.terminate_refused"]
        assert all(sentence in event.detail["reason"] for event in refused)
    else:
        assert not refused.exists()


def test_our_own_session_needs_own():
    with own_session() as pid:
        _, err, status = run("--terminate", str(pid))
        assert status == 1 and "Add --own to confirm" in err
        _, _, status = run("--terminate", str(pid), "--own")
        assert status == 0


def test_own_without_a_signal_is_refused_not_ignored():
    with pytest.raises(CommandError, match="--own confirms a --cancel or --terminate") as refused:
        call_command("activity", "--own", stdout=io.StringIO())
    assert refused.value.returncode == 2


def test_cancel_and_terminate_exclude_each_other():
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("activity", "--cancel", "1", "--terminate", "2")


def test_an_unknown_database_is_a_command_error():
    with pytest.raises(CommandError, match="replica"):
        call_command("activity", "--database", "replica", stdout=io.StringIO())
