"""Findings about what the server is doing now: sessions holding transactions open, connections running out.

They are health findings like the catalog's (same Finding, same CODES), but about sessions rather than a table:
schema and table stay empty, the object names the sessions, and the finding links to /activity/, where a DBA can
cancel or terminate them. SchemaAdmin's own sessions (a rebuild runs for hours by design) are left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace

from django.urls import reverse

from schemaadmin.formats import duration_text
from schemaadmin.pg import ddl, table_ddl
from schemaadmin.pg.activity import Session
from schemaadmin.services.index_health.findings import Finding, database_finding
from schemaadmin.services.index_health.snapshot import Snapshot
from schemaadmin.services.workload.activity import (
    ActivityFacts,
    ActivityThresholds,
    idle_in_transaction,
    is_own,
    long_running,
)

__all__ = ["ACTIVITY_CODES", "activity_findings"]

ACTIVITY_CODES = frozenset({"connections_near_max", "long_running_transaction", "idle_in_transaction"})

# Sessions named one by one in a finding's message; the rest are counted.
NAMED = 5


def _activity_finding(code: str, database: str, about: str, message: str, fix: str) -> Finding:
    # A health finding with no schema or table: it is about sessions, named in object, shown on /activity/.
    return replace(database_finding(code, database, about, message, fix), url=reverse("schemaadmin:activity"))


def _who(session: Session) -> str:
    app = f", application {session.application!r}" if session.application else ""
    client = f", from {session.client}" if session.client else ""
    return f"pid {session.pid} (role {session.role or '?'} on {session.database or '?'}{app}{client})"


def _pids(sessions: Sequence[Session]) -> str:
    named = ", ".join(str(s.pid) for s in sessions[:NAMED])
    more = f" and {len(sessions) - NAMED} more" if len(sessions) > NAMED else ""
    return f"{'session' if len(sessions) == 1 else 'sessions'} {named}{more}"


def _listed(sessions: Sequence[Session], how_long: str) -> str:
    lines = [f"{_who(s)}: {duration_text(getattr(s, how_long))}" for s in sessions[:NAMED]]
    if len(sessions) > NAMED:
        lines.append(f"… and {len(sessions) - NAMED} more.")
    return "\n".join(lines)


def long_running_transaction(facts: ActivityFacts, thresholds: ActivityThresholds, database: str) -> Iterator[Finding]:
    found = [s for s in facts.sessions if long_running(s, thresholds) and not is_own(s, facts.own_label)]
    if not found:
        return
    found.sort(key=lambda s: -(s.xact_seconds or 0))
    yield _activity_finding(
        "long_running_transaction",
        database,
        _pids(found),
        f"{len(found)} active {'session has' if len(found) == 1 else 'sessions have'} kept a transaction open "
        f"{duration_text(thresholds.long_running_seconds)} or more; its locks block DDL and vacuum cannot remove rows "
        f"it might still see:\n{_listed(found, 'xact_seconds')}",
        "\n".join(f"SELECT pg_cancel_backend({s.pid});  -- or cancel it on the activity page" for s in found[:NAMED]),
    )


def idle_in_transaction_sessions(
    facts: ActivityFacts, thresholds: ActivityThresholds, database: str
) -> Iterator[Finding]:
    found = [s for s in facts.sessions if idle_in_transaction(s, thresholds) and not is_own(s, facts.own_label)]
    if not found:
        return
    found.sort(key=lambda s: -(s.state_seconds or 0))
    roles = sorted({s.role for s in found if s.role})
    yield _activity_finding(
        "idle_in_transaction",
        database,
        _pids(found),
        f"{len(found)} {'session sits' if len(found) == 1 else 'sessions sit'} idle inside an open transaction "
        f"({duration_text(thresholds.idle_in_transaction_seconds)} or more), holding locks and the oldest snapshot "
        f"while the client does something else:\n{_listed(found, 'state_seconds')}",
        "\n".join(
            [f"SELECT pg_terminate_backend({s.pid});  -- rolls its transaction back" for s in found[:NAMED]]
            + [
                ddl.script(table_ddl.alter_role_setting(role, "idle_in_transaction_session_timeout", "5min"))
                for role in roles[:NAMED]
            ]
        ),
    )


def connections_near_max(facts: ActivityFacts, thresholds: ActivityThresholds, database: str) -> Iterator[Finding]:
    slots = facts.slots
    if slots.available <= 0 or slots.total < thresholds.connections_near_max_ratio * slots.available:
        return
    clients = [s for s in facts.sessions if s.backend_type == "client backend"]
    by_app = Counter(s.application or "(no application name)" for s in clients).most_common(NAMED)
    by_state = Counter(s.state or "unknown" for s in clients).most_common()
    share = slots.total / slots.available
    yield _activity_finding(
        "connections_near_max",
        database,
        f"{slots.total} of {slots.available} connections",
        f"{slots.total} client connections are open: {share:.0%} of the {slots.available} that max_connections "
        f"({slots.max_connections}) leaves after {slots.reserved} reserved slots. New connections fail once they run "
        f"out. Most from: {', '.join(f'{app} {n}' for app, n in by_app)}; by state: "
        f"{', '.join(f'{state} {n}' for state, n in by_state)}.",
        "-- Put a pooler (PgBouncer) in front of the applications, end idle sessions on the activity page,\n"
        "-- or raise the limit (it takes effect after a restart):\n"
        + ddl.script(table_ddl.alter_system("max_connections", slots.max_connections * 2)),
    )


def activity_findings(snapshot: Snapshot, thresholds: ActivityThresholds | None = None) -> Iterator[Finding]:
    """Yield the activity findings of the snapshot's sessions and connections (none when it has no activity)."""
    facts = snapshot.activity
    if facts is None:
        return
    thresholds = thresholds or ActivityThresholds.from_settings()
    yield from connections_near_max(facts, thresholds, snapshot.database)
    yield from long_running_transaction(facts, thresholds, snapshot.database)
    yield from idle_in_transaction_sessions(facts, thresholds, snapshot.database)
