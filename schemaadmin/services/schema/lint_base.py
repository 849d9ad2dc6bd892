"""What our lint rules share: the finding shapes (sized, squawk overrides) and the checker's common state."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.migrations.migration import Migration

from schemaadmin.services.findings import Finding, Kind, Severity
from schemaadmin.services.schema.lint_help import EXCLUSION_HELP, INDEX_HELP, PARTITIONED_CONCURRENT_HELP
from schemaadmin.services.schema.sql import migration_label

__all__ = ["ACCESS_EXCLUSIVE", "SHARE", "CheckerBase", "PlanFacts", "SizedFinding", "SquawkOverride"]

# The locks a change of a table holds to the end of its transaction: most ALTER TABLEs', and CREATE INDEX's.
ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE = "SHARE"


@dataclass(frozen=True, slots=True)
class SizedFinding:
    """A finding that holds only if `table` has at least `min_rows` estimated rows ("{rows}" in its message), or,
    when `partitioned`, only if `table` is a partitioned table (what the model states cannot say)."""

    table: str
    min_rows: int
    finding: Finding
    partitioned: bool = False
    # A SET NOT NULL of this column: it holds only if no validated CHECK (column IS NOT NULL) is in the database.
    not_null_column: str = ""


class PlanFacts:
    """What the migrations linted before this one in a plan leave behind, for the ones after: the NOT VALID checks
    that prove a column not null, by (table, constraint), and the (table, column)s validated so."""

    def __init__(self) -> None:
        self.not_null_checks: dict[tuple[str, str], str] = {}
        self.validated_not_null: set[tuple[str, str]] = set()
        # Tables a pending RenameModel or AlterModelTable renames: the new name's table in the database, by its
        # old name (a chain of renames resolved), so a later operation on it is sized by that table's rows.
        self.renamed: dict[str, str] = {}

    def live_name(self, table: str) -> str:
        """Return the name the table has in the database now, before the plan's renames."""
        return self.renamed.get(table, table)


@dataclass(frozen=True, slots=True)
class SquawkOverride:
    """squawk's `rules` are wrong about one operation (its index in the migration): set aside, with the reason."""

    rules: tuple[str, ...]
    reason: str
    operation: int | None = None


class CheckerBase:
    """One migration's checker state: what it creates, alters and grants as its operations are read in order."""

    def __init__(
        self,
        migration: Migration,
        connection: Any,
        big_rows: int,
        sql_lines: Sequence[str] = (),
        plan: PlanFacts | None = None,
    ) -> None:
        self.migration = migration
        self.plan = plan if plan is not None else PlanFacts()
        self.sql_lines = [line.strip() for line in sql_lines]  # the migration's SQL, as the page numbers it
        self.app_label = migration.app_label
        self.label = migration_label(migration)
        self.connection = connection
        self.big_rows = big_rows
        self.created: set[str] = set()  # tables this migration creates: empty, so no size rule applies
        # Existing tables whose schema it changes, each with the step that first does: locked from then until commit.
        self.altered: dict[str, int] = {}
        # The locks those changes take, each with its step: (step, "ACCESS EXCLUSIVE"), or "SHARE" for CREATE INDEX.
        self.locks: dict[str, list[tuple[int, str]]] = {}
        self.step = 0  # the operation being read (database operations of a SeparateDatabaseAndState count apart)
        self.granted: set[tuple[str, str]] = set()  # (table, role) its RunSQL grants SELECT on
        self.product_tables: dict[str, int | None] = {}  # new product tables and the line that creates each
        # (table, what, line, in a transaction, step)
        self.backfills: list[tuple[str, str, int | None, bool, int]] = []

    def statement_at(self, first_line: str, after: tuple[int, int] | None) -> tuple[int, int] | None:
        """Return where, after the position (line, column) of the migration's SQL, the next statement whose first
        line is first_line begins, as (0-based line, the column just past its first line); None when it cannot be
        found (a statement Django rewrote, no SQL). Several statements of one RunSQL string may share a line, and
        several may begin alike (ALTER TABLE t), so each is looked for past the one before it."""
        if after is None or not first_line:
            return None
        line, column = after
        # A (sql, params) item's placeholders are read as $n (raw_sql), and its values stand there in the SQL
        # Django writes: any text matches one. Not found, every later statement of the migration was searched
        # for to its end (quadratic: 8,000 items took 6.6 s a view) and put on the operation's header.
        pattern = _with_values(first_line)
        for number in range(line, len(self.sql_lines)):
            match = pattern.search(self.sql_lines[number], column if number == line else 0)
            if match is not None:
                return number, match.end()
        return None

    def written(self, column: str) -> str:
        """Return a column's name as this connection's schema editor writes it in the migration's SQL."""
        return str(self.connection.ops.quote_name(column))

    def line_of(self, pattern: str, line: int | None) -> int | None:
        """Return the first line from line on that matches pattern (a regex naming the statement's column, searched
        in each stripped line), else line: a Django operation writes several statements, and a finding about one of
        them names that one (SET NOT NULL after SET DEFAULT), also when Django defers it to the end of the migration
        (the CREATE INDEX of a field added with db_index, after every operation)."""
        if line is None:
            return None
        found = re.compile(pattern)
        return next((n for n in range(line, len(self.sql_lines)) if found.search(self.sql_lines[n])), line)

    def finding(self, code: str, severity: Severity, obj: str, message: str, help: str, line: int | None) -> Finding:
        return Finding(
            code, severity, Kind.LINT, obj, message, help=help, source="schemaadmin", migration=self.label, line=line
        )

    def sized(
        self, code: str, severity: Severity, table: str, message: str, help: str, line: int | None, min_rows: int
    ) -> SizedFinding:
        return self.sized_on(table, min_rows, self.finding(code, severity, table, message, help, line))

    def sized_on(self, table: str, min_rows: int, finding: Finding, **how: Any) -> SizedFinding:
        """Return finding as holding only on a table of min_rows: the table the database has now, by the name it
        has before the plan's pending renames (PlanFacts.live_name), which is what its rows are read by."""
        return SizedFinding(self.plan.live_name(table), min_rows, finding, **how)

    def alters(self, table: str, lock: str = ACCESS_EXCLUSIVE) -> bool:
        """Note that the migration changes table's schema; return False if it creates it (no size rule applies)."""
        if table in self.created:
            return False
        self.mark_altered(table, lock)
        return True

    def mark_altered(self, table: str, lock: str = ACCESS_EXCLUSIVE) -> None:
        self.altered.setdefault(table, self.step)
        self.locks.setdefault(table, []).append((self.step, lock))

    def lock_held(self, table: str, step: int) -> str | None:
        """Return the strongest lock the migration's changes of table hold at step (taken at it or before), if any."""
        held = {lock for taken, lock in self.locks.get(table, ()) if taken <= step}
        return ACCESS_EXCLUSIVE if ACCESS_EXCLUSIVE in held else next(iter(held), None)

    def blocking_index(
        self, table: str, what: str, line: int | None, *, constraint: bool = False
    ) -> Iterator[SizedFinding]:
        """constraint: built by ALTER TABLE … ADD CONSTRAINT (ACCESS EXCLUSIVE: reads wait too), not CREATE INDEX."""
        waiting = "reads and writes of the table wait" if constraint else "writes to the table wait"
        message = f"Builds {what} on {table} (about {{rows}} rows) without CONCURRENTLY: {waiting} for the whole build."
        lock = ACCESS_EXCLUSIVE if constraint else SHARE
        yield from self.on_big_table("index_on_big_table", table, message, INDEX_HELP, line, lock=lock)

    def concurrent_index(
        self, table: str, what: str, line: int | None, *, verb: str = "Builds"
    ) -> Iterator[SizedFinding]:
        """A concurrent build or drop: PostgreSQL refuses either on a partitioned table, and the migration fails."""
        if table in self.created:
            return
        message = (
            f'{verb} {what} CONCURRENTLY on {table}, a partitioned table: PostgreSQL refuses ("… partitioned table '
            '… concurrently"), so the migration fails.'
        )
        finding = self.finding("migration_fails", Severity.CRITICAL, table, message, PARTITIONED_CONCURRENT_HELP, line)
        yield self.sized_on(table, 0, finding, partitioned=True)

    def exclusion(self, table: str, what: str, line: int | None) -> Iterator[SizedFinding]:
        message = (
            f"Adds the exclusion {what} to {table} (about {{rows}} rows): PostgreSQL builds its index and checks "
            "every row under an ACCESS EXCLUSIVE lock, which blocks reads and writes for the whole build."
        )
        yield from self.on_big_table("exclusion_constraint_on_big_table", table, message, EXCLUSION_HELP, line)

    def on_big_table(
        self, code: str, table: str, message: str, help: str, line: int | None, *, lock: str = ACCESS_EXCLUSIVE
    ) -> Iterator[SizedFinding]:
        """Yield a critical finding that holds once table has big_rows rows, unless the migration creates it."""
        if self.alters(table, lock):
            yield self.sized(code, Severity.CRITICAL, table, message, help, line, self.big_rows)


_PARAMETER = re.compile(r"\$[0-9]+")


@functools.lru_cache(maxsize=4096)
def _with_values(first_line: str) -> re.Pattern[str]:
    """Return a pattern of the first line in which each $n stands for the value written in its place."""
    return re.compile(".*?".join(re.escape(part) for part in _PARAMETER.split(first_line)))
