from schemaadmin.models.chat import ChatUser, Conversation, ConversationPreference, Message
from schemaadmin.models.knowledge import EMBEDDING_DIMENSIONS, KnowledgeBaseChunk, KnowledgeBaseDocument
from schemaadmin.models.operations import (
    ACTIVE_STATES,
    AccessRule,
    AuditEvent,
    DriftCheck,
    ExplainRun,
    IndexRebuild,
    JobState,
    MigrationApply,
    RecallCheck,
)

__all__ = [
    "ACTIVE_STATES",
    "EMBEDDING_DIMENSIONS",
    "AccessRule",
    "AuditEvent",
    "ChatUser",
    "Conversation",
    "ConversationPreference",
    "DriftCheck",
    "ExplainRun",
    "IndexRebuild",
    "JobState",
    "KnowledgeBaseChunk",
    "KnowledgeBaseDocument",
    "Message",
    "MigrationApply",
    "RecallCheck",
]
