"""One finding type and one severity scale for every check: index and table health, drift, and migration lint.

The scale is one ordered enum, ``INFO < WARNING < CRITICAL``, with the same meaning whatever found it:

- CRITICAL: something is broken, or will break or block production: an invalid index, a vector column too
  wide to index, a table or column the migrations expect and the database lacks, a migration that fails or
  holds a write-blocking lock on a big table. Act on it first, and before deploying.
- WARNING: it costs something now or risks something later: plan a fix.
- INFO: worth knowing; nothing needs doing.

Health said ``critical``; drift and lint said ``error`` for the same level. It is ``critical`` now, not
``error``, for two reasons. On these pages "error" also reads as "the check itself failed", and findings such
as ``squawk_failed``, ``rules_failed`` and ``drift_unavailable`` are exactly that (they are warnings). And
alerting says "critical" above "warning", which is how operators already read the health pages and
``manage.py index_health`` in cron. The old word is still understood: ``Severity("error")`` is CRITICAL, so
``schema_report --fail-on error`` and squawk's ``Error`` level keep working. A fourth level (Django's
checks have ERROR below CRITICAL) would only split one meaning in two with no rule for which is worse.

A finding's ``kind`` says which check found it. Health, drift and lint each fill the optional fields they
have (a health finding's schema, table, index and column; a lint finding's migration, SQL line, rule source
and exemption) and leave the others empty, so pages and commands treat every finding alike.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Finding", "Kind", "Severity", "severity_counts", "worst", "worst_first", "worst_rank"]

_CODE_SPAN = re.compile(r"`([^`\n]+)`")


class Severity(enum.StrEnum):
    """How much a finding matters, ordered: INFO < WARNING < CRITICAL (not alphabetically, as plain strings)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @classmethod
    def _missing_(cls, value: object) -> Severity | None:
        # Any case, and the word drift and lint used before the scale was one ("error", squawk's "Error").
        if isinstance(value, str):
            word = value.lower()
            return cls.CRITICAL if word == "error" else next((s for s in cls if s.value == word), None)
        return None

    @property
    def rank(self) -> int:
        """Return 0 for INFO, 1 for WARNING, 2 for CRITICAL."""
        return _RANKS[self]

    @property
    def badge(self) -> str:
        """Return the Bootstrap classes of this severity's badge, the same on every page."""
        return _BADGES[self]

    def at_least(self, other: Severity | str) -> bool:
        return self.rank >= Severity(other).rank

    def counted(self, count: int) -> str:
        """Return "1 warning", "3 warnings", "2 critical" or "0 info"."""
        plural = "s" if self is Severity.WARNING and count != 1 else ""
        return f"{count} {self.value}{plural}"

    # Compare by rank, not as strings ("critical" < "info" < "warning" alphabetically), so max() and sorted()
    # mean what they say. A plain string on either side is read as a Severity.
    def __lt__(self, other: object) -> bool:
        return self.rank < _rank_of(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= _rank_of(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > _rank_of(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= _rank_of(other)


_RANKS = {severity: rank for rank, severity in enumerate(Severity)}
_BADGES = {
    Severity.CRITICAL: "text-bg-danger",
    Severity.WARNING: "text-bg-warning",
    Severity.INFO: "text-bg-info",
}


def _rank_of(other: object) -> int:
    if not isinstance(other, str):
        raise TypeError(f"a Severity cannot be compared with {type(other).__name__}")
    return Severity(other).rank


class Kind(enum.StrEnum):
    """Which check found it."""

    HEALTH = "health"  # services/index_health/: the catalog of a live database
    DRIFT = "drift"  # services/schema/drift.py: the live schema against its migrations, the models against theirs
    LINT = "lint"  # services/schema/lint.py: a migration's lock risks, from squawk and our rules


# The JSON each kind has always been printed as (manage.py index_health, manage.py schema_report): scripts in
# cron and CI read these keys, in this order.
_JSON_KEYS = {
    # object: what the finding is about as the pages name it, also for database-wide ones ("slot s", "extension e")
    Kind.HEALTH: ("code", "severity", "database", "schema", "table", "index", "column", "object", "message", "fix_sql"),
    Kind.DRIFT: ("code", "severity", "object", "message", "fix"),
    Kind.LINT: ("code", "severity", "object", "message", "help", "line", "source", "migration"),
}
_JSON_FIELDS = {"fix_sql": "fix"}
_SOURCE_LABELS = {"squawk": "squawk", "schemaadmin": "SchemaAdmin"}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str  # stable and public (pages, JSON, CI and cron read it): never renamed
    severity: Severity
    kind: Kind
    object: str  # what it is about, as people write it: schema.table[.column], schema.index, app.Model, extension
    message: str  # what is wrong and why it matters
    fix: str = ""  # what to do: the SQL (health), or SQL or a migration operation with a few words (drift)
    help: str = ""  # lint: the safe way to write the migration instead
    title: str = ""  # a short name for the code, where its check has one (health)
    source: str = ""  # lint: whose rule, "schemaadmin" or "squawk"
    migration: str = ""  # lint: app_label.name
    line: int | None = None  # lint: 0-based line in the migration's forward SQL, when known
    exemption: str = ""  # lint: why the migration accepts this finding; "" when it counts
    database: str = ""  # health: the database alias whose catalog was read
    schema: str = ""  # health: where the object is
    table: str = ""
    index: str | None = None
    column: str | None = None
    url: str = ""  # a page that shows what it is about, where that is not an index or a table (activity: /activity/)

    @property
    def source_label(self) -> str:
        return _SOURCE_LABELS.get(self.source, self.source)

    @property
    def message_parts(self) -> list[tuple[str, bool]]:
        return self._parts(self.message)

    @property
    def help_parts(self) -> list[tuple[str, bool]]:
        return self._parts(self.help)

    def _parts(self, text: str) -> list[tuple[str, bool]]:
        """Split text into (text, is_code) pieces a template marks up and escapes.

        Lint text is Markdown (squawk writes `code` spans); health and drift text is plain, and a backtick
        in it (a default or a predicate may hold one) is only a character.
        """
        if self.kind is not Kind.LINT:
            return [(text, False)] if text else []
        pieces = _CODE_SPAN.split(text)  # text, code, text, code, ..., text
        return [(piece, index % 2 == 1) for index, piece in enumerate(pieces) if piece]

    def as_json(self) -> dict[str, Any]:
        """Return the finding as its kind's documented JSON item (keys kept as they were before one type)."""
        data = {key: getattr(self, _JSON_FIELDS.get(key, key)) for key in _JSON_KEYS[self.kind]}
        data["severity"] = str(self.severity)
        return data


def worst_first(findings: Iterable[Finding], then: Callable[[Finding], Any] | None = None) -> list[Finding]:
    """Return the findings most severe first, then ordered by then(finding); ties keep their order."""
    if then is None:
        return sorted(findings, key=lambda f: -f.severity.rank)
    key = then
    return sorted(findings, key=lambda f: (-f.severity.rank, key(f)))


def worst(findings: Iterable[Finding]) -> Severity | None:
    """Return the highest severity among the findings, or None when there are none."""
    return max((f.severity for f in findings), default=None)


def worst_rank(findings: Sequence[Finding]) -> int:
    """Return the rank of the highest severity among the findings, -1 when there are none (a sort key)."""
    return max(f.severity.rank for f in findings) if findings else -1


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    """Return each severity, worst first, with how many findings have it (0 included)."""
    counts = Counter(f.severity for f in findings)
    return {severity: counts[severity] for severity in reversed(Severity)}
