"""The knowledge base: documents and their embedded chunks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models import Value
from django.db.models.functions import Cast
from pgvector import HalfVector
from pgvector.django import CosineDistance, HalfVectorField, HnswIndex, VectorField

from schemaadmin.models.loading import ReadFastModel

__all__ = ["EMBEDDING_DIMENSIONS", "KnowledgeBaseChunk", "KnowledgeBaseDocument", "halfvec_embedding"]

# gemini-embedding-001. Above pgvector's 2,000-dimension limit for indexing `vector`, so the ANN index is an
# expression index over a halfvec cast (indexable up to 4,000 dimensions), and queries use the same cast.
EMBEDDING_DIMENSIONS = 3072


def halfvec_embedding() -> Cast:
    """Return the `embedding::halfvec(3072)` expression the HNSW index is built on."""
    return Cast("embedding", HalfVectorField(dimensions=EMBEDDING_DIMENSIONS))


class KnowledgeBaseDocument(ReadFastModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=300)
    source_uri = models.CharField(max_length=2000, blank=True)
    content_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the source content.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "knowledge_base_documents"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "ready", "failed"]),
                name="kb_documents_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ChunkQuerySet(models.QuerySet["KnowledgeBaseChunk"]):
    def nearest(self, embedding: Sequence[float], *, k: int = 10) -> ChunkQuerySet:
        """Return the k chunks closest to embedding by cosine distance, through the halfvec HNSW index."""
        if len(embedding) != EMBEDDING_DIMENSIONS:
            raise ValueError(f"Expected a {EMBEDDING_DIMENSIONS}-dimensional embedding, got {len(embedding)}.")
        query = Cast(Value(HalfVector(list(embedding)).to_text()), HalfVectorField(dimensions=EMBEDDING_DIMENSIONS))
        return (
            self.filter(embedding__isnull=False)
            .annotate(distance=CosineDistance(halfvec_embedding(), query))
            .order_by("distance")[:k]
        )


class KnowledgeBaseChunk(ReadFastModel):
    id = models.BigAutoField(primary_key=True)
    # The unique (document_id, chunk_index) index below serves the foreign key.
    document = models.ForeignKey(
        KnowledgeBaseDocument, on_delete=models.DB_CASCADE, related_name="chunks", db_index=False
    )
    chunk_index = models.PositiveIntegerField()
    content = models.TextField()
    token_count = models.PositiveIntegerField(default=0)
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ChunkQuerySet.as_manager()

    class Meta:
        db_table = "knowledge_base_chunks"
        constraints = [
            models.UniqueConstraint(fields=["document", "chunk_index"], name="kb_chunks_document_index_unique"),
        ]
        indexes = [
            HnswIndex(
                OpClass(halfvec_embedding(), name="halfvec_cosine_ops"),
                name="kb_chunks_embedding_hnsw",
                m=16,
                ef_construction=64,
            ),
        ]

    def __str__(self) -> str:
        return f"Chunk {self.chunk_index} of {self.document_id}"
