"""The chat product's users and their conversation preferences."""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from schemaadmin.demo.clock import DAY, END, at, busy_moment
from schemaadmin.demo.vocabulary import EMAIL_DOMAINS, FIRST_NAMES, LANGUAGES, LAST_NAMES, TIMEZONES, TONES

__all__ = ["PREFERENCE_COLUMNS", "USER_COLUMNS", "DemoUser", "demo_users", "preference_rows"]

USER_COLUMNS = ("id", "external_id", "display_name", "email", "created_at")
PREFERENCE_COLUMNS = ("user_id", "language", "tone", "settings", "updated_at")

ACCOUNT_ALPHABET = string.ascii_uppercase + string.digits
# (country prefix, digit groups): mobile-number shapes of a few countries.
PHONE_SHAPES = (("+44 7", (3, 6)), ("+1 555 ", (3, 4)), ("+49 15", (1, 7)), ("+91 9", (4, 5)), ("+234 80", (1, 3, 4)))
PREFERENCE_SHARE = 0.85  # users who never opened the settings have no preferences row


@dataclass(frozen=True, slots=True)
class DemoUser:
    id: uuid.UUID
    external_id: str
    display_name: str
    email: str
    created_at: int  # microseconds since the epoch
    by_phone: bool  # reached through a phone number (WhatsApp, SMS) rather than an account

    def row(self) -> tuple[Any, ...]:
        """Return the user's row in USER_COLUMNS order."""
        return (self.id, self.external_id, self.display_name, self.email, at(self.created_at))


def _phone_number(rng: random.Random) -> str:
    prefix, groups = rng.choice(PHONE_SHAPES)
    return prefix + " ".join("".join(rng.choices(string.digits, k=size)) for size in groups)


def _external_id(rng: random.Random, *, by_phone: bool, taken: set[str]) -> str:
    while True:
        if by_phone:
            candidate = _phone_number(rng)
        else:
            candidate = "acct-" + "".join(rng.choices(ACCOUNT_ALPHABET, k=6))
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def _email(rng: random.Random, first: str, last: str) -> str:
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}", f"{last}.{first}"))
    return f"{local.lower()}@{rng.choice(EMAIL_DOMAINS)}"


def demo_users(count: int, rng: random.Random) -> list[DemoUser]:
    """Return count users with unique external ids, signed up over the year before the demo's end."""
    taken: set[str] = set()
    users = []
    for _ in range(count):
        user_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        by_phone = rng.random() < 0.55
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        roll = rng.random()
        display_name = f"{first} {last}" if roll < 0.85 else first if roll < 0.93 else ""
        email = _email(rng, first, last) if rng.random() < 0.8 else ""
        users.append(
            DemoUser(
                id=user_id,
                external_id=_external_id(rng, by_phone=by_phone, taken=taken),
                display_name=display_name,
                email=email,
                created_at=busy_moment(rng, END - 400 * DAY, END - 2 * DAY),
                by_phone=by_phone,
            )
        )
    return users


def _settings(rng: random.Random) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "timezone": rng.choice(TIMEZONES),
        "notifications": {"email": rng.random() < 0.6, "push": rng.random() < 0.4},
    }
    if rng.random() < 0.5:
        settings["reply_length"] = rng.choice(("short", "balanced", "detailed"))
    if rng.random() < 0.3:
        settings["units"] = rng.choice(("metric", "imperial"))
    if rng.random() < 0.2:
        settings["quiet_hours"] = {"start": f"{rng.randint(20, 23)}:00", "end": f"0{rng.randint(6, 9)}:00"}
    if rng.random() < 0.15:
        settings["memory_enabled"] = rng.random() < 0.7
    if rng.random() < 0.05:
        settings["beta_features"] = rng.sample(("voice", "file_upload", "canvas", "reminders"), rng.randint(1, 3))
    return settings


def preference_rows(users: list[DemoUser], rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Yield a preferences row (PREFERENCE_COLUMNS) for most users: language, tone and settings."""
    languages, language_weights = [code for code, _ in LANGUAGES], [weight for _, weight in LANGUAGES]
    tones, tone_weights = [tone for tone, _ in TONES], [weight for _, weight in TONES]
    for user in users:
        if rng.random() >= PREFERENCE_SHARE:
            continue
        yield (
            user.id,
            rng.choices(languages, weights=language_weights)[0],
            rng.choices(tones, weights=tone_weights)[0],
            json.dumps(_settings(rng)),
            at(busy_moment(rng, user.created_at, END)),
        )
