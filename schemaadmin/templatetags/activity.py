"""The activity page's session rows, built in Python: hundreds of rows refresh every few seconds.

An {% include %} per row costs about a millisecond a row; 500 sessions would spend the page's whole budget in the
template engine. Every value from the server is escaped (escape(), format_html); pids are integers; URLs come
from reverse().
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from schemaadmin.formats import duration_text
from schemaadmin.services.workload.activity import CLIENT_BACKEND, BlockingNode, SessionRow

register = template.Library()

__all__ = ["blocking_tree", "session_rows"]

SHORT_QUERY = 120


@register.simple_tag
def session_rows(rows: Iterable[SessionRow], can_signal: bool) -> SafeString:
    """Return the <tr> of each session for the sessions table (the actions column only for can_signal)."""
    cancel, terminate = reverse("schemaadmin:activity_cancel"), reverse("schemaadmin:activity_terminate")
    return mark_safe("".join(_row(row, can_signal, cancel, terminate) for row in rows))  # escaped parts


@register.simple_tag
def blocking_tree(nodes: Iterable[BlockingNode], can_signal: bool) -> SafeString:
    """Return the blocking tree's nested <li>s: each blocker, the sessions queued behind it beneath it.

    A waiter queued behind two sessions is drawn in full once; where it stands again, a line points back to it."""
    urls = reverse("schemaadmin:activity_cancel"), reverse("schemaadmin:activity_terminate")
    drawn: set[int] = set()
    return mark_safe("".join(_node(node, can_signal, urls, drawn) for node in nodes))


# The states in which a session runs a statement that a cancel would stop.
RUNNING_STATES = frozenset({"active", "fastpath function call"})


def _signallable(row: SessionRow) -> bool:
    s = row.session
    return s.backend_type == CLIENT_BACKEND and not s.is_current and not s.needs_superuser


def _node(node: BlockingNode, can_signal: bool, urls: tuple[str, str], drawn: set[int]) -> str:
    row, s = node.row, node.row.session
    if row.pid in drawn:
        return format_html(
            '<li class="blocking-node small text-body-secondary" data-again-pid="{}">pid {}, shown above: it waits '
            "for {}</li>",
            row.pid,
            row.pid,
            mark_safe(_blockers(s.blocked_by)),  # pids and a literal
        )
    drawn.add(row.pid)
    badge = (
        '<span class="badge text-bg-danger">waiting</span>'
        if s.blocked_by
        else '<span class="badge text-bg-warning">blocking</span>'
    )
    transaction = f" · transaction {duration_text(s.xact_seconds)}" if s.xact_seconds is not None else ""
    cancel, terminate = urls
    links = []
    if can_signal and _signallable(row):
        # A waiter runs its statement: a cancel ends the wait with it (a blocker idle in its transaction has none).
        if s.state in RUNNING_STATES:
            links.append(
                format_html(
                    '<a class="btn btn-sm btn-outline-warning" href="{}?pid={}" aria-label="Cancel pid {}">Cancel…</a>',
                    cancel,
                    row.pid,
                    row.pid,
                )
            )
        links.append(
            format_html(
                '<a class="btn btn-sm btn-outline-danger" href="{}?pid={}" aria-label="Terminate pid {}">'
                "Terminate…</a>",
                terminate,
                row.pid,
                row.pid,
            )
        )
    waiters = "".join(_node(waiter, can_signal, urls, drawn) for waiter in node.waiters)
    query = row.query if len(row.query) <= 160 else f"{row.query[:159]}…"
    return format_html(
        '<li class="blocking-node" data-pid="{}" data-testid="blocking-node">'
        '<div class="d-flex flex-wrap align-items-baseline gap-2"><strong>pid {}</strong> {} '
        '<span class="small">{} · {} · {}{}</span> {}</div>'
        '<code class="d-block small text-truncate activity-query">{}</code>{}</li>',
        row.pid,
        row.pid,
        mark_safe(badge),  # a literal
        s.role or "",
        s.application or "(no application name)",
        s.state or "",
        transaction,
        mark_safe(" ".join(links)),  # format_html's
        query,
        mark_safe(f'<ul class="list-unstyled">{waiters}</ul>') if waiters else "",  # escaped by format_html
    )


def _row(row: SessionRow, can_signal: bool, cancel: str, terminate: str) -> str:
    # escape() on every value from the server, f-strings around them: format_html per cell doubled the page's time.
    s = row.session
    tone = ' class="session-waiting"' if s.blocked_by else ' class="session-flagged"' if row.flagged else ""
    own = (
        f' <span class="badge text-bg-secondary" title="application_name {escape(s.application)}">ours</span>'
        if row.own
        else ""
    )
    flags = "".join(
        f' <span class="badge text-bg-warning">{label}</span>'
        for label, on in (("long-running", row.long_running), ("idle in transaction", row.idle_in_transaction))
        if on
    )
    kind = (
        f'<div class="small text-body-secondary">{escape(s.backend_type)}</div>'
        if s.state and s.backend_type != CLIENT_BACKEND
        else ""
    )
    # An idle session (in a transaction or not) waits for its client by definition: its state says so already.
    waiting = f"{escape(s.wait_event_type)}: {escape(s.wait_event)}" if s.wait_event and not _idle(s.state) else ""
    if s.blocked_by:
        waiting += f'<div class="small" data-testid="blocked-by">blocked by {_blockers(s.blocked_by)}</div>'
    if row.blocking:
        waiting += f'<div class="small">blocks {", ".join(map(str, row.blocking))}</div>'
    actions = ""
    if can_signal and _signallable(row):
        # In the first column, beside the pid: on a laptop the table scrolls sideways and a last column is out of view.
        # Cancel stops the statement running: a session running none (idle, idle in transaction) is not offered it.
        cancel_link = (
            f'<a class="btn btn-sm btn-outline-warning" href="{cancel}?pid={s.pid}" '
            f'aria-label="Cancel pid {s.pid}">Cancel…</a> '
            if s.state in RUNNING_STATES
            else ""
        )
        actions = (
            f'<div class="session-actions">{cancel_link}<a class="btn btn-sm btn-outline-danger" '
            f'href="{terminate}?pid={s.pid}" aria-label="Terminate pid {s.pid}">Terminate…</a></div>'
        )
    duration = row.duration_seconds
    took = escape(duration_text(duration)) if duration is not None and (s.state or s.backend_type) else ""
    since = "" if not took or s.state == "active" else '<div class="small text-body-secondary">in this state</div>'
    return (
        f'<tr data-pid="{s.pid}" id="pid-{s.pid}"{tone}>'  # the id: a link to one session (a rebuild's wait)
        f'<td class="font-monospace text-nowrap">{s.pid}{own}{actions}</td>'
        f"<td>{escape(s.state or s.backend_type)}{flags}{kind}</td>"
        f'<td class="name-cell">{escape(s.role or "—")}</td><td class="name-cell">{escape(s.database or "—")}</td>'
        f'<td class="name-cell">{escape(s.application or "—")}'
        f'<div class="small text-body-secondary">{escape(s.client)}</div></td>'
        f'<td>{waiting}</td><td class="text-end text-nowrap">{took}{since}</td>'
        f'<td class="text-end text-nowrap">{escape(duration_text(s.xact_seconds))}</td>'
        f'<td class="activity-query">{_query(row)}</td></tr>'
    )


def _blockers(pids: tuple[int, ...]) -> str:
    """Return who a waiter waits for: pids, and pid 0 as what it is, a prepared transaction, with how to end it."""
    named = [str(pid) for pid in pids if pid != 0]
    if 0 in pids:
        named.append(
            "a prepared transaction (no session holds it: <code>SELECT gid, owner, prepared FROM "
            "pg_prepared_xacts</code> names it; <code>COMMIT PREPARED</code> or <code>ROLLBACK PREPARED</code> "
            "its gid ends it)"
        )
    return ", ".join(named)


def _query(row: SessionRow) -> str:
    # Shown from its first line, as its client indented it; its preview is one line, spaces collapsed.
    text, cut = textwrap.dedent(row.query).strip("\r\n").rstrip(), row.session.query_truncated
    if not text:
        return ""
    line = " ".join(text.split())
    if len(line) <= SHORT_QUERY and not cut and "\n" not in text:
        return format_html("<code>{}</code>", text)
    short = line if len(line) <= SHORT_QUERY else f"{line[: SHORT_QUERY - 1]}…"
    return format_html(
        '<details><summary><code>{}</code></summary><pre class="small mb-0"><code>{}</code>{}</pre></details>',
        short,
        text,
        " …" if cut else "",
    )


def _idle(state: str | None) -> bool:
    return (state or "").startswith("idle")
