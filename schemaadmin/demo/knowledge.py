"""Knowledge-base documents and their chunks, embedded near their topic's centroid."""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from schemaadmin.demo.allocation import skewed_split
from schemaadmin.demo.clock import DAY, END, SECOND, WINDOW_START, at, busy_moment
from schemaadmin.demo.embeddings import EmbeddingSpace
from schemaadmin.demo.text import TOPIC_WEIGHTS, TOPICS, Writer, token_count
from schemaadmin.models import KnowledgeBaseDocument

__all__ = ["CHUNK_COLUMNS", "DOCUMENT_COLUMNS", "Document", "documents"]

DOCUMENT_COLUMNS = ("id", "title", "source_uri", "content_hash", "status", "created_at")
CHUNK_COLUMNS = ("id", "document_id", "chunk_index", "content", "token_count", "embedding", "created_at")

Status = KnowledgeBaseDocument.Status
# Not-ready documents have chunks that are not embedded yet: about 2% of chunks have no embedding.
STATUSES = ((Status.READY.value, Status.PENDING.value, Status.FAILED.value), (985, 10, 5))
SOURCES = (
    "https://help.{domain}/{topic}/{slug}",
    "https://wiki.internal.example/support/{topic}/{slug}",
    "s3://kb-exports/{topic}/{slug}.pdf",
)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


@dataclass(frozen=True, slots=True)
class Document:
    """One document with its chunks' texts written; their embeddings are drawn when rows are asked for."""

    id: uuid.UUID
    topic: int
    title: str
    source_uri: str
    status: str
    created_at: int
    chunks: list[str]
    rng: random.Random

    def row(self) -> tuple[Any, ...]:
        """Return the document's row in DOCUMENT_COLUMNS order."""
        source = "\n\n".join([str(self.id), self.title, *self.chunks]).encode()
        content_hash = hashlib.sha256(source).hexdigest()
        return (self.id, self.title, self.source_uri, content_hash, self.status, at(self.created_at))

    def chunk_rows(self, first_id: int, space: EmbeddingSpace) -> Iterator[tuple[Any, ...]]:
        """Yield the document's chunks (CHUNK_COLUMNS), numbered from first_id."""
        rng = self.rng
        embedded = self.status == Status.READY
        signature = space.signature(rng)
        moment = self.created_at
        for index, content in enumerate(self.chunks):
            moment += rng.randint(SECOND // 20, SECOND // 2)
            vector = space.vector_text(self.topic, signature, rng) if embedded else None
            yield (first_id + index, self.id, index, content, token_count(content), vector, at(moment))


def documents(count: int, chunks: int, rng: random.Random) -> Iterator[Document]:
    """Yield count documents holding chunks chunks between them, each from its own random stream."""
    per_document = skewed_split(chunks, count, rng, minimum=1 if chunks >= count else 0, sigma=0.8)
    for size in per_document:
        own = random.Random(rng.getrandbits(64))
        topic = own.choices(range(len(TOPICS)), weights=TOPIC_WEIGHTS)[0]
        writer = Writer(TOPICS[topic], own)
        title = writer.document_title()
        template = own.choice(SOURCES)
        slug = f"{_slug(title)}-{own.getrandbits(16):04x}"
        domain = _slug(TOPICS[topic].brand).replace("-", "") + ".example"
        yield Document(
            id=uuid.UUID(int=own.getrandbits(128), version=4),
            topic=topic,
            title=title,
            source_uri=template.format(domain=domain, topic=TOPICS[topic].key, slug=slug),
            status=own.choices(*STATUSES)[0],
            created_at=busy_moment(own, WINDOW_START - 90 * DAY, END - DAY),
            chunks=[writer.passage(heading=title if i == 0 else None) for i in range(size)],
            rng=own,
        )
