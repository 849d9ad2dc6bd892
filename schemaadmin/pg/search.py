"""Full-text search questions asked of the server."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Func, TextField

from schemaadmin.models.chat import SEARCH_CONFIG
from schemaadmin.pg.connection import fetch_row

__all__ = [
    "SNIPPET_LEAD",
    "SNIPPET_WINDOW",
    "HitWindow",
    "SearchTerms",
    "SearchTooDeep",
    "Without",
    "plain_spelling",
    "search_terms",
    "spellings",
    "without_repeats",
]

# querytree()'s answer for a query whose every row could match (only excluded words): no index can look it up.
MATCHES_EVERYTHING = "T"


# websearch_to_tsquery() keeps the operators still waiting for their operands on a stack of 32: a NOT for each "-"
# before the next word, and an AND or an OR before them, so the limit is 30 to 32 dashes depending on what precedes
# them. It fails with an internal error, which the server alone can tell.
_STACK_TOO_SMALL = "tsquery stack too small"


class SearchTooDeep(ValueError):
    """The server cannot parse the search: more operators wait at once than its parser holds."""


# The invisible characters a copied word comes wrapped in: zero-width space, direction marks and embeddings, word
# joiner, isolates, byte order mark. Not the zero-width (non-)joiners: Persian and Indic words are written with them.
_WRAPPING = re.compile("[\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")


def plain_spelling(text: str) -> str:
    """Return text composed (NFC: "é" one character, not "e" and a combining accent) and without the invisible
    characters a copied word comes wrapped in (_WRAPPING), stripped."""
    return _WRAPPING.sub("", unicodedata.normalize("NFC", text)).strip()


def spellings(text: str) -> tuple[str, ...]:
    """Return the spellings a search looks for: text as typed and, when it differs, its plain_spelling. The server's
    parser keeps a direction mark or a zero-width space as part of the word it touches, and a decomposed accent is
    another word: "hello" pasted with a right-to-left mark after it matched no message, and a message that holds
    one is found only by the text as it holds it. Searching both finds either."""
    typed, plain = without_repeats(text), without_repeats(plain_spelling(text))
    return (typed,) if plain in ("", typed) else (typed, plain)


# A word websearch_to_tsquery() reads as OR, with the punctuation it ignores around it.
_OR_WORD = re.compile(r"\W*or\W*", re.IGNORECASE)


def without_repeats(text: str) -> str:
    """Return text without the words it repeats (as written: "Refund refund" stays), when it is only an AND of its
    words: no quotes (a phrase, where the same word twice says something), no "-" (a NOT, also alone: "- - x" is
    NOT NOT x) and no OR (whose operands repeats change).
    The server tests each word of the query once more for every message: "a" typed 100 times took 2-6 s at 10M
    messages, 7-10 s in the 50,000-message thread; the same words once find the same messages. Else text as typed."""
    words = text.split()
    if len(set(words)) == len(words) or '"' in text or "-" in text or any(_OR_WORD.fullmatch(w) for w in words):
        return text
    return " ".join(dict.fromkeys(words))


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """What the server makes of a search: its tsquery, the part a GIN index can look up, whether it is walkable."""

    query: str  # websearch_to_tsquery(); '' when nothing in the search is a word
    indexed: str  # querytree(query): the words a match must contain; 'T' when it needs none (only exclusions)
    common: bool  # each of its lexemes among the most common (see search_terms)
    walkable: bool  # common, and plain words: no phrase, no exclusion
    words: tuple[str, ...]  # the lexemes of indexed, in order: a match holds all of them, or one of an OR

    @property
    def matchable(self) -> bool:
        return bool(self.query)

    @property
    def indexable(self) -> bool:
        """Whether the GIN index can find the matches: at least one word a match must contain."""
        return self.indexed not in ("", MATCHES_EVERYTHING)


def search_terms(text: str, *, using: str = "default") -> SearchTerms:
    """Return what the server makes of text (each of its spellings(), or'd): its tsquery, the part the GIN index
    looks up, whether it is walkable.

    common: each lexeme is among pg_stats.most_common_elems (a word missing there is rarer than every word listed).
    walkable: common, and plain words (no phrase, no exclusion). Such a search meets a page of hits within a few
    thousand rows of a newest-first walk of the messages. A phrase or an exclusion can match almost nothing even when
    its words are common ("the the the", "the -the"): only a walk of bounded length may try it. Without statistics
    nothing counts as common. One statement answers them all (the form and the search both ask).
    """
    try:
        # A savepoint in a caller's transaction, which a refusal leaves usable (search_facts caches the answer, so
        # the round trip it may add is paid once per search).
        with transaction.atomic(using=using):
            terms = _search_terms(text, using=using)
    except DatabaseError as exc:
        if _STACK_TOO_SMALL not in str(exc):
            raise
        raise SearchTooDeep(
            'This search has more "-" in a row than PostgreSQL\'s search can nest (about 30): put a word after each '
            "-, or use fewer."
        ) from exc
    return terms


def _search_terms(text: str, *, using: str) -> SearchTerms:
    typed, *rest = spellings(text)  # the other spelling, if any, or'd in (NULL: none)
    other = rest[0] if rest else None
    terms = fetch_row(
        SearchTerms,
        """
        WITH query AS (
            SELECT websearch_to_tsquery(%(config)s::regconfig, %(text)s)
                || coalesce(websearch_to_tsquery(%(config)s::regconfig, %(other)s), ''::tsquery) AS terms
        ),
        lexemes AS (
            SELECT DISTINCT replace(match[1], '''''', '''') AS lexeme
            FROM query, regexp_matches(query.terms::text, '''((?:[^'']|'''')+)''', 'g') AS match
        ),
        required AS (
            SELECT coalesce(array_agg(replace(m.match[1], '''''', '''') ORDER BY m.n), '{}') AS words
            FROM query,
                 regexp_matches(querytree(query.terms), '''((?:[^'']|'''')+)''', 'g') WITH ORDINALITY AS m(match, n)
        ),
        statistics AS (
            SELECT most_common_elems::text::text[] AS common
            FROM pg_stats
            WHERE schemaname = current_schema()
              AND tablename = 'conversation_messages'
              AND attname = 'search_vector'
        ),
        common AS (
            SELECT query.terms::text <> ''
                AND EXISTS (SELECT 1 FROM statistics)
                AND NOT EXISTS (
                    SELECT 1
                    FROM lexemes, statistics
                    WHERE NOT (lexemes.lexeme = ANY (statistics.common))
                ) AS words_are
            FROM query
        )
        SELECT
            query.terms::text AS query,
            querytree(query.terms) AS indexed,
            common.words_are AS common,
            common.words_are AND query.terms::text !~ '<[0-9-]+>|!' AS walkable,
            required.words AS words
        FROM query, required, common
        """,
        {"config": SEARCH_CONFIG, "text": typed, "other": other},
        using=using,
    )
    return terms or SearchTerms(query="", indexed="", common=False, walkable=False, words=())


# ts_headline parses all of the text it is given, ~0.1 ms per kB here: snippets for a page of 51 answers of 5 kB took
# 27 ms. A message longer than SNIPPET_WINDOW characters is given from SNIPPET_LEAD characters before its first hit.
# A snippet is at most 40 words from where the search's words meet (back before it only when too few words follow);
# where they never meet in the window (words of an AND far apart) it is the first 15 words given, so the lead must
# stay under 15 words: from 300 characters before, 16-55% of the long answers found by "refund order", "card
# declined" or "flight cancelled refund" had a snippet with no mark, from 60 none (bench database, 2026-12-05).
SNIPPET_WINDOW = 800
SNIPPET_LEAD = 60


class HitWindow(Func):
    """A text at most SNIPPET_WINDOW characters long, whole; a longer one SNIPPET_WINDOW characters from SNIPPET_LEAD
    before the first place one of words appears (from its start when none does).

    The place is found as text: where the word stands as written (a lexeme is lower-case: usually found without
    lower-casing the whole text, the costly part), else in the lower-cased text; the earliest of the words'. When
    the part found holds none of the words as a whole word in any case (the text was inside another word, as
    "payment" in "payments", and the word itself further on), the window starts before the first whole word
    instead, found by a regular expression over the text. Without that, 17% of the snippets of long answers found
    by "payment" showed no mark (bench database, 2026-12-05).
    """

    output_field = TextField()

    def __init__(self, expression: Any, words: Sequence[str]) -> None:
        super().__init__(expression)
        self.words = list(words)

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, tuple[Any, ...]]:  # type: ignore[override]
        text, p = compiler.compile(self.get_source_expressions()[0])
        # {text} is the compiled column (p its parameters, none for a column); words, patterns and sizes are
        # parameters. Each function given a long text decompresses it again, and a regular expression reads all of
        # it whatever it finds (~1 ms for 51 answers of 5 kB): the whole-word test reads only the part found.
        patterns = [whole_word_pattern(word) for word in self.words]
        found = f"coalesce(nullif(strpos({text}, w), 0), nullif(strpos(lower({text}), w), 0))"
        first_found = f"(SELECT min({found}) FROM unnest(%s::text[]) AS w)"  # noqa: S608
        # GREATEST ignores a NULL: the whole-word window is made only when a whole word was found (HAVING), and the
        # planner computes the one min() both name once. OFFSET 0 keeps the part found one value: pulled up, its
        # expression was computed once for each place that names it.
        first_whole = f"min(nullif(regexp_instr({text}, pattern, 1, 1, 0, 'i'), 0))"
        whole_window = (
            f"(SELECT substr({text}, greatest(1, {first_whole} - %s), %s) "  # noqa: S608
            f"FROM unnest(%s::text[]) AS pattern HAVING {first_whole} IS NOT NULL)"
        )
        sql = (
            f"CASE WHEN octet_length({text}) <= %s THEN {text} ELSE ("  # noqa: S608
            "SELECT CASE WHEN EXISTS (SELECT FROM unnest(%s::text[]) AS pattern WHERE part ~* pattern) THEN part "
            f"ELSE coalesce({whole_window}, part) END "
            f"FROM (SELECT substr({text}, greatest(1, coalesce({first_found}, 1) - %s), %s) AS part OFFSET 0) "
            "AS hit_window"
            ") END"
        )
        lead, window = SNIPPET_LEAD, SNIPPET_WINDOW
        params = (
            *(*p, window, *p),
            patterns,
            *(*p, *p, lead, window, patterns, *p),
            *(*p, *p, *p, self.words, lead, window),
        )
        return sql, params


class Without(Func):
    """A text with each of some characters taken out: replace() once for each, a byte search, where translate()
    walks the text character by character (+0.6 ms a page of 51 long answers, bench database, 2026-12-05)."""

    output_field = TextField()

    def __init__(self, expression: Any, characters: str) -> None:
        super().__init__(expression)
        self.characters = characters

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, tuple[Any, ...]]:  # type: ignore[override]
        sql, params = compiler.compile(self.get_source_expressions()[0])
        for _ in self.characters:
            sql = f"replace({sql}, %s, '')"
        return sql, (*params, *self.characters)


def whole_word_pattern(word: str) -> str:
    """Return a regular expression (PostgreSQL's) matching word as a whole word, its ASCII punctuation literal."""
    # A backslash before a character that is not a letter or a digit makes it literal; before a letter or a digit
    # (any script's) it would start an escape, so those stay as they are.
    escaped = "".join(f"\\{c}" if c.isascii() and not c.isalnum() else c for c in word)
    return f"\\m{escaped}\\M"
