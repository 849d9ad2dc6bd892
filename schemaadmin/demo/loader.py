"""Load the demo data set with COPY, streaming conversation by conversation so millions of rows fit in memory."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
from pgvector.django import HnswIndex
from psycopg import errors

from schemaadmin.demo.embeddings import EmbeddingSpace
from schemaadmin.demo.knowledge import CHUNK_COLUMNS, DOCUMENT_COLUMNS, Document, documents
from schemaadmin.demo.people import PREFERENCE_COLUMNS, USER_COLUMNS, demo_users, preference_rows
from schemaadmin.demo.progress import Progress
from schemaadmin.demo.sizes import DemoSizes
from schemaadmin.demo.threads import CONVERSATION_COLUMNS, MESSAGE_COLUMNS, Thread, plan_threads, threads
from schemaadmin.models import EMBEDDING_DIMENSIONS, KnowledgeBaseChunk
from schemaadmin.pg.bulk import (
    analyze_tables,
    check_constraints_per_statement,
    copy_rows,
    create_index,
    drop_index,
    has_rows,
    index_definition,
    lock_out_maintenance,
    max_id,
    raise_maintenance_work_mem,
    reset_identity,
    vacuum_analyze_tables,
)

__all__ = ["DemoConflict", "LoadSummary", "load_demo"]

USERS = "users"
PREFERENCES = "conversation_preferences"
CONVERSATIONS = "conversations"
MESSAGES = "conversation_messages"
DOCUMENTS = "knowledge_base_documents"
CHUNKS = "knowledge_base_chunks"
TABLES = (USERS, PREFERENCES, CONVERSATIONS, MESSAGES, DOCUMENTS, CHUNKS)

# Rows per COPY statement for the big tables: enough to stream efficiently, few enough to hold in memory.
MESSAGE_BATCH = 20_000
CHUNK_BATCH = 1_000
# The chunks' HNSW indexes: building one over 5,000 loaded rows took 3.4 s here, inserting them one by one
# into the index 16 s. The build keeps its graph in maintenance_work_mem: about 7.5 kB a 3072-d chunk.
VECTOR_INDEXES = tuple(index.name for index in KnowledgeBaseChunk._meta.indexes if isinstance(index, HnswIndex))
HNSW_BYTES_PER_CHUNK = 9 * 1024
HNSW_MEMORY_CAP = 2 * 1024**3


class DemoConflict(Exception):
    """The generated rows clash with rows already in the database."""


@dataclass(frozen=True, slots=True)
class LoadSummary:
    sizes: DemoSizes
    seed: int
    preferences: int
    seconds: float


def load_demo(sizes: DemoSizes, *, seed: int, using: str = "default", progress: bool = True) -> LoadSummary:
    """Generate the demo data set for seed and sizes and load it, in one transaction, into database using.

    Then VACUUM (ANALYZE) the tables, unless the caller's transaction is still open (then ANALYZE, inside it): a
    fresh COPY leaves no visibility map (every index-only scan visits the heap), hint bits for the first readers to
    write, and the GIN pending list for every search to scan. Not what a served database looks like.
    """
    started = time.perf_counter()
    in_transaction = connections[using].in_atomic_block
    try:
        preferences = _load(sizes, seed, using, progress, analyze=in_transaction)
    except errors.UniqueViolation as error:
        raise DemoConflict(
            f"The database already holds rows from this seed, or rows that clash with it "
            f"({error.diag.message_detail}). Nothing was loaded: empty the tables or choose another --seed."
        ) from error
    if not in_transaction:
        vacuum_analyze_tables(TABLES, using=using)
    return LoadSummary(sizes=sizes, seed=seed, preferences=preferences, seconds=time.perf_counter() - started)


def _load(sizes: DemoSizes, seed: int, using: str, progress: bool, *, analyze: bool) -> int:
    """Load everything in one transaction and return how many preference rows were written."""
    root = random.Random(seed)
    # One stream per part, so that changing one size leaves the other parts' data as it was.
    people_rng, plan_rng, thread_rng, document_rng, space_rng = (random.Random(root.getrandbits(64)) for _ in range(5))
    totals = {
        "users": sizes.users,
        "conversations": sizes.conversations,
        "messages": sizes.messages,
        "documents": sizes.documents,
        "chunks": sizes.chunks,
    }
    with transaction.atomic(using=using), Progress(totals, enabled=progress) as bars:
        # Without the lock, an autovacuum ANALYZE after a TRUNCATE, landing mid-load, made a 1M-message load
        # take over 15 minutes instead of 100 s: see lock_out_maintenance().
        lock_out_maintenance(TABLES, using=using)
        check_constraints_per_statement(using=using)
        users = demo_users(sizes.users, people_rng)
        copy_rows(USERS, USER_COLUMNS, bars.counted("users", (user.row() for user in users)), using=using)
        preferences = copy_rows(PREFERENCES, PREFERENCE_COLUMNS, preference_rows(users, people_rng), using=using)
        plan = plan_threads(users, sizes.conversations, sizes.messages, plan_rng)
        _load_threads(threads(plan, thread_rng, first_id=max_id(CONVERSATIONS, using=using) + 1), bars, using)
        space = EmbeddingSpace(space_rng, dimensions=EMBEDDING_DIMENSIONS)
        with _vector_indexes_built_after(sizes.chunks, bars, using):
            _load_knowledge(documents(sizes.documents, sizes.chunks, document_rng), space, bars, using)
        for table in (CONVERSATIONS, MESSAGES, CHUNKS):
            reset_identity(table, using=using)
        if analyze:
            bars.note("Analyzing the loaded tables.")
            analyze_tables(TABLES, using=using)
        else:
            bars.note("Vacuuming and analyzing the loaded tables once they are committed.")
    return preferences


def _batches[T](items: Iterable[T], rows_of: Callable[[T], int], rows_per_batch: int) -> Iterator[list[T]]:
    """Yield the items in lists that each stop once their rows (rows_of each item) reach rows_per_batch."""
    batch: list[T] = []
    pending = 0
    for item in items:
        batch.append(item)
        pending += rows_of(item)
        if pending >= rows_per_batch:
            yield batch
            batch, pending = [], 0
    if batch:
        yield batch


def _load_threads(conversations: Iterator[Thread], bars: Progress, using: str) -> None:
    next_message = max_id(MESSAGES, using=using) + 1
    for batch in _batches(conversations, lambda thread: len(thread.roles), MESSAGE_BATCH):
        next_message = _copy_threads(batch, next_message, bars, using)


def _copy_threads(batch: list[Thread], first_message: int, bars: Progress, using: str) -> int:
    """COPY a batch of conversations, then their messages, written as they stream; return the next message id."""
    copy_rows(CONVERSATIONS, CONVERSATION_COLUMNS, bars.counted("conversations", (t.row() for t in batch)), using=using)

    def rows() -> Iterator[tuple[Any, ...]]:
        next_id = first_message
        for thread in batch:
            yield from thread.message_rows(next_id)
            next_id += len(thread.roles)

    return first_message + copy_rows(MESSAGES, MESSAGE_COLUMNS, bars.counted("messages", rows()), using=using)


def _load_knowledge(docs: Iterator[Document], space: EmbeddingSpace, bars: Progress, using: str) -> None:
    next_chunk = max_id(CHUNKS, using=using) + 1
    for batch in _batches(docs, lambda document: len(document.chunks), CHUNK_BATCH):
        next_chunk = _copy_documents(batch, next_chunk, space, bars, using)


def _copy_documents(batch: list[Document], first_chunk: int, space: EmbeddingSpace, bars: Progress, using: str) -> int:
    """COPY a batch of documents, then their chunks with embeddings drawn as they stream; return the next id."""
    copy_rows(DOCUMENTS, DOCUMENT_COLUMNS, bars.counted("documents", (d.row() for d in batch)), using=using)

    def rows() -> Iterator[tuple[Any, ...]]:
        next_id = first_chunk
        for document in batch:
            yield from document.chunk_rows(next_id, space)
            next_id += len(document.chunks)

    return first_chunk + copy_rows(CHUNKS, CHUNK_COLUMNS, bars.counted("chunks", rows(), every=100), using=using)


@contextmanager
def _vector_indexes_built_after(chunks: int, bars: Progress, using: str) -> Iterator[None]:
    """Drop the chunks' vector indexes for the load and build them again after, if the table starts empty.

    Each index is rebuilt from its own pg_get_indexdef(), so it comes back exactly as it was defined. Into a
    table that already holds chunks the rows are inserted into the index instead: rebuilding could cost more.
    """
    definitions = []
    if chunks and not has_rows(CHUNKS, using=using):
        for name in VECTOR_INDEXES:
            definition = index_definition(name, using=using)
            if definition is not None:
                drop_index(name, using=using)
                definitions.append((name, definition))
    yield
    if definitions:
        raise_maintenance_work_mem(min(HNSW_MEMORY_CAP, chunks * HNSW_BYTES_PER_CHUNK), using=using)
        for name, definition in definitions:
            bars.note(f"Building the vector index {name} over {chunks:,} chunks.")
            create_index(definition, using=using)
