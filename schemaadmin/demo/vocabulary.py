"""Words shared by every topic: people's names, languages, channels, rare words, and the Topic record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACKNOWLEDGEMENTS",
    "CLOSINGS",
    "EMAIL_DOMAINS",
    "FIRST_NAMES",
    "LANGUAGES",
    "LAST_NAMES",
    "RARE_WORDS",
    "SYSTEM_PROMPTS",
    "TIMEZONES",
    "TONES",
    "Topic",
]


@dataclass(frozen=True, slots=True)
class Topic:
    """What people talk about in one area: sentence templates with {slots} and the words that fill them."""

    key: str
    brand: str
    weight: float
    titles: tuple[str, ...]
    openers: tuple[str, ...]
    user_lines: tuple[str, ...]
    assistant_lines: tuple[str, ...]
    steps: tuple[str, ...]
    doc_titles: tuple[str, ...]
    slots: Mapping[str, tuple[str, ...]]
    tool_name: str = ""
    tool_fields: Mapping[str, str] = field(default_factory=dict)  # JSON key -> slot that fills it
    code: tuple[tuple[str, str], ...] = ()  # (language, snippet) pairs shown in ``` fences

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Topic:
        """Return the topic one entry of topics.json describes (its lists read as tuples)."""
        fields: dict[str, Any] = {
            name: tuple(value) if isinstance(value, list) else value for name, value in data.items()
        }
        fields["slots"] = {slot: tuple(words) for slot, words in data["slots"].items()}
        fields["code"] = tuple((language, snippet) for language, snippet in data.get("code", ()))
        return cls(**fields)


FIRST_NAMES = tuple(
    """
    Amira Ben Chen Dara Elif Farah Gustavo Hana Ioana Jamal Kemi Lars Mei Nikhil Olga Priya Quentin
    Rosa Sven Tariq Uma Valentina Wei Ximena Yusuf Zoe Aoife Bruno Chiara Dmitri Esther Femi Greta
    Hiroshi Ines Joao Kavya Leila Mateo Nadia Oscar Pilar Ravi Sofia Tomasz Yara
    """.split()
)
LAST_NAMES = tuple(
    """
    Haddad Okafor Nakamura Silva Kowalski Nguyen Schmidt Rossi Patel Murphy Andersson Garcia Ivanova
    Mensah Dubois Yilmaz Khan Fischer Moreau Sato Costa Novak Hughes Lindqvist Mahlangu Ortega
    Papadopoulos Reyes Takahashi Varga Wojcik Zhang Bianchi Chowdhury Eriksen Farouk Gallagher
    Horvat
    """.split()
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "post.example.org")

# (code, weight): most of the product's users write in English, a long tail in other languages.
LANGUAGES = (
    ("en", 55), ("es", 10), ("fr", 7), ("de", 6), ("pt-BR", 5), ("hi", 4), ("ar", 3), ("ja", 3), ("it", 2),
    ("pl", 2), ("tr", 2), ("nl", 1),
)  # fmt: skip
TONES = (("friendly", 40), ("concise", 25), ("formal", 15), ("playful", 5), ("", 15))
TIMEZONES = tuple(
    """
    Europe/London Europe/Berlin Europe/Madrid America/New_York America/Sao_Paulo America/Los_Angeles
    Asia/Kolkata Asia/Tokyo Africa/Lagos Australia/Sydney
    """.split()
)

# Rare enough that a full-text search for one of them returns a handful of messages, not thousands.
RARE_WORDS = tuple(
    """
    kerfuffle petrichor quokka zymurgy snollygoster borborygmus defenestration absquatulate
    flibbertigibbet sesquipedalian ultracrepidarian xerophyte
    """.split()
)

SYSTEM_PROMPTS = (
    "You are the support assistant for {brand}. Be accurate and brief, and never ask for a full card "
    "number or password.",
    "You are the {brand} virtual agent. Answer in the customer's language. If you are unsure, say so and offer "
    "to hand over to a human colleague.",
    "System: conversation started from the {brand} help centre. Policy version {n}.{n}. Tools are enabled.",
)
ACKNOWLEDGEMENTS = (
    "thanks!",
    "ok",
    "that worked, thank you",
    "perfect",
    "got it",
    "great, thanks a lot",
    "hmm, not quite",
    "still not working",
    "ok one sec",
    "yes please",
    "no, that's all",
    "cheers",
    "thank you so much!!",
)
CLOSINGS = (
    "Is there anything else I can help you with?",
    "Let me know if that does not solve it.",
    "Happy to help further if anything is unclear.",
    "I hope that helps!",
    "You can reply here any time if it happens again.",
)
