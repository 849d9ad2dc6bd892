"""The seed_demo command: exact totals, consistent threads, determinism, clustered embeddings, safe reruns."""

from __future__ import annotations

import random
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from schemaadmin.demo import DemoSizes
from schemaadmin.demo.allocation import skewed_split
from schemaadmin.models import (
    ChatUser,
    Conversation,
    ConversationPreference,
    KnowledgeBaseChunk,
    KnowledgeBaseDocument,
    Message,
)
from schemaadmin.pg.bulk import index_definition

SMALL = {"users": 20, "conversations": 60, "messages": 500, "documents": 8, "chunks": 40}


def seed(**options: object) -> str:
    """Run seed_demo at the small size (overridable) and return what it printed."""
    out = StringIO()
    call_command("seed_demo", no_progress=True, stdout=out, **{**SMALL, **options})
    return out.getvalue()


def rows(sql: str, params: object = None) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def fingerprint() -> str:
    """Return one md5 over every loaded row, in key order, embeddings included."""
    (digest,) = rows(
        """
        SELECT md5(concat_ws('#',
            (SELECT string_agg(concat_ws('|', id, external_id, display_name, email, created_at), ';' ORDER BY id)
             FROM users),
            (SELECT string_agg(concat_ws('|', user_id, language, tone, settings, updated_at), ';' ORDER BY user_id)
             FROM conversation_preferences),
            (SELECT string_agg(concat_ws('|', id, user_id, title, channel, created_at, last_message_at), ';'
                               ORDER BY id)
             FROM conversations),
            (SELECT string_agg(concat_ws('|', id, conversation_id, user_id, role, content, token_count, created_at),
                               ';' ORDER BY id)
             FROM conversation_messages),
            (SELECT string_agg(concat_ws('|', id, title, source_uri, content_hash, status), ';' ORDER BY id)
             FROM knowledge_base_documents),
            (SELECT string_agg(concat_ws('|', id, document_id, chunk_index, content, embedding::text), ';'
                               ORDER BY id)
             FROM knowledge_base_chunks)
        ))
        """
    )[0]
    return digest


def empty_tables() -> None:
    with connection.cursor() as cur:
        cur.execute("TRUNCATE users, knowledge_base_documents CASCADE")


def test_loads_exactly_the_sizes_asked_for(db):
    output = seed()

    assert ChatUser.objects.count() == 20
    assert Conversation.objects.count() == 60
    assert Message.objects.count() == 500
    assert KnowledgeBaseDocument.objects.count() == 8
    assert KnowledgeBaseChunk.objects.count() == 40
    assert 0 < ConversationPreference.objects.count() <= 20
    assert "Loaded 20 users, 60 conversations, 500 messages, 8 documents and 40 chunks" in output


def test_every_conversation_has_messages_in_time_order_and_matching_timestamps(db):
    seed()

    mismatched = rows(
        """
        SELECT c.id
        FROM conversations AS c
        LEFT JOIN (
            SELECT conversation_id, count(*) AS n, min(created_at) AS first_at, max(created_at) AS last_at
            FROM conversation_messages
            GROUP BY conversation_id
        ) AS m ON m.conversation_id = c.id
        WHERE m.n IS NULL
           OR c.created_at <> m.first_at
           OR c.last_message_at <> m.last_at
           OR c.updated_at <> m.last_at
        """
    )
    out_of_order = rows(
        """
        SELECT count(*)
        FROM (
            SELECT created_at, lag(created_at) OVER (PARTITION BY conversation_id ORDER BY id) AS previous
            FROM conversation_messages
        ) AS m
        WHERE m.created_at <= m.previous
        """
    )
    owner_mismatch = rows(
        "SELECT count(*) FROM conversation_messages AS m JOIN conversations AS c ON c.id = m.conversation_id "
        "WHERE m.user_id <> c.user_id"
    )
    assert mismatched == []
    assert out_of_order == [(0,)]
    assert owner_mismatch == [(0,)]


def test_messages_have_varied_roles_lengths_and_channels(db):
    seed()

    roles = {role for (role,) in rows("SELECT DISTINCT role FROM conversation_messages")}
    channels = {channel for (channel,) in rows("SELECT DISTINCT channel FROM conversations")}
    ((shortest, longest, fenced, multiline, ratio),) = rows(
        """
        SELECT min(length(content)), max(length(content)),
               count(*) FILTER (WHERE content LIKE '%```%'),
               count(*) FILTER (WHERE content LIKE E'%\\n%'),
               sum(token_count)::float / sum(array_length(regexp_split_to_array(trim(content), '\\s+'), 1))
        FROM conversation_messages
        """
    )
    assert roles <= set(Message.Role.values) and {"user", "assistant"} <= roles and len(roles) > 2
    assert channels <= set(Conversation.Channel.values) and len(channels) > 1
    assert shortest < 20 < 1000 < longest
    assert fenced > 0 and multiline > 0
    assert 1.2 < ratio < 1.4


def test_same_seed_gives_identical_data_and_another_seed_differs(db):
    seed(seed=7)
    first = fingerprint()
    empty_tables()
    seed(seed=7)
    again = fingerprint()
    empty_tables()
    seed(seed=8)
    other = fingerprint()

    assert first == again
    assert other != first


def test_embeddings_are_3072_dimensional_and_cluster_by_topic(db):
    seed()

    dimensions = rows("SELECT DISTINCT vector_dims(embedding) FROM knowledge_base_chunks WHERE embedding IS NOT NULL")
    ((same_topic, other_topic, topics),) = rows(
        """
        WITH chunk AS (
            SELECT k.id, k.embedding, (regexp_match(d.source_uri, '([^/]+)/[^/]+$'))[1] AS topic
            FROM knowledge_base_chunks AS k
            JOIN knowledge_base_documents AS d ON d.id = k.document_id
            WHERE k.embedding IS NOT NULL
        )
        SELECT avg(1 - (a.embedding <=> b.embedding)) FILTER (WHERE a.topic = b.topic),
               avg(1 - (a.embedding <=> b.embedding)) FILTER (WHERE a.topic <> b.topic),
               count(DISTINCT a.topic)
        FROM chunk AS a
        JOIN chunk AS b ON a.id < b.id
        """
    )
    unembedded_ready = rows(
        "SELECT count(*) FROM knowledge_base_chunks AS k JOIN knowledge_base_documents AS d ON d.id = k.document_id "
        "WHERE k.embedding IS NULL AND d.status = 'ready'"
    )
    assert dimensions == [(3072,)]
    assert topics > 1
    assert same_topic > other_topic + 0.25
    assert unembedded_ready == [(0,)]


def test_chunks_are_numbered_per_document_and_the_vector_index_is_rebuilt_as_it_was(db):
    before = index_definition("kb_chunks_embedding_hnsw")
    seed()

    gaps = rows(
        """
        SELECT document_id
        FROM knowledge_base_chunks
        GROUP BY document_id
        HAVING min(chunk_index) <> 0 OR max(chunk_index) <> count(*) - 1
        """
    )
    assert gaps == []
    assert before is not None
    assert index_definition("kb_chunks_embedding_hnsw") == before


def test_if_empty_does_nothing_on_a_seeded_database(db):
    seed()
    before = fingerprint()

    output = seed(if_empty=True, seed=99)

    assert "already has rows" in output
    assert fingerprint() == before


def test_if_empty_loads_into_an_empty_database(db):
    seed(if_empty=True)

    assert Message.objects.count() == 500


def test_sequences_follow_the_loaded_ids(db):
    seed()
    conversation = Conversation.objects.order_by("-id").first()
    document = KnowledgeBaseDocument.objects.first()

    message = Message.objects.create(
        conversation=conversation, user_id=conversation.user_id, role="user", content="hi", created_at=timezone.now()
    )
    new_conversation = Conversation.objects.create(
        user_id=conversation.user_id, created_at=timezone.now(), updated_at=timezone.now()
    )
    chunk = KnowledgeBaseChunk.objects.create(document=document, chunk_index=10_000, content="x")

    assert message.id == 501
    assert new_conversation.id == conversation.id + 1 == 61
    assert chunk.id == 41


def test_a_second_load_appends_after_existing_rows(db):
    seed(seed=1)
    seed(seed=2)

    assert Message.objects.count() == 1000
    assert Conversation.objects.aggregate(n=Max("id"))["n"] == 120


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"users": -1}, "--users must be a whole number from 0 to 1,000,000,000"),
        ({"users": 10**20}, "--users must be a whole number from 0 to 1,000,000,000"),
        ({"messages": 10}, "--messages (10) must be at least --conversations (60)"),
        ({"users": 0}, "Conversations need users"),
        ({"chunks": 5, "documents": 0}, "Chunks need documents"),
        ({"scale": 0}, "--scale must be a number above zero"),
        ({"scale": float("inf")}, "at most 1,000, not inf"),  # it was an OverflowError's traceback
        ({"scale": 1e308}, "at most 1,000"),
        ({"scale": float("nan")}, "--scale must be a number above zero"),
        ({"database": "nowhere"}, "No database is configured under the alias 'nowhere'"),
    ],
)
def test_bad_options_are_refused_with_a_clear_sentence(db, options, message):
    with pytest.raises(CommandError) as raised:
        seed(**options)

    assert message in str(raised.value)
    assert not ChatUser.objects.exists()


def test_scale_multiplies_the_defaults_and_given_sizes_win():
    sizes = DemoSizes.from_options(scale=50, users=None, conversations=None, messages=None, documents=3, chunks=None)

    assert sizes == DemoSizes(users=100_000, conversations=1_000_000, messages=10_000_000, documents=3, chunks=250_000)


@pytest.mark.parametrize(("total", "parts", "minimum"), [(500, 60, 1), (60, 20, 0), (7, 7, 1), (0, 5, 0)])
def test_skewed_split_adds_up_exactly(total, parts, minimum):
    counts = skewed_split(total, parts, random.Random(3), minimum=minimum)

    assert len(counts) == parts
    assert sum(counts) == total
    assert min(counts) >= minimum


def test_skewed_split_has_heavy_parts():
    counts = sorted(skewed_split(200_000, 20_000, random.Random(3), minimum=1))

    median = counts[len(counts) // 2]
    assert median < 10 < 10 * median < counts[-1]


def test_loading_the_same_seed_twice_is_refused_with_a_clear_sentence(db):
    seed(seed=5)

    with pytest.raises(CommandError, match="already holds rows from this seed"):
        seed(seed=5)
    assert Message.objects.count() == 500


def test_progress_bars_go_to_stderr(db, capsys):
    out = StringIO()
    call_command("seed_demo", stdout=out, **SMALL)

    assert "messages" in capsys.readouterr().err
    assert "messages" in out.getvalue()


def test_loaded_tables_are_kept_from_analyze_until_commit(db):
    seed()

    locked = rows(
        """
        SELECT c.relname
        FROM pg_locks AS l
        JOIN pg_class AS c ON c.oid = l.relation
        WHERE l.pid = pg_backend_pid() AND l.mode = 'ShareUpdateExclusiveLock' AND l.granted
        ORDER BY c.relname
        """
    )
    assert [name for (name,) in locked] == [
        "conversation_messages",
        "conversation_preferences",
        "conversations",
        "knowledge_base_chunks",
        "knowledge_base_documents",
        "users",
    ]


def test_a_committed_load_is_vacuumed_and_analyzed(transactional_db):
    # Outside a transaction (as `make run` seeds): the tables come out as autovacuum would leave them, every page
    # all-visible (index-only scans skip the heap) and statistics written.
    seed()
    facts = dict(
        (name, (pages, visible, tuples))
        for name, pages, visible, tuples in rows(
            "SELECT relname, relpages, relallvisible, reltuples FROM pg_class "
            "WHERE relname IN ('conversations', 'conversation_messages', 'users') AND relkind = 'r'"
        )
    )
    assert set(facts) == {"conversations", "conversation_messages", "users"}
    for name, (pages, visible, tuples) in facts.items():
        assert pages > 0 and visible == pages, (name, pages, visible)
        assert tuples == {"conversations": 60, "conversation_messages": 500, "users": 20}[name]


def test_a_load_inside_a_transaction_is_analyzed_there(db):
    seed()
    ((tuples, visible),) = rows("SELECT reltuples, relallvisible FROM pg_class WHERE relname = 'conversation_messages'")
    assert tuples == 500 and visible == 0  # VACUUM cannot run in the caller's transaction; ANALYZE did
