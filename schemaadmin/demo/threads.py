"""Conversations and their messages: who talks when, in which roles, about what."""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from schemaadmin.demo.allocation import skewed_split
from schemaadmin.demo.clock import DAY, END, HOUR, MINUTE, SECOND, WINDOW_START, at, busy_moment
from schemaadmin.demo.people import DemoUser
from schemaadmin.demo.text import TOPIC_WEIGHTS, TOPICS, Writer, token_count
from schemaadmin.models import Conversation, Message

__all__ = ["CONVERSATION_COLUMNS", "MESSAGE_COLUMNS", "Thread", "ThreadPlan", "plan_threads", "threads"]

CONVERSATION_COLUMNS = ("id", "user_id", "title", "channel", "created_at", "updated_at", "last_message_at")
MESSAGE_COLUMNS = ("id", "conversation_id", "user_id", "role", "content", "token_count", "created_at")

USER = Message.Role.USER.value
ASSISTANT = Message.Role.ASSISTANT.value
SYSTEM = Message.Role.SYSTEM.value
TOOL = Message.Role.TOOL.value
Channel = Conversation.Channel
PHONE_CHANNELS = ((Channel.WHATSAPP.value, Channel.SMS.value, Channel.WEB.value), (6, 3, 1))
ACCOUNT_CHANNELS = ((Channel.WEB.value, Channel.API.value), (8, 2))
FAVOURITE_SHARE = 0.4  # conversations on the user's usual topic; the rest follow the overall topic mix


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    """Who owns each conversation, when it starts and how many messages it has, in order of start."""

    users: list[DemoUser]
    owners: array  # index into users
    starts: array  # microseconds since the epoch, ascending
    lengths: array  # messages in the conversation, at least one

    def __len__(self) -> int:
        return len(self.owners)


def plan_threads(users: list[DemoUser], conversations: int, messages: int, rng: random.Random) -> ThreadPlan:
    """Return the plan: conversations spread over users with heavy users, messages over conversations."""
    per_user = skewed_split(conversations, len(users), rng, sigma=1.3)
    owners, starts = array("q"), array("q")
    for index, count in enumerate(per_user):
        low = max(WINDOW_START, users[index].created_at + MINUTE)
        for _ in range(count):
            owners.append(index)
            starts.append(busy_moment(rng, low, END - HOUR))
    # Number conversations in the order they started, as a database filling up over time would.
    order = sorted(range(conversations), key=starts.__getitem__)
    lengths = skewed_split(messages, conversations, rng, minimum=1, sigma=1.1)
    return ThreadPlan(
        users=users,
        owners=array("q", (owners[i] for i in order)),
        starts=array("q", (starts[i] for i in order)),
        lengths=lengths,
    )


def _roles(count: int, rng: random.Random, *, tools: bool) -> list[str]:
    roles: list[str] = [SYSTEM] if count >= 3 and rng.random() < 0.08 else []
    previous = roles[-1] if roles else SYSTEM
    while len(roles) < count:
        if previous != USER:
            role = USER if previous != TOOL else ASSISTANT
        else:
            roll = rng.random()
            role = TOOL if tools and roll < 0.12 else USER if roll > 0.95 else ASSISTANT
        roles.append(role)
        previous = role
    return roles


def _gap(previous: str, role: str, rng: random.Random) -> int:
    if role == ASSISTANT:
        return SECOND + int(rng.lognormvariate(15.2, 0.7))  # a few seconds to write a reply
    if role == TOOL:
        return rng.randint(SECOND // 5, 2 * SECOND)
    if previous == SYSTEM:
        return rng.randint(1000, SECOND // 2)  # the system prompt is stored just before the first message
    if rng.random() < 0.04:
        return rng.randint(12 * HOUR, 3 * DAY)  # the user comes back to the conversation later
    return 3 * SECOND + int(rng.lognormvariate(17.9, 1.0))  # about a minute to read and answer


def _times(roles: list[str], start: int, rng: random.Random) -> list[int]:
    times = [start]
    for previous, role in zip(roles, roles[1:], strict=False):
        times.append(times[-1] + _gap(previous, role, rng))
    if times[-1] > END:
        # Squeeze a thread that would run past the end of the demo into the time left, keeping its order.
        span, taken = int((END - start) * rng.uniform(0.5, 1.0)), times[-1] - start
        times = [start + (t - start) * span // taken for t in times]
        for i in range(1, len(times)):
            times[i] = max(times[i], times[i - 1] + 1)
    return times


@dataclass(frozen=True, slots=True)
class Thread:
    """One conversation with its timeline decided; its messages are written when they are asked for."""

    id: int
    user: DemoUser
    title: str
    channel: str
    roles: list[str]
    times: list[int]
    writer: Writer

    def row(self) -> tuple[Any, ...]:
        """Return the conversation's row in CONVERSATION_COLUMNS order."""
        first, last = at(self.times[0]), at(self.times[-1])
        return (self.id, self.user.id, self.title, self.channel, first, last, last)

    def message_rows(self, first_id: int) -> Iterator[tuple[Any, ...]]:
        """Yield the conversation's messages (MESSAGE_COLUMNS), numbered from first_id."""
        writer, opened = self.writer, False
        for offset, (role, moment) in enumerate(zip(self.roles, self.times, strict=True)):
            if role == USER:
                content, opened = writer.user(first=not opened), True
            elif role == ASSISTANT:
                content = writer.assistant()
            elif role == TOOL:
                content = writer.tool()
            else:
                content = writer.system()
            yield (first_id + offset, self.id, self.user.id, role, content, token_count(content), at(moment))


def threads(plan: ThreadPlan, rng: random.Random, *, first_id: int) -> Iterator[Thread]:
    """Yield the plan's conversations in order, numbered from first_id, each from its own random stream."""
    for index in range(len(plan)):
        own = random.Random(rng.getrandbits(64))
        user = plan.users[plan.owners[index]]
        if own.random() < FAVOURITE_SHARE:
            topic = TOPICS[user.id.int % len(TOPICS)]
        else:
            topic = own.choices(TOPICS, weights=TOPIC_WEIGHTS)[0]
        writer = Writer(topic, own)
        channels, weights = PHONE_CHANNELS if user.by_phone else ACCOUNT_CHANNELS
        roles = _roles(plan.lengths[index], own, tools=bool(topic.tool_name))
        yield Thread(
            id=first_id + index,
            user=user,
            title=writer.title(),
            channel=own.choices(channels, weights=weights)[0],
            roles=roles,
            times=_times(roles, plan.starts[index], own),
            writer=writer,
        )
