"""Write plausible chat messages and knowledge-base passages from the topics' sentence templates."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

from schemaadmin.demo.vocabulary import ACKNOWLEDGEMENTS, CLOSINGS, RARE_WORDS, SYSTEM_PROMPTS, Topic

__all__ = ["TOPICS", "TOPIC_WEIGHTS", "Writer", "token_count"]

# What people talk about: customer service (billing, health insurance, devices), then everyday topics (travel,
# cooking, programming). Content, not code: sentence templates and the words that fill them, in topics.json.
TOPICS: tuple[Topic, ...] = tuple(
    Topic.from_json(entry) for entry in json.loads((Path(__file__).parent / "topics.json").read_text(encoding="utf-8"))
)
TOPIC_WEIGHTS: tuple[float, ...] = tuple(topic.weight for topic in TOPICS)

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October")
REF_ALPHABET = string.ascii_uppercase + string.digits
# The more common rare words come first: a Zipf-like tail, so some appear a few dozen times and some once.
RARE_WEIGHTS = tuple(1 / rank for rank in range(1, len(RARE_WORDS) + 1))
RARE_ASIDES = (
    "P.S. autocorrect keeps changing this to {rare}, sorry.",
    "(Unrelated, but my son just taught me the word {rare}.)",
    "What a {rare} this has been.",
    "My old username was {rare}, in case that's still on file.",
)
# Per message, the chance of a rare aside: about one message in five hundred.
RARE_CHANCE = 0.002
INTROS = ("Here is what to do:", "Try these steps in order:", "This usually fixes it:", "The steps are:")
CODE_INTROS = ("Here is an example:", "Something like this should work:", "For instance:", "A minimal version:")


def token_count(text: str) -> int:
    """Return a plausible tokenizer count for text: about 1.3 tokens per word."""
    return max(1, round(len(text.split()) * 1.3))


class Slots(dict[str, str]):
    """Fill template slots for one conversation or document: names stay fixed, numbers vary per use."""

    VARYING = frozenset({"n", "minutes", "amount", "date", "time", "rare"})

    def __init__(self, topic: Topic, rng: random.Random) -> None:
        super().__init__()
        self.topic = topic
        self.rng = rng

    def __missing__(self, key: str) -> str:
        value = self._draw(key)
        if key not in self.VARYING:
            self[key] = value
        return value

    def _draw(self, key: str) -> str:
        rng = self.rng
        words = self.topic.slots.get(key)
        if words:
            return rng.choice(words)
        match key:
            case "n":
                return str(rng.randint(2, 9))
            case "minutes":
                return str(rng.choice((5, 10, 15, 20, 30, 45)))
            case "amount":
                return f"£{rng.randint(3, 480)}.{rng.randint(0, 99):02d}"
            case "date":
                return f"{rng.randint(1, 28)} {rng.choice(MONTHS)}"
            case "time":
                return f"{rng.randint(6, 22):02d}:{rng.choice(('00', '15', '30', '45'))}"
            case "last4":
                return f"{rng.randint(0, 9999):04d}"
            case "ref":
                return "".join(rng.choices(REF_ALPHABET, k=8))
            case "rare":
                return rng.choices(RARE_WORDS, weights=RARE_WEIGHTS)[0]
            case "brand":
                return self.topic.brand
        raise KeyError(f"The {self.topic.key} topic has no words for the slot {{{key}}}.")


class Writer:
    """Write the texts of one conversation or one document, all drawn from one random stream."""

    def __init__(self, topic: Topic, rng: random.Random) -> None:
        self.topic = topic
        self.rng = rng
        self.slots = Slots(topic, rng)

    def fill(self, template: str) -> str:
        """Return template with its slots filled."""
        return template.format_map(self.slots)

    def pick(self, templates: tuple[str, ...], count: int = 1) -> str:
        """Return count filled templates drawn from templates, joined into one paragraph."""
        chosen = self.rng.sample(templates, min(count, len(templates)))
        return " ".join(self.fill(template) for template in chosen)

    def title(self) -> str:
        """Return a conversation title; about one conversation in ten has none."""
        return "" if self.rng.random() < 0.1 else self.fill(self.rng.choice(self.topic.titles))

    def document_title(self) -> str:
        """Return the title of a knowledge-base document on this topic."""
        return self.fill(self.rng.choice(self.topic.doc_titles))

    def system(self) -> str:
        """Return a system prompt naming the topic's brand."""
        return self.fill(self.rng.choice(SYSTEM_PROMPTS))

    def user(self, *, first: bool) -> str:
        """Return a user's message: the opening question, a follow-up, or a one-line acknowledgement."""
        rng = self.rng
        if first:
            text = self.pick(self.topic.openers)
            if rng.random() < 0.15:
                text += " " + self.pick(self.topic.user_lines)
        elif rng.random() < 0.3:
            text = rng.choice(ACKNOWLEDGEMENTS)
        else:
            text = self.pick(self.topic.user_lines, rng.choice((1, 1, 2)))
        if text.endswith(":"):
            text += "\n\n" + self.code_block()
        if rng.random() < RARE_CHANCE:
            text += " " + self.fill(rng.choice(RARE_ASIDES))
        return text

    def assistant(self) -> str:
        """Return an assistant's reply: mostly a few sentences, sometimes steps or code, rarely a long essay."""
        roll = self.rng.random()
        if roll < 0.55:
            return self.pick(self.topic.assistant_lines, self.rng.randint(1, 3))
        if roll < 0.83:
            return self.with_steps()
        if roll < 0.95 and self.topic.code:
            return self.with_code()
        return self.essay()

    def tool(self) -> str:
        """Return a tool call's JSON result."""
        result = {name: self.slots[slot] for name, slot in self.topic.tool_fields.items()}
        return json.dumps({"tool": self.topic.tool_name, "ok": True, "result": result}, ensure_ascii=False)

    def with_steps(self) -> str:
        """Return a reply with a short explanation, numbered steps and a closing line."""
        rng = self.rng
        steps = rng.sample(self.topic.steps, rng.randint(3, min(5, len(self.topic.steps))))
        numbered = "\n".join(f"{i}. {self.fill(step)}" for i, step in enumerate(steps, 1))
        intro = self.pick(self.topic.assistant_lines, rng.randint(1, 2))
        return f"{intro}\n\n{rng.choice(INTROS)}\n{numbered}\n\n{rng.choice(CLOSINGS)}"

    def with_code(self) -> str:
        """Return a reply built around a fenced code block."""
        rng = self.rng
        before = self.pick(self.topic.assistant_lines)
        after = self.pick(self.topic.assistant_lines)
        return f"{before} {rng.choice(CODE_INTROS)}\n\n{self.code_block()}\n\n{after}"

    def essay(self) -> str:
        """Return a long multi-paragraph reply with steps and, where the topic has them, code."""
        rng = self.rng
        parts = [self.pick(self.topic.assistant_lines, rng.randint(3, 5)) for _ in range(rng.randint(3, 5))]
        parts.insert(rng.randint(1, len(parts)), self.with_steps())
        if self.topic.code:
            parts.insert(rng.randint(1, len(parts)), self.code_block())
        return "\n\n".join(parts)

    def code_block(self) -> str:
        """Return one of the topic's snippets in a ``` fence, or a list of steps when it has none."""
        if not self.topic.code:
            return "\n".join(f"- {self.fill(step)}" for step in self.rng.sample(self.topic.steps, 3))
        language, snippet = self.rng.choice(self.topic.code)
        return f"```{language}\n{snippet}\n```"

    def passage(self, *, heading: str | None = None) -> str:
        """Return a knowledge-base passage of 100 to 300 words, optionally under a heading."""
        rng = self.rng
        parts = [] if heading is None else [f"# {heading}"]
        for _ in range(rng.randint(2, 4)):
            if rng.random() < 0.25:
                steps = rng.sample(self.topic.steps, rng.randint(2, min(4, len(self.topic.steps))))
                parts.append("\n".join(f"{i}. {self.fill(step)}" for i, step in enumerate(steps, 1)))
            else:
                parts.append(self.pick(self.topic.assistant_lines, rng.randint(2, 4)))
        return "\n\n".join(parts)
