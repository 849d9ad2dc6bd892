"""The product's real queries, filled with real ids from the database, ready to EXPLAIN."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections

from schemaadmin.models import Conversation, KnowledgeBaseChunk
from schemaadmin.models.chat import SEARCH_CONFIG

__all__ = ["Preset", "presets"]


@dataclass(frozen=True, slots=True)
class Preset:
    key: str
    label: str
    sql: str
    ef_search: int | None = None
    compare: str | None = None  # a one-click comparison ticked with it (services.explain.run.COMPARISONS)


LATEST_CONVERSATIONS = """
SELECT c.id, c.title, c.channel, c.last_message_at, c.message_count, u.external_id
FROM conversations AS c
JOIN users AS u ON u.id = c.user_id
WHERE c.user_id = %s
ORDER BY c.last_message_at DESC NULLS LAST, c.id DESC
LIMIT 25
"""

THREAD_PAGE = """
SELECT m.id, m.role, m.content, m.token_count, m.created_at
FROM conversation_messages AS m
WHERE m.conversation_id = %s
ORDER BY m.created_at DESC, m.id DESC
LIMIT 50
"""

FULL_TEXT_SEARCH = """
SELECT m.id, m.conversation_id, m.created_at
FROM conversation_messages AS m
WHERE m.search_vector @@ websearch_to_tsquery(%s::regconfig, %s)
ORDER BY m.created_at DESC, m.id DESC
LIMIT 25
"""

# The same cast on both sides as KnowledgeBaseChunk.objects.nearest(), so the halfvec HNSW index can serve it.
NEAREST_CHUNKS = """
SELECT ch.id, ch.document_id, ch.chunk_index,
       (ch.embedding::halfvec(3072)) <=> (SELECT q.embedding::halfvec(3072)
                                          FROM knowledge_base_chunks AS q
                                          WHERE q.id = %s) AS distance
FROM knowledge_base_chunks AS ch
WHERE ch.embedding IS NOT NULL
ORDER BY distance
LIMIT 10
"""

NEAREST_CHUNKS_GENERIC = """
SELECT ch.id, ch.document_id, ch.chunk_index, (ch.embedding::halfvec(3072)) <=> $1::halfvec(3072) AS distance
FROM knowledge_base_chunks AS ch
WHERE ch.embedding IS NOT NULL
ORDER BY distance
LIMIT 10
"""


def _sql(template: str, params: list[object] | None, *, using: str) -> str:
    """Return template with params as literals (psycopg quotes them), or with $n when there are none."""
    if params is None:
        count = template.count("%s")
        template = template.replace("%s", "{}").format(*(f"${n}" for n in range(1, count + 1)))
        return template.strip()
    return connections[using].ops.compose_sql(template, params).strip()  # type: ignore[attr-defined]  # PostgreSQL


def presets(*, using: str = "default", search_term: str = "index") -> list[Preset]:
    """Return the presets, with the newest user, conversation and chunk as their ids ($1 where there is none)."""
    latest = Conversation.objects.using(using).order_by("-id").values_list("id", "user_id").first()
    chunk = (
        KnowledgeBaseChunk.objects.using(using)
        .filter(embedding__isnull=False)
        .order_by("-id")
        .values_list("id")
        .first()
    )
    return [
        Preset(
            "conversations",
            "A user's latest conversations",
            _sql(LATEST_CONVERSATIONS, [latest[1]] if latest else None, using=using),
        ),
        Preset("thread", "A thread page", _sql(THREAD_PAGE, [latest[0]] if latest else None, using=using)),
        Preset("search", "Full-text search", _sql(FULL_TEXT_SEARCH, [SEARCH_CONFIG, search_term], using=using)),
        Preset(
            "knn",
            "kNN over knowledge-base chunks",
            _sql(NEAREST_CHUNKS, [chunk[0]], using=using) if chunk else NEAREST_CHUNKS_GENERIC.strip(),
            ef_search=40,
            # On the demo's 5,000 chunks the planner prefers reading them all to the HNSW index: show both plans.
            compare="seqscan_off",
        ),
    ]
