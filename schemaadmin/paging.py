"""Keyset (cursor) paging: pages walk an index from a signed cursor, never OFFSET, never COUNT(*)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.core import signing
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
    "Page",
    "keyset_edge",
    "keyset_keys",
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


def keyset_keys(
    keys: Iterable[tuple[Any, ...]], order: KeysetOrder, *, cursor: Cursor | None, size: int
) -> list[tuple[Any, ...]]:
    """Return the keys of the rows keyset_slice would read, from rows already in memory: each row's key values in
    the order's key order (its last, unique key names the row), none NULL."""
    descending = order.descending != _backwards(cursor)
    if cursor is not None:
        bound = tuple(cursor.values)
        keys = [k for k in keys if (k < bound if descending else k > bound)]
    pick = heapq.nlargest if descending else heapq.nsmallest
    return pick(size + 1, keys)


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
