"""Messages for the conversation tests, loaded with COPY (the statement-level trigger keeps the counts)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection

COLUMNS = "conversation_id, user_id, role, content, token_count, created_at"


def copy_messages(rows: Iterable[tuple[Any, ...]]) -> None:
    """COPY (conversation_id, user_id, role, content, token_count, created_at) rows into conversation_messages."""
    with connection.cursor() as cur, cur.copy(f"COPY conversation_messages ({COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
