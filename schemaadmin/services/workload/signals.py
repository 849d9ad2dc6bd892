"""Cancel or terminate a session: what the signal would hit, the checks before it, and its audit.

Signals are refused, with a sentence, for a pid that is not a running backend, for the backend serving the request
itself, for SchemaAdmin's own sessions unless the caller confirmed twice, for a cancel of an idle session (PostgreSQL
ignores it), and for a pid whose session is not the one confirmed (backend_start differs: the pid was reused). Every
signal sent is audited with the statement the session was running and when that session started; every one refused,
by SchemaAdmin or by PostgreSQL, with the sentence that refused it (`activity.<signal>_refused`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest

from schemaadmin import audit
from schemaadmin.conf import app_settings
from schemaadmin.pg import activity as pg_activity
from schemaadmin.pg.activity import MAX_PID, SignalRefused
from schemaadmin.pg.sessions import application_name
from schemaadmin.services.workload.activity import (
    CLIENT_BACKEND,
    ActivityThresholds,
    SessionRow,
    idle_in_transaction,
    is_own,
    long_running,
    our_roles,
)
from schemaadmin.services.workload.query_shape import query_shape

# States in which a backend waits for its client: a cancel is ignored there.
IDLE_STATES = frozenset({"idle", "idle in transaction", "idle in transaction (aborted)"})

__all__ = [
    "IDLE_STATES",
    "OwnSessionUnconfirmed",
    "Signal",
    "SignalOutcome",
    "SignalPlan",
    "SignalRefusal",
    "refuse_signal",
    "send_signal",
    "signal_plan",
]


class Signal(enum.StrEnum):
    CANCEL = "cancel"
    TERMINATE = "terminate"

    @property
    def consequence(self) -> str:
        """Return what happens to the session and its transaction, as the confirmation says it."""
        if self is Signal.CANCEL:
            return (
                "Its current statement stops with an error. If it runs inside a transaction block, that "
                "transaction is aborted and must be rolled back by its client; the session stays connected."
            )
        return (
            "Its connection is closed. Any open transaction is rolled back, its locks are released, and the "
            "client sees its connection drop."
        )


class SignalRefusal(ValueError):
    """A signal SchemaAdmin will not send, or PostgreSQL would not; the message says why in a sentence."""


class OwnSessionUnconfirmed(SignalRefusal):
    """A signal to one of SchemaAdmin's own sessions, not confirmed a second time."""


@dataclass(frozen=True, slots=True)
class SignalPlan:
    """What a cancel or terminate would hit: the session as it is now, and whether it is one of ours."""

    signal: Signal
    pid: int
    row: SessionRow

    @property
    def own(self) -> bool:
        return self.row.own


def signal_plan(signal: Signal, pid: int, *, show_query_text: bool, using: str = "default") -> SignalPlan:
    """Return what signalling pid would hit, or raise SignalRefusal saying why it cannot be signalled."""
    if not 0 < pid <= MAX_PID:
        raise SignalRefusal(f"{pid} is not a process id: PostgreSQL's pids are whole numbers from 1 to {MAX_PID}.")
    config = app_settings()
    session = pg_activity.session(
        pid, query_chars=int(config["ACTIVITY_QUERY_CHARS"]), our_roles=our_roles(), using=using
    )
    if session is None:
        raise SignalRefusal(f"No server process with pid {pid} is running (it may have ended already).")
    if session.is_current:
        raise SignalRefusal(f"Process {pid} is the session serving this very request; it cannot {signal} itself.")
    if session.needs_superuser:
        raise SignalRefusal(
            f"Process {pid} belongs to the superuser role {session.role}: only a superuser may {signal} it."
        )
    if session.backend_type != CLIENT_BACKEND:
        raise SignalRefusal(
            f"Process {pid} is PostgreSQL's {session.backend_type}, not a client session: SchemaAdmin signals "
            "client sessions only."
        )
    if signal is Signal.CANCEL and session.state in IDLE_STATES:
        # PostgreSQL ignores a cancel while the backend waits for its client: the call returns true, nothing stops.
        raise SignalRefusal(
            f"Process {pid} is {session.state}: no statement is running, so a cancel would change nothing. "
            + ("Terminate it to end its transaction and release its locks." if session.xact_start else "")
        )
    thresholds = ActivityThresholds.from_settings()
    row = SessionRow(
        session=session,
        query=session.query if show_query_text else query_shape(session.query),
        query_shown=show_query_text,
        own=is_own(session, application_name(using)),
        long_running=long_running(session, thresholds),
        idle_in_transaction=idle_in_transaction(session, thresholds),
        blocking=(),
    )
    return SignalPlan(signal=signal, pid=pid, row=row)


@dataclass(frozen=True, slots=True)
class SignalOutcome:
    plan: SignalPlan
    signalled: bool

    @property
    def message(self) -> str:
        pid, signal = self.plan.pid, self.plan.signal
        if not self.signalled:
            return f"PostgreSQL did not {signal} process {pid}: it ended before the signal reached it."
        if signal is Signal.CANCEL:
            return f"Cancel sent to process {pid}: its statement stops and its transaction, if any, is aborted."
        return f"Process {pid} terminated: its transaction is rolled back and its locks released."


def send_signal(
    signal: Signal,
    pid: int,
    *,
    user: Any = None,
    request: HttpRequest | None = None,
    as_username: str = "",
    confirmed_own: bool = False,
    started: datetime | None = None,
    using: str = "default",
) -> SignalOutcome:
    """Cancel or terminate pid after the plan's checks; audit it with the full statement; refuse our own unconfirmed.
    With started (the backend_start the confirmation showed), only that session: a pid reused since is refused.
    A refusal is audited too, with its sentence, before SignalRefusal is raised."""
    try:
        plan = signal_plan(signal, pid, show_query_text=True, using=using)
        signalled = _send(plan, confirmed_own=confirmed_own, started=started, using=using)
    except SignalRefusal as refusal:
        refuse_signal(
            signal, pid, str(refusal), user=user, request=request, as_username=as_username, started=started, using=using
        )
        raise
    session = plan.row.session
    audit.record(
        request,
        f"activity.{signal}",
        f"pid {pid}",
        actor=user,
        as_username=as_username,
        signalled=signalled,
        database=session.database,
        role=session.role,
        application=session.application,
        client=session.client,
        state=session.state,
        own=plan.own,
        query=session.query,
        query_truncated=session.query_truncated,
        backend_start=session.backend_start.isoformat() if session.backend_start else None,
        xact_start=session.xact_start.isoformat() if session.xact_start else None,
        database_alias=using,
    )
    return SignalOutcome(plan=plan, signalled=signalled)


def _send(plan: SignalPlan, *, confirmed_own: bool, started: datetime | None, using: str) -> bool:
    """Send the plan's signal unless the session is not the one confirmed or is ours unconfirmed; return whether
    PostgreSQL signalled it (False: it ended first)."""
    signal, pid, session = plan.signal, plan.pid, plan.row.session
    if started is not None and session.backend_start != started:
        raise SignalRefusal(
            f"Process {pid} is no longer the session you confirmed: that one ended, and pid {pid} now belongs to "
            f"another session ({session.role or 'no role'}, application {session.application or '(none)'}). "
            "Look at it again before you signal it."
        )
    if plan.own and not confirmed_own:
        raise OwnSessionUnconfirmed(
            f"Process {pid} is one of SchemaAdmin's own sessions (application_name {session.application!r}): "
            f"confirm a second time to {signal} it."
        )
    try:
        # The statement itself checks the session's start: a pid reused between the check above and now is spared.
        sender = pg_activity.cancel_backend if signal is Signal.CANCEL else pg_activity.terminate_backend
        return sender(pid, started=session.backend_start, using=using)
    except SignalRefused as refused:
        raise SignalRefusal(f"PostgreSQL refused to {signal} process {pid}: {refused}") from refused


def refuse_signal(
    signal: Signal,
    pid: int | str,
    reason: str,
    *,
    user: Any = None,
    request: HttpRequest | None = None,
    as_username: str = "",
    started: datetime | None = None,
    using: str = "default",
) -> None:
    """Audit a cancel or terminate that was asked for and not sent, with the sentence that refused it (pid as text:
    what a refused form sent, which names no session)."""
    audit.record_refusal(
        request,
        f"activity.{signal}_refused",
        f"pid {pid}",
        reason,
        actor=user,
        as_username=as_username,
        backend_start=started.isoformat() if started else None,
        database_alias=using,
    )
