"""Rows of the chat tables become the same instances through ReadFastModel.from_db as through Django's own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import models
from django.db.models.signals import post_init

from schemaadmin.models import ChatUser, Conversation, ConversationPreference, Message

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def message() -> Message:
    user = ChatUser.objects.create(external_id="acct-loading", display_name="Ada Load", email="ada@example.org")
    ConversationPreference.objects.create(user=user, language="fr", settings={"nested": [1, {"two": None}]})
    conversation = Conversation.objects.create(user=user, title="Loading", created_at=T0, updated_at=T0)
    return Message.objects.create(
        conversation=conversation, user=user, role="user", content="héllo <b>", token_count=3, created_at=T0
    )


def _djangos(model: type[models.Model], queryset: models.QuerySet) -> list[models.Model]:
    """The same rows made by Django's own Model.from_db."""
    original = models.Model.from_db.__func__  # type: ignore[attr-defined]
    model.from_db = classmethod(original)  # type: ignore[method-assign]
    try:
        return list(queryset.all())
    finally:
        del model.from_db


def _state(instance: models.Model) -> dict:
    attributes = {name: value for name, value in vars(instance).items() if name != "_state"}
    return {"attributes": attributes, "adding": instance._state.adding, "db": instance._state.db}


@pytest.mark.parametrize(
    "queryset",
    [
        lambda: Message.objects.all(),
        lambda: Message.objects.only("id", "created_at", "conversation_id"),
        lambda: Message.objects.defer("content"),
        lambda: Conversation.objects.select_related("user"),
        lambda: ChatUser.objects.all(),
        lambda: ConversationPreference.objects.all(),
    ],
    ids=["full rows", "only some fields", "one field deferred", "with a related row", "users", "json settings"],
)
def test_a_row_makes_the_instance_djangos_from_db_makes(message, queryset):
    fast = list(queryset())
    model = fast[0].__class__
    slow = _djangos(model, queryset())
    assert [_state(i) for i in fast] == [_state(i) for i in slow]
    assert [i.get_deferred_fields() for i in fast] == [i.get_deferred_fields() for i in slow]


def test_instances_read_fast_behave_as_models(message):
    found = Message.objects.select_related("conversation__user").only(
        "role", "conversation__title", "conversation__user__display_name"
    )[0]
    assert found.pk == message.pk and not found._state.adding and found._state.db == "default"
    assert found.conversation.title == "Loading" and found.conversation.user.display_name == "Ada Load"
    assert found.content == "héllo <b>"  # a deferred field is read when asked
    found.content = "changed"
    found.save(update_fields=["content"])
    assert Message.objects.get(pk=message.pk).content == "changed"
    assert found == message and hash(found) == hash(message)


def test_a_listening_init_signal_gets_djangos_instances(message):
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_init.connect(receiver, sender=Message)
    try:
        loaded = list(Message.objects.all())
    finally:
        post_init.disconnect(receiver, sender=Message)
    assert seen == [message.pk] and [m.pk for m in loaded] == [message.pk]
