"""The audit log's own SQL: a read written in one round trip, without waiting for the WAL to reach the disk; the
actions it holds."""

from __future__ import annotations

import json
from typing import Any

from django.db import connections

from schemaadmin.pg.connection import cursor, fetch_all, validated_alias

__all__ = ["audit_actions", "insert_read_event"]

# In autocommit the statement is its own transaction, and set_config(..., true) lasts only for it: that commit
# returns without waiting for the WAL flush (1–3 ms on this machine's disk, far more at p95). The row is visible at
# once; only a server crash within about three wal_writer_delay (600 ms) can lose it. Inside a transaction the
# setting is left as it is (NULL): the caller's commit decides, durable as the rest of its work.
_INSERT = """
    WITH commit_mode AS (
        SELECT set_config('synchronous_commit', coalesce(%(mode)s, current_setting('synchronous_commit')), true)
    )
    INSERT INTO schemaadmin_auditevent (actor_id, actor_username, action, target, detail, ip_address, at)
    SELECT %(actor_id)s, %(actor_username)s, %(action)s, %(target)s, %(detail)s::jsonb, %(ip_address)s::inet, now()
    FROM commit_mode
"""


def insert_read_event(
    *,
    actor_id: int | None,
    actor_username: str,
    action: str,
    target: str,
    detail: dict[str, Any],
    ip_address: str | None,
    using: str = "default",
) -> None:
    """Insert one AuditEvent row, committed asynchronously when the connection is in autocommit."""
    in_transaction = not connections[validated_alias(using)].get_autocommit()
    params = {
        "mode": None if in_transaction else "off",
        "actor_id": actor_id,
        "actor_username": actor_username,
        "action": action,
        "target": target,
        "detail": json.dumps(detail),
        "ip_address": ip_address,
    }
    with cursor(using) as cur:
        cur.execute(_INSERT, params)


# The distinct actions, one descent of audit_action_at_id (action, at, id) each: a loose index scan. SELECT DISTINCT
# would read every event (millions).
_ACTIONS = """
    WITH RECURSIVE found AS (
        SELECT (SELECT min(action) FROM schemaadmin_auditevent) AS action
        UNION ALL
        SELECT (SELECT min(e.action) FROM schemaadmin_auditevent AS e WHERE e.action > found.action)
        FROM found
        WHERE found.action IS NOT NULL
    )
    SELECT action FROM found WHERE action IS NOT NULL LIMIT %(most)s
"""


def audit_actions(*, most: int = 500, using: str = "default") -> list[str]:
    """Return the actions the audit log holds, in order (at most most of them)."""
    return [row[0] for row in fetch_all(_ACTIONS, {"most": most}, using=using)]
