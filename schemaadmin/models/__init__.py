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
    LoginThrottle,
    MigrationApply,
    RecallCheck,
)
from schemaadmin.models.query_stats import (
    QuerySnapshot,
    QueryStatBaseline,
    QueryStatDelta,
    QueryStatKey,
    QueryStatRollup,
    QueryText,
)

# The chat product's own tables: what the EXPLAIN console's role may read, and nothing of SchemaAdmin's.
PRODUCT_MODELS = (ChatUser, Conversation, Message, ConversationPreference, KnowledgeBaseDocument, KnowledgeBaseChunk)

__all__ = [
    "ACTIVE_STATES",
    "PRODUCT_MODELS",
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
    "LoginThrottle",
    "Message",
    "MigrationApply",
    "QuerySnapshot",
    "QueryStatBaseline",
    "QueryStatDelta",
    "QueryStatKey",
    "QueryStatRollup",
    "QueryText",
    "RecallCheck",
]
