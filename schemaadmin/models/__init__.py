from schemaadmin.models.chat import ChatUser, Conversation, ConversationPreference, Message
from schemaadmin.models.knowledge import EMBEDDING_DIMENSIONS, KnowledgeBaseChunk, KnowledgeBaseDocument
from schemaadmin.models.operations import AccessRule, AuditEvent, ExplainRun, IndexRebuild

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "AccessRule",
    "AuditEvent",
    "ChatUser",
    "Conversation",
    "ConversationPreference",
    "ExplainRun",
    "IndexRebuild",
    "KnowledgeBaseChunk",
    "KnowledgeBaseDocument",
    "Message",
]
