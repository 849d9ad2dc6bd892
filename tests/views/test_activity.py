"""/activity/ through the test client: a real blocked session, query text by permission, cancel and terminate."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
from django.db import connections

from schemaadmin.models import AuditEvent
from tests.blocking import audit_unwritable, blocking, blocking_factory, poll  # noqa: F401 -- the fixtures

pytestmark = pytest.mark.django_db

_STARTED = re.compile(r'<input type="hidden" name="started" value="([^"]*)"')


def confirmed(client, signal: str, pid: int) -> dict[str, str]:
    """Return what the confirmation page's form posts: the pid and when the session it shows started."""
    page = client.get(f"/activity/{signal}?pid={pid}").content.decode()
    return {"pid": str(pid), "started": html.unescape(_STARTED.search(page).group(1))}


def test_operator_sees_the_blocked_session_and_its_blocker_without_values(client_as, blocking):  # noqa: F811
    response = client_as("operator").get("/activity/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="blocking-tree"' in page
    assert f'data-pid="{blocking.blocker_pid}"' in page and f'data-pid="{blocking.waiter_pid}"' in page
    assert f"blocked by {blocking.blocker_pid}" in page
    # The statement's shape only: its values are replaced, and no cancel or terminate is offered.
    assert "balance = balance + ? WHERE id = ?" in page
    assert "balance + 1" not in page
    assert "Terminate…" not in page and "/activity/terminate" not in page
    assert 'hx-trigger="every 5s"' in page


def test_dba_reads_query_text_and_is_offered_the_actions(client_as, blocking):  # noqa: F811
    page = client_as("dba").get("/activity/").content.decode()
    assert "balance = balance + 1 WHERE id = 1" in page
    assert f"/activity/terminate?pid={blocking.blocker_pid}" in page
    assert f"/activity/cancel?pid={blocking.waiter_pid}" in page


def test_htmx_gets_the_live_part_and_pause_stops_the_refresh(client_as, blocking):  # noqa: F811
    client = client_as("operator")
    live = client.get("/activity/", HTTP_HX_REQUEST="true").content.decode()
    assert live.lstrip().startswith('<section id="activity-live"') and "<html" not in live
    paused = client.get("/activity/?paused=on", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in paused.split(">", 1)[0] and 'data-testid="resume"' in paused


def test_idle_sessions_are_listed_on_asking(client_as, blocking):  # noqa: F811
    from tests.blocking import own_session

    client = client_as("operator")
    with own_session() as idle_pid:
        default = client.get("/activity/").content.decode()
        assert f'data-pid="{blocking.waiter_pid}"' in default and f'data-pid="{idle_pid}"' not in default
        everything = client.get("/activity/?all=on").content.decode()
        assert f'<tr data-pid="{idle_pid}"' in everything
        # The refresh keeps asking for everything.
        assert 'hx-get="/activity/?all=on" hx-trigger' in everything


def test_confirmation_names_the_query_and_what_happens(client_as, blocking):  # noqa: F811
    page = client_as("dba").get(f"/activity/terminate?pid={blocking.blocker_pid}").content.decode()
    assert "balance = balance - 1 WHERE id = 1" in page
    assert "idle in transaction" in page
    assert "ClientRead" not in page  # an idle session waits for its client: not news, and no block
    assert "rolled back" in page
    assert 'data-testid="own-warning"' not in page


def test_dba_cancels_the_waiting_statement_and_it_is_audited(client_as, blocking):  # noqa: F811
    client = client_as("dba")
    response = client.post("/activity/cancel", confirmed(client, "cancel", blocking.waiter_pid))
    assert response.status_code == 302 and response["Location"] == "/activity/"
    poll(blocking.waiter_finished, what="the waiter to stop")
    assert "canceling statement" in str(blocking.outcome["error"])
    event = AuditEvent.objects.get(action="activity.cancel")
    assert event.actor_username == "dba-user" and event.target == f"pid {blocking.waiter_pid}"
    assert event.detail["signalled"] is True
    assert "balance = balance + 1" in event.detail["query"]


def test_dba_terminates_the_blocker_and_the_waiter_goes_on(client_as, blocking):  # noqa: F811
    client = client_as("dba")
    response = client.post("/activity/terminate", confirmed(client, "terminate", blocking.blocker_pid), follow=True)
    assert f"Process {blocking.blocker_pid} terminated" in response.content.decode()
    poll(blocking.waiter_finished, what="the waiter to get its row")
    assert blocking.outcome == {"done": True}
    assert AuditEvent.objects.get(action="activity.terminate").detail["state"] == "idle in transaction"


def test_operators_may_not_signal_and_the_attempt_is_audited(client_as, blocking):  # noqa: F811
    client = client_as("operator")
    assert client.post("/activity/terminate", {"pid": blocking.blocker_pid}).status_code == 403
    assert client.get(f"/activity/cancel?pid={blocking.waiter_pid}").status_code == 403
    assert blocking.waiter.is_alive()
    assert not AuditEvent.objects.filter(action__startswith="activity.").exists()
    denied = AuditEvent.objects.filter(action="access.denied").order_by("pk")
    assert [(event.actor_username, event.target, event.detail) for event in denied] == [
        ("operator-user", "/activity/terminate", {"permission": "signal_sessions", "method": "POST"}),
        ("operator-user", "/activity/cancel", {"permission": "signal_sessions", "method": "GET"}),
    ]


@pytest.mark.parametrize(
    "pid, sentence",
    [
        ("abc", "A process id is a whole number"),
        ("", "its pid is missing"),
        ("-3", "A process id is a whole number"),
        ("0", "A process id is a whole number"),
        ("1.5", "A process id is a whole number"),
        ("99999999999999999999999", "A process id is a whole number"),
        ("2147483647", "No server process with pid 2147483647 is running"),
        ("12\x00", "A process id is a whole number"),
        ("٣", "A process id is a whole number"),  # Arabic-Indic 3: int() reads it, the pid column never writes it
        ("１２", "A process id is a whole number"),  # full-width 12
        ("1_2", "A process id is a whole number"),  # int() reads 12
        ("+12", "A process id is a whole number"),
        ("12.0", "A process id is a whole number"),
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_hostile_pids_get_a_sentence(client_as, pid, sentence, method):
    client = client_as("dba")
    response = getattr(client, method)("/activity/terminate", {"pid": pid})
    assert response.status_code == 400
    assert sentence in response.content.decode()
    # A POST is a terminate asked for and refused, audited with the pid as sent (it names no session); a GET only
    # asked to see the confirmation.
    refused = AuditEvent.objects.filter(action__startswith="activity.")
    if method == "get":
        assert not refused.exists()
        return
    [event] = refused
    assert (event.action, event.actor_username) == ("activity.terminate_refused", "dba-user")
    assert event.target == f"pid {pid[:20] or '(none)'}".replace("\x00", "\ufffd")  # a pid's first 20 characters
    if pid != "2147483647":  # a pid that could be one: refused for the confirmation's missing start
        assert sentence in event.detail["reason"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_request_naming_two_sessions_signals_neither(client_as, blocking, method):  # noqa: F811
    # Django reads the last of repeated values: "pid=1&pid=<blocker>" terminated the blocker alone, and said nothing.
    response = getattr(client_as("dba"), method)("/activity/terminate", {"pid": [1, blocking.blocker_pid]})
    assert response.status_code == 400
    assert "This request names 2 sessions (pid is given 2 times)" in response.content.decode()
    assert blocking.blocker.execute("SELECT 1").fetchone() == (1,)  # still there, still in its transaction
    assert not AuditEvent.objects.filter(action="activity.terminate").exists()
    refused = AuditEvent.objects.filter(action="activity.terminate_refused")
    if method == "get":
        assert not refused.exists()
    else:
        [event] = refused
        assert (event.actor_username, event.target) == ("dba-user", f"pid 1, {blocking.blocker_pid}")
        assert "This request names 2 sessions (pid is given 2 times)" in event.detail["reason"]


@pytest.mark.django_db
@pytest.mark.parametrize("signal", ["cancel", "terminate"])
def test_a_hostile_signal_post_is_refused_and_audited_bounded(client_as, signal):
    data = {"pid": ["9" * 10_000 + "\x00"] * 100, "started": "x\x00" * 10_000}  # under Django's size limits
    response = client_as("dba").post(f"/activity/{signal}", data)
    assert response.status_code == 400
    event = AuditEvent.objects.get(action=f"activity.{signal}_refused")
    assert event.actor_username == "dba-user" and event.target == "pid " + ", ".join(["9" * 20] * 5) + ", …"
    assert "This request names 100 sessions" in event.detail["reason"] and len(event.detail["reason"]) <= 2_000
    assert "\x00" not in event.detail["reason"]


def test_our_own_session_needs_a_second_confirmation(client_as):
    from django.db import connection

    from tests.blocking import own_session

    client = client_as("dba")
    with own_session() as pid:
        page = client.get(f"/activity/terminate?pid={pid}").content.decode()
        assert 'data-testid="own-warning"' in page
        refused = client.post("/activity/terminate", confirmed(client, "terminate", pid))
        assert refused.status_code == 409
        assert "confirm a second time" in refused.content.decode()
        # What to do, in the page's own words, and that nothing happened meanwhile.
        said = html.unescape(refused.content.decode())
        assert "Nothing was sent." in said and "Tick “I know this is one of SchemaAdmin's own sessions" in said
        assert "then press Terminate again." in said
        # The box is marked as what needs doing (aria-invalid: schemaadmin.js focuses it), described by the refusal.
        box = re.search(r'<input type="checkbox" name="confirm_own"[^>]*>', said).group(0)
        assert 'class="form-check-input is-invalid"' in box and 'aria-describedby="signal-refusal"' in box
        assert 'aria-invalid="true"' in box and 'id="signal-refusal"' in said
        # The page asks again, for the same session: its confirmation box and its start are there.
        assert 'name="confirm_own"' in refused.content.decode()
        assert confirmed(client, "terminate", pid)["started"] in html.unescape(refused.content.decode())
        assert not AuditEvent.objects.filter(action="activity.terminate").exists()
        event = AuditEvent.objects.get(action="activity.terminate_refused")
        assert event.actor_username == "dba-user" and "confirm a second time" in event.detail["reason"]
        done = client.post("/activity/terminate", {**confirmed(client, "terminate", pid), "confirm_own": "on"})
        assert done.status_code == 302
        assert AuditEvent.objects.get(action="activity.terminate").detail["own"] is True
    assert connection.is_usable()


def test_the_session_serving_the_request_is_refused(client_as):
    from django.db import connection

    client = client_as("dba")
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    response = client.post("/activity/terminate", {"pid": pid, "confirm_own": "on"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "serving this very request" in page
    # Said once, though the request had no confirmed start either.
    assert page.count('data-testid="refusal"') == 1


def test_the_overview_and_the_findings_page_show_activity_findings(client_as, settings, blocking):  # noqa: F811
    settings.SCHEMAADMIN = {"ACTIVITY_IDLE_IN_TRANSACTION_SECONDS": 0}
    client = client_as("operator")
    overview = client.get("/").content.decode()
    section = overview.split('data-testid="activity-overview"', 1)[1].split("</section>", 1)[0]
    assert 'data-code="idle_in_transaction"' in section
    assert f'href="/activity/" data-testid="finding-link">session {blocking.blocker_pid}' in section
    findings = client.get("/findings/?code=idle_in_transaction")
    assert findings.status_code == 200
    assert f'<a href="/activity/">session {blocking.blocker_pid}</a>' in findings.content.decode()


def test_a_quiet_server_says_so_on_the_overview(client_as, settings):
    settings.SCHEMAADMIN = {"ACTIVITY_IDLE_IN_TRANSACTION_SECONDS": 10**6, "ACTIVITY_LONG_RUNNING_SECONDS": 10**6}
    overview = client_as("operator").get("/").content.decode()
    assert "No long-running or idle-in-transaction sessions" in overview


def test_what_sessions_say_about_themselves_is_escaped(client_as):
    from schemaadmin.pg.connection import own_connection

    hostile = "<img src=x onerror=alert(1)>"
    conn = own_connection(autocommit=False, application_name=hostile)
    try:
        conn.execute("SELECT '<script>alert(2)</script>'")
        page = client_as("dba").get("/activity/?all=on").content.decode()
    finally:
        conn.close()
    assert hostile not in page and "<script>alert(2)" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def _pids_in_order(page: str) -> list[int]:
    import re

    return [int(pid) for pid in re.findall(r'<tr data-pid="(\d+)"', page)]


def test_sessions_sort_by_their_headers_and_say_so(client_as, blocking):  # noqa: F811
    import re

    client = client_as("dba")
    page = client.get("/activity/").content.decode()
    for key in ("state", "role", "database", "wait", "duration"):
        assert re.search(rf'aria-sort="none"><a class="sort-link" href="\?sort=-{key}"', page), key
    # The blocker sits idle in its transaction, the waiter is active and waits on its lock.
    by_state = client.get("/activity/", {"sort": "state"}).content.decode()
    assert _pids_in_order(by_state).index(blocking.waiter_pid) < _pids_in_order(by_state).index(blocking.blocker_pid)
    assert 'aria-sort="ascending"><a class="sort-link" href="?sort=-state"' in by_state
    descending = client.get("/activity/", {"sort": "-state", "all": "on"}).content.decode()
    order = _pids_in_order(descending)
    assert order.index(blocking.blocker_pid) < order.index(blocking.waiter_pid)
    # The blocker waits for its client (Client: ClientRead), the waiter for a lock (Lock: transactionid).
    ascending = _pids_in_order(client.get("/activity/", {"sort": "wait"}).content.decode())
    assert ascending.index(blocking.blocker_pid) < ascending.index(blocking.waiter_pid)
    descending_wait = _pids_in_order(client.get("/activity/", {"sort": "-wait"}).content.decode())
    assert descending_wait.index(blocking.waiter_pid) < descending_wait.index(blocking.blocker_pid)
    # The refresh, pause and toggle keep the order.
    assert 'hx-get="/activity/?all=on&amp;sort=-state" hx-trigger' in descending
    assert 'href="/activity/?paused=on&amp;all=on&amp;sort=-state"' in descending


@pytest.mark.parametrize("bad", ["pid", "-bogus", "<script>", "duration,role"])
def test_an_unknown_session_sort_is_a_400_naming_the_columns(client_as, bad):
    response = client_as("operator").get("/activity/", {"sort": bad}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    page = response.content.decode()
    assert "to sort the sessions by. Sort by one of: state (State)" in page and "<script>" not in page


def test_the_actions_sit_beside_the_pid(client_as, blocking):  # noqa: F811
    page = client_as("dba").get("/activity/").content.decode()
    row = page.split(f'<tr data-pid="{blocking.waiter_pid}"', 1)[1].split("</tr>", 1)[0]
    first_cell = row.split("</td>", 1)[0]
    assert f"/activity/cancel?pid={blocking.waiter_pid}" in first_cell
    assert f"/activity/terminate?pid={blocking.waiter_pid}" in first_cell
    # The blocker is idle in its transaction: no statement to cancel, so only Terminate is offered.
    blocker = page.split(f'<tr data-pid="{blocking.blocker_pid}"', 1)[1].split("</tr>", 1)[0]
    assert "idle in transaction" in blocker
    assert f"/activity/terminate?pid={blocking.blocker_pid}" in blocker
    assert f"/activity/cancel?pid={blocking.blocker_pid}" not in blocker
    # Each row is the target of a link to its session (a rebuild's page names the pid its build waits for).
    assert page.count(f'id="pid-{blocking.blocker_pid}"') == 1


def test_a_query_shows_from_its_first_line_with_a_one_line_preview():
    from types import SimpleNamespace

    from schemaadmin.templatetags.activity import _query

    lines = ["SELECT a.pid,", "       a.state", "FROM pg_stat_activity AS a", "WHERE a.pid <> 1"]
    indented = "\n" + "".join(f"        {line}\n" for line in lines)  # as a client indents a query in its code
    cell = _query(SimpleNamespace(query=indented, session=SimpleNamespace(query_truncated=False)))
    preview, full = cell.split("</summary>")
    assert "<code>SELECT a.pid, a.state FROM pg_stat_activity AS a WHERE a.pid &lt;&gt; 1</code>" in preview
    assert "<code>SELECT a.pid,\n       a.state\nFROM pg_stat_activity AS a\nWHERE a.pid &lt;&gt; 1</code>" in full
    for query in ("  SELECT 1  ", "   \n  SELECT 1\n"):  # a first line of spaces alone is no line either
        short = _query(SimpleNamespace(query=query, session=SimpleNamespace(query_truncated=False)))
        assert short == "<code>SELECT 1</code>", query


def test_a_confirmation_signals_only_the_session_it_showed_not_a_later_one_with_its_pid(client_as, blocking):  # noqa: F811
    """The blocker's pid, confirmed when another session had it (its start differs): a pid reused between the
    confirmation and the click. Nothing is sent; the page shows the session the pid belongs to now, to look at."""
    client = client_as("dba")
    form = confirmed(client, "terminate", blocking.blocker_pid)
    earlier = datetime.fromisoformat(form["started"]) - timedelta(minutes=5)
    response = client.post("/activity/terminate", {**form, "started": earlier.isoformat()})
    assert response.status_code == 400
    assert "no longer the session you confirmed" in response.content.decode()
    assert f'name="started" value="{html.escape(form["started"])}"' in response.content.decode()
    assert not AuditEvent.objects.filter(action="activity.terminate").exists()
    assert client.post("/activity/terminate", {"pid": blocking.blocker_pid}).status_code == 400  # no start: refused
    assert not blocking.waiter_finished()  # the blocker still holds its row


def test_cancelling_a_session_idle_in_a_transaction_is_refused_as_doing_nothing(client_as, blocking):  # noqa: F811
    """PostgreSQL ignores a cancel while the backend waits for its client; it used to be reported as sent."""
    page = client_as("dba").get(f"/activity/cancel?pid={blocking.blocker_pid}")
    assert page.status_code == 400
    assert "idle in transaction: no statement is running" in page.content.decode()
    assert "Terminate it to end its transaction" in page.content.decode()


def test_a_cancel_confirmed_before_the_session_went_idle_says_why_once_and_links_to_terminate(client_as, blocking):  # noqa: F811
    """Confirmed while its statement ran, sent when it idled in its transaction: the sentence was shown twice, and
    the page told to terminate it without a way to."""
    client = client_as("dba")
    form = confirmed(client, "terminate", blocking.blocker_pid)  # the session as a confirmation shows it
    response = client.post("/activity/cancel", form)
    page = response.content.decode()
    assert response.status_code == 400
    assert page.count("no statement is running") == 1 and "Nothing was sent." in page
    link = f'href="/activity/terminate?pid={blocking.blocker_pid}" data-testid="terminate-instead"'
    assert link in page
    assert client.get(f"/activity/terminate?pid={blocking.blocker_pid}").status_code == 200
    assert not blocking.waiter_finished()  # nothing was sent


def test_a_session_blocked_by_a_prepared_transaction_says_so_and_how_to_end_it():
    from schemaadmin.templatetags.activity import _blockers

    said = _blockers((0, 4242))
    assert said.startswith("4242, a prepared transaction") and "ROLLBACK PREPARED" in said


@pytest.mark.django_db(transaction=True)  # the lock is taken by another session, which sees only committed tables
def test_a_refused_signal_is_still_a_400_when_its_audit_event_cannot_be_written(client_as, settings, caplog):
    """audit.record_refusal, which every <area>.<verb>_refused goes through, logs an event it cannot write."""
    client = client_as("dba")
    with audit_unwritable(settings, caplog, "schemaadmin.audit"):
        response = client.post("/activity/terminate", {"pid": "0"})
    assert response.status_code == 400 and "A process id is a whole number" in response.content.decode()
    assert "Could not audit activity.terminate_refused of pid 0" in caplog.text
    assert not AuditEvent.objects.filter(action="activity.terminate_refused").exists()


@pytest.mark.django_db(transaction=True)
def test_a_refusal_is_committed_when_requests_are_atomic(client_as, monkeypatch):
    """The project does not set ATOMIC_REQUESTS; if it did, a refusal is rendered, not raised, so its event commits."""
    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
    response = client_as("dba").post("/activity/terminate", {"pid": ["1", "2"]})
    assert response.status_code == 400
    assert connections["default"].get_autocommit() and not connections["default"].in_atomic_block
    event = AuditEvent.objects.get(action="activity.terminate_refused")
    assert (event.actor_username, event.target) == ("dba-user", "pid 1, 2")
