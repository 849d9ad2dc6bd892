"""What the server is doing now: sessions with their flags, the blocking tree, locks, connections.

One report per page refresh (or command run) reads pg_stat_activity and pg_locks a fixed number of times; the
blocking tree is built here from the pids pg_blocking_pids() returned in that one read. Query text carries the
values users typed: only those who may read it (``view_query_text``) get it, everyone else its shape.

Cancelling and terminating a session are in services/workload/signals.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from schemaadmin.conf import app_settings
from schemaadmin.pg import activity as pg_activity
from schemaadmin.pg.activity import MAX_PID, ConnectionSlots, RelationLocks, Session
from schemaadmin.pg.connection import validated_alias
from schemaadmin.pg.sessions import application_name
from schemaadmin.services.explain.run import explain_login
from schemaadmin.services.workload.query_shape import query_shape

__all__ = [
    "MAX_PID",
    "ActivityFacts",
    "ActivityReport",
    "ActivityThresholds",
    "BlockingNode",
    "LockSummary",
    "SessionRow",
    "activity_facts",
    "activity_report",
    "idle_in_transaction",
    "is_own",
    "long_running",
]

IDLE_IN_TRANSACTION = frozenset({"idle in transaction", "idle in transaction (aborted)"})
CLIENT_BACKEND = "client backend"


@dataclass(frozen=True, slots=True)
class ActivityThresholds:
    long_running_seconds: float
    idle_in_transaction_seconds: float
    connections_near_max_ratio: float

    @classmethod
    def from_settings(cls) -> ActivityThresholds:
        config = app_settings()
        return cls(
            long_running_seconds=config["ACTIVITY_LONG_RUNNING_SECONDS"],
            idle_in_transaction_seconds=config["ACTIVITY_IDLE_IN_TRANSACTION_SECONDS"],
            connections_near_max_ratio=config["ACTIVITY_CONNECTIONS_NEAR_MAX_RATIO"],
        )


def our_roles() -> tuple[str, ...]:
    """Return the roles besides the application's own that SchemaAdmin's sessions connect as: the EXPLAIN console's
    login and its SET ROLE role. Named, not found by membership: to a superuser every role is one it is a member of."""
    login = explain_login() or {}
    return tuple(name for name in (app_settings()["EXPLAIN_ROLE"], login.get("user")) if name)


def is_own(session: Session, label: str) -> bool:
    """Return whether the session is one of SchemaAdmin's: it ran this query, or it carries our application_name
    and connected as our role or one of our_roles(): any client may call itself "schemaadmin"."""
    named_ours = session.application == label or session.application.startswith(f"{label} ")
    return session.is_current or (named_ours and session.our_role)


def long_running(session: Session, thresholds: ActivityThresholds) -> bool:
    """Return whether an active client session's transaction has run at least the long-running threshold."""
    age = session.xact_seconds if session.xact_seconds is not None else session.query_seconds
    return (
        session.backend_type == CLIENT_BACKEND
        and session.state == "active"
        and age is not None
        and age >= thresholds.long_running_seconds
    )


def idle_in_transaction(session: Session, thresholds: ActivityThresholds) -> bool:
    """Return whether a session has sat idle inside a transaction at least the threshold."""
    return (
        session.state in IDLE_IN_TRANSACTION
        and session.state_seconds is not None
        and session.state_seconds >= thresholds.idle_in_transaction_seconds
    )


@dataclass(frozen=True, slots=True)
class ActivityFacts:
    """What the activity health findings are computed from: client sessions, connection slots, our label."""

    sessions: list[Session] = field(hash=False)
    slots: ConnectionSlots
    own_label: str


def activity_facts(*, using: str = "default") -> ActivityFacts:
    """Read the sessions (queries cut short) and connection slots the health findings need, in two statements."""
    config = app_settings()
    with transaction.atomic(using=using):
        sessions = pg_activity.sessions(
            limit=int(config["ACTIVITY_MAX_SESSIONS"]), query_chars=200, our_roles=our_roles(), using=using
        )
        slots = pg_activity.connection_slots(using=using)
    return ActivityFacts(sessions=sessions, slots=slots, own_label=application_name(using))


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A session as pages and commands show it: its query (or the query's shape), flags, who it blocks."""

    session: Session
    query: str
    query_shown: bool  # False: query is the shape, literals replaced
    own: bool
    long_running: bool
    idle_in_transaction: bool
    blocking: tuple[int, ...]  # pids waiting on this session

    @property
    def pid(self) -> int:
        return self.session.pid

    @property
    def duration_seconds(self) -> float | None:
        """Return how long the statement has run if active, else how long the session has been in its state."""
        if self.session.state == "active":
            return self.session.query_seconds
        return self.session.state_seconds

    @property
    def flagged(self) -> bool:
        return self.long_running or self.idle_in_transaction

    @property
    def quiet(self) -> bool:
        """Return whether the session neither works nor waits nor blocks (idle, a background process at rest), or
        is the one reading the report."""
        s = self.session
        return not (s.blocked_by or self.blocking) and (s.state == "idle" or s.state is None or s.is_current)


@dataclass(frozen=True, slots=True)
class BlockingNode:
    row: SessionRow
    waiters: list[BlockingNode] = field(hash=False)


@dataclass(frozen=True, slots=True)
class LockSummary:
    total: int
    waiting: int
    by_mode: dict[str, int] = field(hash=False)
    waiting_by_mode: dict[str, int] = field(hash=False)
    by_type: dict[str, int] = field(hash=False)
    relations: list[RelationLocks] = field(hash=False)


@dataclass(frozen=True, slots=True)
class ActivityReport:
    database: str  # the alias read
    taken_at: datetime
    rows: list[SessionRow] = field(hash=False)
    session_limit: int
    slots: ConnectionSlots
    by_state: dict[str, int] = field(hash=False)
    by_role: dict[str, int] = field(hash=False)
    by_application: dict[str, int] = field(hash=False)
    locks: LockSummary
    thresholds: ActivityThresholds
    own_label: str
    query_text_shown: bool

    @property
    def cut(self) -> bool:
        """Return whether more sessions exist than the report holds."""
        return len(self.rows) >= self.session_limit

    @property
    def blocking_tree(self) -> list[BlockingNode]:
        return blocking_tree(self.rows)

    @property
    def waiting_count(self) -> int:
        return sum(1 for row in self.rows if row.session.blocked_by)

    @property
    def near_max(self) -> bool:
        return self.slots.total >= self.thresholds.connections_near_max_ratio * self.slots.available

    @property
    def connection_groups(self) -> list[tuple[str, dict[str, int]]]:
        return [("By state", self.by_state), ("By role", self.by_role), ("By application", self.by_application)]

    def rows_shown(self, *, everything: bool) -> list[SessionRow]:
        """Return every row, or only those that are not quiet (what the page lists by default)."""
        return self.rows if everything else [row for row in self.rows if not row.quiet]

    def row(self, pid: int) -> SessionRow | None:
        return next((row for row in self.rows if row.pid == pid), None)


def blocking_tree(rows: list[SessionRow]) -> list[BlockingNode]:
    """Return the sessions that block others and wait on no one, each with the chain of sessions queued behind it.

    A waiter queued behind two sessions appears under both. Sessions waiting on each other in a cycle (a deadlock
    until PostgreSQL's detector breaks it) have no root: the first of them in the report stands for one.
    """
    by_pid = {row.pid: row for row in rows}
    waiters: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        for blocker in row.session.blocked_by:
            waiters[blocker].append(row.pid)
    roots = [pid for pid in waiters if pid in by_pid and not by_pid[pid].session.blocked_by]
    placed = {pid for pid in roots}
    for pid in waiters:  # cycles and blockers whose own blocker fell outside the report
        if pid in by_pid and pid not in placed and not _reaches_root(pid, by_pid, roots):
            roots.append(pid)
            placed.add(pid)
    # A waiter none of whose blockers is a session here: a prepared transaction (pid 0) or a session past the
    # report's cut. It stands as a root of its own, or a lock wait would be counted and shown nowhere in the tree.
    for row in rows:
        blockers = row.session.blocked_by
        if blockers and row.pid not in placed and not any(blocker in by_pid for blocker in blockers):
            roots.append(row.pid)
            placed.add(row.pid)

    def node(pid: int, path: frozenset[int]) -> BlockingNode:
        children = [node(w, path | {w}) for w in waiters.get(pid, []) if w in by_pid and w not in path]
        return BlockingNode(by_pid[pid], children)

    return [node(pid, frozenset({pid})) for pid in roots]


def _reaches_root(pid: int, by_pid: dict[int, SessionRow], roots: list[int]) -> bool:
    seen: set[int] = set()
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        if current in roots:
            return True
        if current in seen or current not in by_pid:
            continue
        seen.add(current)
        frontier.extend(by_pid[current].session.blocked_by)
    return False


def _lock_summary(using: str, relation_limit: int) -> LockSummary:
    rows = pg_activity.lock_summary(relation_limit=relation_limit, using=using)
    counts = rows.counts
    by_mode: dict[str, int] = defaultdict(int)
    waiting_by_mode: dict[str, int] = defaultdict(int)
    by_type: dict[str, int] = defaultdict(int)
    for count in counts:
        by_mode[count.mode] += count.locks
        by_type[count.locktype] += count.locks
        if not count.granted:
            waiting_by_mode[count.mode] += count.locks
    return LockSummary(
        total=sum(c.locks for c in counts),
        waiting=sum(waiting_by_mode.values()),
        by_mode=dict(sorted(by_mode.items(), key=lambda item: -item[1])),
        waiting_by_mode=dict(waiting_by_mode),
        by_type=dict(sorted(by_type.items(), key=lambda item: -item[1])),
        relations=list(rows.relations),
    )


def activity_report(
    *, show_query_text: bool, using: str = "default", thresholds: ActivityThresholds | None = None
) -> ActivityReport:
    """Read the server's sessions, connections and locks once; queries in full only when show_query_text."""
    validated_alias(using)
    config = app_settings()
    thresholds = thresholds or ActivityThresholds.from_settings()
    label = application_name(using)
    limit = int(config["ACTIVITY_MAX_SESSIONS"])
    # One transaction: pg_stat_activity is read once into the backend's snapshot, so sessions and counts agree.
    with transaction.atomic(using=using):
        sessions = pg_activity.sessions(
            limit=limit, query_chars=int(config["ACTIVITY_QUERY_CHARS"]), our_roles=our_roles(), using=using
        )
        slots = pg_activity.connection_slots(using=using)
        counts = pg_activity.connection_counts(using=using)
        locks = _lock_summary(using, int(config["ACTIVITY_LOCKED_RELATIONS"]))
    blocks: dict[int, list[int]] = defaultdict(list)
    for s in sessions:
        for blocker in s.blocked_by:
            blocks[blocker].append(s.pid)
    rows = [
        SessionRow(
            session=s,
            query=s.query if show_query_text else query_shape(s.query),
            query_shown=show_query_text,
            own=is_own(s, label),
            long_running=long_running(s, thresholds),
            idle_in_transaction=idle_in_transaction(s, thresholds),
            blocking=tuple(blocks.get(s.pid, ())),
        )
        for s in sessions
    ]
    grouped: dict[str, dict[str, int]] = defaultdict(dict)
    for count in counts:
        grouped[count.dimension][count.value] = count.sessions
    return ActivityReport(
        database=using,
        taken_at=timezone.now(),
        rows=rows,
        session_limit=limit,
        slots=slots,
        by_state=grouped["state"],
        by_role=grouped["role"],
        by_application=grouped["application"],
        locks=locks,
        thresholds=thresholds,
        own_label=label,
        query_text_shown=show_query_text,
    )
