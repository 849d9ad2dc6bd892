"""The chat and knowledge-base schema as the database enforces it: constraints, cascades, timestamps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction

from schemaadmin.models import (
    ChatUser,
    Conversation,
    ConversationPreference,
    KnowledgeBaseChunk,
    KnowledgeBaseDocument,
    Message,
)
from schemaadmin.models.chat import MAX_MESSAGE_LENGTH

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def thread(db):
    user = ChatUser.objects.create(external_id="+44 7700 900001", display_name="Ada")
    conversation = Conversation.objects.create(user=user, title="Refund", created_at=NOW, updated_at=NOW)
    Message.objects.create(conversation=conversation, user=user, role="user", content="hi", created_at=NOW)
    ConversationPreference.objects.create(user=user, language="en", tone="friendly", settings={"a": 1})
    return user, conversation


def _raw_insert_message(conversation: Conversation, role: str, content: str) -> None:
    # Straight SQL, as the chat product writes: the database, not Django, must refuse bad rows.
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO conversation_messages (conversation_id, user_id, role, content, token_count, created_at)"
            " VALUES (%s, %s, %s, %s, 0, now())",
            [conversation.pk, conversation.user_id, role, content],
        )


def test_message_role_outside_the_four_roles_is_refused_by_the_database(thread):
    _, conversation = thread
    with pytest.raises(IntegrityError, match="messages_role_valid"), transaction.atomic():
        _raw_insert_message(conversation, "robot", "hello")
    for role in ("user", "assistant", "system", "tool"):
        _raw_insert_message(conversation, role, "fine")


def test_message_content_longer_than_the_bound_is_refused(thread):
    _, conversation = thread
    _raw_insert_message(conversation, "user", "x" * MAX_MESSAGE_LENGTH)
    with pytest.raises(IntegrityError, match="messages_content_length"), transaction.atomic():
        _raw_insert_message(conversation, "user", "x" * (MAX_MESSAGE_LENGTH + 1))


def test_deleting_a_user_in_sql_cascades_to_conversations_messages_and_preferences(thread):
    user, conversation = thread
    with connection.cursor() as cur:
        cur.execute("DELETE FROM users WHERE id = %s", [user.pk])
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Message.objects.filter(conversation_id=conversation.pk).exists()
    assert not ConversationPreference.objects.filter(user_id=user.pk).exists()


def test_deleting_a_user_through_django_cascades_without_loading_the_messages(thread, django_assert_max_num_queries):
    user, conversation = thread
    # The cascade is the database's (ON DELETE CASCADE), so Django issues one DELETE, not one per related row.
    with django_assert_max_num_queries(2):
        user.delete()
    assert not Message.objects.filter(conversation_id=conversation.pk).exists()


def test_deleting_a_document_cascades_to_its_chunks(db):
    document = KnowledgeBaseDocument.objects.create(title="Handbook", content_hash="a" * 64)
    KnowledgeBaseChunk.objects.create(document=document, chunk_index=0, content="c0")
    KnowledgeBaseChunk.objects.create(document=document, chunk_index=1, content="c1")
    document.delete()
    assert not KnowledgeBaseChunk.objects.filter(document_id=document.pk).exists()


def test_chunk_index_is_unique_per_document(db):
    document = KnowledgeBaseDocument.objects.create(title="Handbook", content_hash="b" * 64)
    KnowledgeBaseChunk.objects.create(document=document, chunk_index=0, content="c0")
    with pytest.raises(IntegrityError), transaction.atomic():
        KnowledgeBaseChunk.objects.create(document=document, chunk_index=0, content="again")


def test_external_id_and_content_hash_are_unique(db):
    ChatUser.objects.create(external_id="acct-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatUser.objects.create(external_id="acct-1")
    KnowledgeBaseDocument.objects.create(title="a", content_hash="c" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        KnowledgeBaseDocument.objects.create(title="b", content_hash="c" * 64)


def test_ids_are_uuid_for_users_and_documents_and_bigint_for_the_big_tables(db):
    columns = dict(
        (f"{t}.{c}", d)
        for t, c, d in _columns(
            [
                ("users", "id"),
                ("knowledge_base_documents", "id"),
                ("conversations", "id"),
                ("conversation_messages", "id"),
                ("knowledge_base_chunks", "id"),
                ("knowledge_base_chunks", "embedding"),
                ("conversation_messages", "created_at"),
            ]
        )
    )
    assert columns["users.id"] == "uuid"
    assert columns["knowledge_base_documents.id"] == "uuid"
    assert columns["conversations.id"] == columns["conversation_messages.id"] == "bigint"
    assert columns["knowledge_base_chunks.id"] == "bigint"
    assert columns["knowledge_base_chunks.embedding"] == "vector(3072)"
    assert columns["conversation_messages.created_at"] == "timestamp with time zone"


def _columns(pairs):
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
            WHERE (c.relname, a.attname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
            """,
            [[t for t, _ in pairs], [c for _, c in pairs]],
        )
        return cur.fetchall()


def test_indexes_from_the_design_exist(db):
    with connection.cursor() as cur:
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename IN "
            "('conversations', 'conversation_messages', 'knowledge_base_chunks')"
        )
        defs = dict(cur.fetchall())
    assert "(user_id, last_message_at DESC)" in defs["conversations_user_last_msg"]
    assert "(conversation_id, created_at, id)" in defs["messages_conv_created_id"]
    assert "USING gin (search_vector)" in defs["messages_content_fts"]
    hnsw = defs["kb_chunks_embedding_hnsw"]
    assert "USING hnsw (((embedding)::halfvec(3072)) halfvec_cosine_ops)" in hnsw
    assert "m='16'" in hnsw and "ef_construction='64'" in hnsw


def test_user_id_is_a_uuid_that_round_trips(db):
    user = ChatUser.objects.create(external_id="acct-2")
    assert isinstance(user.pk, uuid.UUID)
    assert ChatUser.objects.get(pk=user.pk).external_id == "acct-2"


def test_message_search_vector_is_stored_and_found_through_the_gin_index(thread):
    from django.contrib.postgres.search import SearchQuery

    _, conversation = thread
    _raw_insert_message(conversation, "assistant", "Your refund for order 1234 was approved.")
    query = SearchQuery("refund approved", config="simple", search_type="websearch")
    hits = Message.objects.filter(search_vector=query)
    assert [m.content for m in hits] == ["Your refund for order 1234 was approved."]
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        plan = hits.explain()
    assert "messages_content_fts" in plan


def test_a_search_reads_a_short_pending_list_however_many_messages_arrived(thread):
    # GIN keeps new messages' words in a pending list that every search reads in full until an insert merges it.
    # 1,500 messages of 24 distinct words each make ~2 MB of entries: under the server's 4 MB limit all of it
    # waits (252 pages read by every search); under the index's 256 kB, at most ~32 pages do.
    _, conversation = thread
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO conversation_messages (conversation_id, user_id, role, content, token_count, created_at)
            SELECT %s, %s, 'assistant',
                   (SELECT string_agg('w' || md5(i::text || '-' || j::text), ' ') FROM generate_series(1, 24) AS j),
                   0, now()
            FROM generate_series(1, 1500) AS i
            """,
            [conversation.pk, conversation.user_id],
        )
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id FROM conversation_messages "
            "WHERE search_vector @@ to_tsquery('simple', 'nowordislikethis')"
        )
        plan = cur.fetchone()[0][0]["Plan"]
    scan = plan if plan["Node Type"] == "Bitmap Index Scan" else plan["Plans"][0]
    assert scan["Index Name"] == "messages_content_fts"
    pages = scan["Shared Hit Blocks"] + scan["Shared Read Blocks"]
    assert pages <= 40, f"a search for a missing word read {pages} pages of the index"
