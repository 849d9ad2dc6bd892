"""Keyset (cursor) paging: pages walk an index from a signed cursor, never OFFSET, never COUNT(*)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.core import signing
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Expression, F, QuerySet
from django.db.models.fields.tuple_lookups import (
    TupleGreaterThan,
    TupleGreaterThanOrEqual,
    TupleLessThan,
    TupleLessThanOrEqual,
)

__all__ = [
    "Cursor",
    "CursorError",
    "KeysetOrder",
    "Collected",
    "Page",
    "keyset_collect",
    "keyset_edge",
    "keyset_page",
    "keyset_slice",
    "keyset_up_to",
]

Direction = Literal["after", "before"]
_SALT = "schemaadmin.paging.cursor"


class CursorError(ValueError):
    """A page link whose cursor is damaged, forged, or made for another listing."""


@dataclass(frozen=True, slots=True)
class KeysetOrder:
    """A total order over rows: key expressions (the last one unique) walked by one index."""

    name: str
    keys: tuple[tuple[str, Callable[[], Expression | F]], ...]  # (annotation alias, expression factory)
    descending: bool

    def aliases(self) -> list[str]:
        return [alias for alias, _ in self.keys]


@dataclass(frozen=True, slots=True)
class Cursor:
    order: str
    values: tuple[Any, ...]
    direction: Direction
    # The 1-based place of the row the cursor sits on, counted from the first page (0: not known), so pages can
    # say "51–100" without counting anything.
    position: int = 0

    def encode(self) -> str:
        """Return the cursor as an opaque, signed token for a URL."""
        payload = {"o": self.order, "d": self.direction, "v": [_dump(v) for v in self.values], "n": self.position}
        return signing.dumps(payload, salt=_SALT, compress=True)

    @classmethod
    def decode(cls, token: str, order: KeysetOrder) -> Cursor:
        """Return the cursor in token, refusing one that was altered or made for another order."""
        try:
            payload = signing.loads(token, salt=_SALT)
            values = tuple(_load(v) for v in payload["v"])
            direction = payload["d"]
            made_for = payload["o"]
            position = int(payload.get("n", 0))
        except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
            raise CursorError("This page link is damaged or was not made by SchemaAdmin; start from page one.") from exc
        if made_for != order.name or direction not in ("after", "before") or len(values) != len(order.keys):
            raise CursorError("This page link belongs to a different sort order; start from page one.")
        return cls(order=made_for, values=values, direction=direction, position=max(position, 0))


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Any]
    next_cursor: str | None
    previous_cursor: str | None
    first: int = 1  # the 1-based place of the first row (0: not known)

    @property
    def is_first(self) -> bool:
        return self.previous_cursor is None

    @property
    def last(self) -> int:
        """Return the 1-based place of the last row (0: not known)."""
        return self.first + len(self.rows) - 1 if self.first else 0


def keyset_page(queryset: QuerySet[Any], order: KeysetOrder, *, cursor: Cursor | None, size: int) -> Page:
    """Return one page of queryset in order, starting after (or ending before) the cursor."""
    backwards = cursor is not None and cursor.direction == "before"
    rows = list(keyset_slice(queryset, order, cursor=cursor, size=size))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    if not rows:
        return Page(rows=[], next_cursor=None, previous_cursor=None)
    has_next = more if not backwards else True
    has_previous = (cursor is not None) if not backwards else more
    first = _first_place(cursor, len(rows), has_previous)
    return Page(
        rows=rows,
        next_cursor=_cursor_at(rows[-1], order, "after", first + len(rows) - 1 if first else 0) if has_next else None,
        previous_cursor=_cursor_at(rows[0], order, "before", first) if has_previous else None,
        first=first,
    )


def keyset_slice(queryset: QuerySet[Any], order: KeysetOrder, *, cursor: Cursor | None, size: int) -> QuerySet[Any]:
    """Return, unread, the rows keyset_page reads for a page: size + 1 from the cursor in the order walked (from a
    "before" cursor, backwards: keyset_page flips them)."""
    queryset = queryset.annotate(**{alias: make() for alias, make in order.keys})
    # Walking backwards reads the same index the other way, then the page is flipped into order.
    descending = order.descending != _backwards(cursor)
    if cursor is not None:
        lookup = TupleLessThan if descending else TupleGreaterThan
        queryset = queryset.filter(lookup(tuple(F(a) for a in order.aliases()), list(cursor.values)))
    ordering = [F(a).desc() if descending else F(a).asc() for a in order.aliases()]
    return queryset.order_by(*ordering)[: size + 1]


def keyset_edge(
    queryset: QuerySet[Any], order: KeysetOrder, *, cursor: Cursor | None, rows: int
) -> tuple[Any, ...] | None:
    """Return the key of the rows-th row a walk from the cursor reads (keyset_slice's order), or None when fewer rows
    follow the cursor. An OFFSET, over the rows the walk would read anyway: bounded by rows, never by the table."""
    last = keyset_slice(queryset, order, cursor=cursor, size=rows - 1).values_list(*order.aliases())[rows - 1 : rows]
    return next((tuple(key) for key in last), None)


def keyset_up_to(
    queryset: QuerySet[Any], order: KeysetOrder, *, cursor: Cursor | None, edge: tuple[Any, ...]
) -> QuerySet[Any]:
    """Return the rows of queryset a walk from the cursor reads down to the row keyed edge, that row included."""
    lookup = TupleGreaterThanOrEqual if order.descending != _backwards(cursor) else TupleLessThanOrEqual
    return queryset.filter(lookup(tuple(make() for _, make in order.keys), list(edge)))


@dataclass(frozen=True, slots=True)
class Collected:
    """The rows of a query counted up to a cap, and the keys of a page among them."""

    count: int  # rows found, at most the cap: fewer, and they are all there are
    keys: list[tuple[Any, ...]]  # the keys of the rows keyset_slice reads among them, in the order it reads them


def keyset_collect(
    queryset: QuerySet[Any], order: KeysetOrder, *, cursor: Cursor | None, size: int, cap: int
) -> Collected:
    """Return how many rows queryset has, counted up to cap, and the keys of the rows keyset_slice(queryset) reads for
    the page, picked from the first cap rows the server finds, in whatever order it finds them: when it finds fewer
    than cap, those keys are keyset_slice's.

    One statement: the rows are read once, kept on the server, and only the page's keys come back (the keys of 5,468
    search hits, read into Python to be picked there, took 6.5 ms; this statement, 4 ms)."""
    connection = connections[queryset.db]
    aliases = [connection.ops.quote_name(alias) for alias in order.aliases()]
    found = queryset.annotate(**{alias: make() for alias, make in order.keys}).order_by()
    try:
        sql, params = found.values_list(*order.aliases())[:cap].query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (pk__in=[]): Django sends no query for it
        return Collected(count=0, keys=[])
    descending = order.descending != _backwards(cursor)
    after = ""
    if cursor is not None:
        after = f"WHERE ({', '.join(aliases)}) {'<' if descending else '>'} ({', '.join(['%s'] * len(aliases))})"
        params = (*params, *cursor.values)
    sorted_by = ", ".join(f"{alias} {'DESC' if descending else 'ASC'}" for alias in aliases)
    # Counted beside the page, so the count comes back when no row follows the cursor too (a row of NULL keys).
    # {sql} is Django's compiled query (its values in params), the rest quoted aliases and fixed words.
    statement = (
        f"WITH found AS MATERIALIZED ({sql}) "  # noqa: S608
        f"SELECT counted.rows, page.* FROM (SELECT count(*) AS rows FROM found) counted "
        f"LEFT JOIN LATERAL (SELECT * FROM found {after} ORDER BY {sorted_by} LIMIT %s) page ON true"
    )
    with connection.cursor() as cur:
        cur.execute(statement, (*params, size + 1))
        rows = cur.fetchall()
    return Collected(count=rows[0][0], keys=[tuple(row[1:]) for row in rows if row[-1] is not None])


def _backwards(cursor: Cursor | None) -> bool:
    return cursor is not None and cursor.direction == "before"


def _first_place(cursor: Cursor | None, count: int, has_previous: bool) -> int:
    """Return the 1-based place of a page's first row: after the cursor's row, or before it; 0 if not known."""
    if cursor is None or not has_previous:
        return 1
    if not cursor.position:
        return 0
    if cursor.direction == "after":
        return cursor.position + 1
    return max(cursor.position - count, 1)


def _cursor_at(row: Any, order: KeysetOrder, direction: Direction, position: int) -> str:
    return Cursor(order.name, tuple(getattr(row, a) for a in order.aliases()), direction, position).encode()


def _dump(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, UUID):  # users are keyed by UUID
        return {"u": str(value)}
    if value is None or isinstance(value, (int, str)):
        return value
    raise TypeError(f"Cannot put {type(value).__name__} in a cursor.")


def _load(value: Any) -> Any:
    if isinstance(value, dict):
        return UUID(value["u"]) if "u" in value else datetime.fromisoformat(value["t"])
    if value is None or isinstance(value, (int, str)):
        return value
    raise ValueError("bad cursor value")


def orders_by_name(orders: Sequence[KeysetOrder]) -> dict[str, KeysetOrder]:
    """Return the orders keyed by their URL name."""
    return {o.name: o for o in orders}
