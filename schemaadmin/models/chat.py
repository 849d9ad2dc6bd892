"""The chat product's tables: its users, their conversations, messages and preferences."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models.functions import Coalesce, Length, Upper
from django.db.models.lookups import LessThanOrEqual

from schemaadmin.models.loading import ReadFastModel

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "SEARCH_CONFIG",
    "ChatUser",
    "Conversation",
    "ConversationPreference",
    "Message",
    "last_activity",
    "message_search_vector",
    "name_words",
]

# Messages longer than this are refused by the database: a bound on what one row may cost to read and index.
MAX_MESSAGE_LENGTH = 100_000
# 'simple' keeps words as written: the chat is multilingual, so no one language's stemmer is right for all.
SEARCH_CONFIG = "simple"


def message_search_vector() -> SearchVector:
    """Return the tsvector expression stored in Message.search_vector."""
    return SearchVector("content", config=SEARCH_CONFIG)


def last_activity() -> Coalesce:
    """Return a conversation's last activity: its last message, or its creation when it has none."""
    return Coalesce("last_message_at", "created_at")


# What support types for a user's id is rarely its exact form: "+44 7700 900111" as "+447700900111", "acct-9T8EDZ"
# as "ACCT-9t8edz". Matched in one spelling: upper case, without spaces, dots, dashes or parentheses.
# Unicode's spaces and dashes too: numbers copied from a web page or a spreadsheet hold no-break (U+00A0, U+202F)
# and thin spaces, and hyphens or dashes (U+2010-U+2015).
_LOOSE_ID_DROPS = "[\\s\u00a0\u2007\u2009\u202f().\u2010-\u2015-]+"


def loose_external_id(expression: Any) -> models.Func:
    """Return the SQL spelling an external id is matched in (users_external_id_loose indexes it on the column)."""
    return Upper(
        models.Func(
            expression,
            models.Value(_LOOSE_ID_DROPS),
            models.Value(""),
            models.Value("g"),
            function="regexp_replace",
            output_field=models.CharField(),
        )
    )


def name_words() -> SearchVector:
    """Return the words of a user's name as users_name_words indexes them: a search finds a name by any word's start."""
    return SearchVector("display_name", config=SEARCH_CONFIG)


class ChatUser(ReadFastModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    external_id = models.CharField(max_length=128, unique=True, help_text="Phone number or account id.")
    display_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "users"
        verbose_name = "chat user"
        indexes = [
            # Finding a user by email (any case), by the start of their name or of any word of it (a surname),
            # and listing newest first.
            models.Index(Upper("email"), name="users_email_upper"),
            models.Index(loose_external_id(models.F("external_id")), name="users_external_id_loose"),
            models.Index(OpClass(Upper("display_name"), name="text_pattern_ops"), name="users_name_upper_prefix"),
            GinIndex(name_words(), name="users_name_words"),
            models.Index(models.F("created_at").desc(), models.F("id").desc(), name="users_created_id"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.external_id


class Conversation(ReadFastModel):
    class Channel(models.TextChoices):
        WEB = "web", "Web"
        WHATSAPP = "whatsapp", "WhatsApp"
        SMS = "sms", "SMS"
        API = "api", "API"

    id = models.BigAutoField(primary_key=True)
    # Indexed through (user_id, last_message_at DESC) below, which also serves the foreign key.
    user = models.ForeignKey(ChatUser, on_delete=models.DB_CASCADE, related_name="conversations", db_index=False)
    title = models.CharField(max_length=300, blank=True)
    channel = models.CharField(max_length=32, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_message_at = models.DateTimeField(null=True, blank=True)
    # Kept by a trigger on conversation_messages (migration 0003), so lists sort and filter on them without
    # counting messages: the chat product writes messages without knowing these columns exist.
    message_count = models.IntegerField(default=0, db_default=0)
    total_tokens = models.BigIntegerField(default=0, db_default=0)

    class Meta:
        db_table = "conversations"
        indexes = [
            models.Index("user", models.F("last_message_at").desc(), name="conversations_user_last_msg"),
            # One index per sort order of the conversation list: keyset pages walk them, newest or largest first.
            models.Index(last_activity().desc(), models.F("id").desc(), name="conversations_activity_id"),
            models.Index(models.F("created_at").desc(), models.F("id").desc(), name="conversations_created_id"),
            models.Index(models.F("message_count").desc(), models.F("id").desc(), name="conversations_msgs_id"),
            models.Index(models.F("total_tokens").desc(), models.F("id").desc(), name="conversations_tokens_id"),
        ]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


# The roles whose messages are few: user and assistant write nearly all of them.
RARE_ROLE_NAMES = ("system", "tool")
RARE_ROLES = models.Q(role__in=list(RARE_ROLE_NAMES))


class Message(ReadFastModel):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        SYSTEM = "system", "System"
        TOOL = "tool", "Tool"

    id = models.BigAutoField(primary_key=True)
    conversation = models.ForeignKey(Conversation, on_delete=models.DB_CASCADE, related_name="messages", db_index=False)
    # Denormalised owner of the message, as in the product's schema; deliberately not indexed there either.
    user = models.ForeignKey(ChatUser, on_delete=models.DB_CASCADE, related_name="+", db_index=False)
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField()
    token_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    # Stored, so a search that walks messages newest-first tests each row without re-running to_tsvector.
    search_vector = models.GeneratedField(
        expression=message_search_vector(), output_field=SearchVectorField(), db_persist=True
    )

    class Meta:
        db_table = "conversation_messages"
        indexes = [
            models.Index(fields=["conversation", "created_at", "id"], name="messages_conv_created_id"),
            # Every search scans the pending list of words not yet merged into the index: 256 kB, not 4 MB
            # (migration 0021 says what it measured).
            GinIndex(fields=["search_vector"], name="messages_content_fts", gin_pending_list_limit=256),
            # Newest-first walks: a search for a common word stops after a page of hits.
            models.Index(models.F("created_at").desc(), models.F("id").desc(), name="messages_created_id"),
            # The rare roles' messages (system prompts, tool output: 4% of the demo's), for "Has a message from" and
            # "Message from": whether a conversation has one is an index-only lookup, and a search from one walks
            # them alone. At 10M messages a search for "your" from system read the whole table (8.5 s), now 0.2 s.
            models.Index(fields=["conversation", "role"], condition=RARE_ROLES, name="messages_rare_role_conv"),
            models.Index(
                models.F("role"),
                models.F("created_at").desc(),
                models.F("id").desc(),
                condition=RARE_ROLES,
                name="messages_rare_role_created",
            ),
            # A search of one rare role's messages reads its own GIN index: a word common among all messages may be
            # in none of a role's ("before" from tool), and the full index's list of the word, intersected with the
            # role's, was 0.3-1.5 s at 10M messages; one index per role, so the planner's guess of the hits equals
            # that of the full index and this index, far smaller, costs less.
            *(
                GinIndex(
                    fields=["search_vector"],
                    condition=models.Q(role=role),
                    name=f"messages_{role}_fts",
                    gin_pending_list_limit=256,
                )
                for role in RARE_ROLE_NAMES
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["user", "assistant", "system", "tool"]),
                name="messages_role_valid",
                violation_error_message="Role must be user, assistant, system or tool.",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("content"), MAX_MESSAGE_LENGTH),
                name="messages_content_length",
                violation_error_message=f"Content is limited to {MAX_MESSAGE_LENGTH:,} characters.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} message {self.pk}"


class ConversationPreference(ReadFastModel):
    user = models.OneToOneField(ChatUser, on_delete=models.DB_CASCADE, primary_key=True, related_name="preferences")
    language = models.CharField(max_length=16, blank=True)
    tone = models.CharField(max_length=32, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "conversation_preferences"

    def __str__(self) -> str:
        return f"Preferences of {self.user_id}"
