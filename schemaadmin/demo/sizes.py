"""How much demo data to generate: the defaults, --scale, and the checks that keep the totals consistent."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["DEFAULT_SIZES", "MAX_SCALE", "MAX_SIZE", "DemoSizes"]

# Bounds that keep a typo from asking for what no machine holds: --scale 1000 is 200 million messages.
MAX_SCALE = 1000
MAX_SIZE = 10**9


@dataclass(frozen=True, slots=True)
class DemoSizes:
    users: int
    conversations: int
    messages: int
    documents: int
    chunks: int

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SIZE:
                raise ValueError(f"--{field.name} must be a whole number from 0 to {MAX_SIZE:,}, not {value!r}.")
        if self.conversations and not self.users:
            raise ValueError("Conversations need users to belong to: give --users of at least 1.")
        if self.messages < self.conversations:
            raise ValueError(
                f"Every conversation needs at least one message, so --messages ({self.messages:,}) "
                f"must be at least --conversations ({self.conversations:,})."
            )
        if self.messages and not self.conversations:
            raise ValueError("Messages need conversations to belong to: give --conversations of at least 1.")
        if self.chunks and not self.documents:
            raise ValueError("Chunks need documents to belong to: give --documents of at least 1.")

    @classmethod
    def from_options(cls, *, scale: float = 1.0, **given: int | None) -> DemoSizes:
        """Return the sizes asked for: each given value as is, each missing one the default times scale."""
        if not isinstance(scale, int | float) or not 0 < scale <= MAX_SCALE:  # nan and inf are neither
            raise ValueError(f"--scale must be a number above zero and at most {MAX_SCALE:,}, not {scale!r}.")
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"Unknown sizes: {', '.join(sorted(unknown))}.")
        values = {}
        for f in fields(cls):
            value = given.get(f.name)
            values[f.name] = max(1, round(getattr(DEFAULT_SIZES, f.name) * scale)) if value is None else value
        return cls(**values)

    def describe(self) -> str:
        """Return the sizes as one readable phrase."""
        return (
            f"{self.users:,} users, {self.conversations:,} conversations, {self.messages:,} messages, "
            f"{self.documents:,} documents and {self.chunks:,} chunks"
        )


DEFAULT_SIZES = DemoSizes(users=2000, conversations=20_000, messages=200_000, documents=500, chunks=5000)
