"""Keyset (cursor) paging: pages walk an index from a signed cursor, never OFFSET, never COUNT(*)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from django.core import signing
from django.db.models import Expression, F, QuerySet
from django.db.models.fields.tuple_lookups import (
    TupleGreaterThan,
    TupleLessThan,
)

from schemaadmin.pg.keysets import collected_page, read_within

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = [
    "Cursor",
    "CursorError",
    "KeysetOrder",
    "Collected",
    "Page",
    "backwards",
    "keyset_collect",
    "keyset_edge",
    "keyset_page",
    "keyset_slice",
    "keyset_slice_within",
    "list_scope",
]

Direction = Literal["after", "before"]
_SALT = "schemaadmin.paging.cursor"
# The URL parameters that do not change which rows a list holds or their order: left out of its scope.
SCOPE_FREE = frozenset({"after", "before", "size"})


class CursorError(ValueError):
    """A page link whose cursor is damaged, forged, or made for another listing."""


@dataclass(frozen=True, slots=True)
class KeysetOrder:
    """A total order over rows: key expressions (the last one unique) walked by one index.

    name is what a cursor is made for: unique among the listings, so one listing's page link is refused by another.
    kinds are the Python types of the keys' values, which a cursor's values must have: a signed cursor holding
    others would reach the database as a value its column cannot take.
    """

    name: str
    keys: tuple[tuple[str, Callable[[], Expression | F]], ...]  # (annotation alias, expression factory)
    descending: bool
    kinds: tuple[type, ...]

    def __post_init__(self) -> None:
        if len(self.kinds) != len(self.keys):
            raise ValueError(f"order {self.name!r}: {len(self.keys)} keys, {len(self.kinds)} kinds")

    def aliases(self) -> list[str]:
        return [alias for alias, _ in self.keys]

    def takes(self, values: tuple[Any, ...]) -> bool:
        """Return whether values are a key of this order: one value of each key's kind (a bool is no int)."""
        if len(values) != len(self.kinds):
            return False
        return all(isinstance(v, kind) and not isinstance(v, bool) for v, kind in zip(values, self.kinds, strict=True))


@dataclass(frozen=True, slots=True)
class Cursor:
    order: str
    values: tuple[Any, ...]
    direction: Direction
    # The 1-based place of the row the cursor sits on, counted from the first page (0: not known), so pages can
    # say "51–100" without counting anything.
    position: int = 0

    def encode(self, scope: str = "") -> str:
        """Return the cursor as an opaque, signed token for a URL of the list that scope names (list_scope)."""
        payload = {"o": self.order, "d": self.direction, "v": [_dump(v) for v in self.values], "n": self.position}
        if scope:
            payload["s"] = scope
        return signing.dumps(payload, salt=_SALT, compress=True)

    @classmethod
    def decode(cls, token: str, order: KeysetOrder, scope: str = "") -> Cursor:
        """Return the cursor in token, refusing one that was altered or made for another order.

        scope names the list the token is read for (list_scope). A token made for another list of the same order (its
        URL's filters edited by hand) still marks a place in the order, but not that place's number in this list: its
        position is dropped, so the page says which rows it shows without claiming where they stand.
        """
        try:
            payload = signing.loads(token, salt=_SALT)
            values = tuple(_load(v) for v in payload["v"])
            direction = payload["d"]
            made_for = payload["o"]
            position = int(payload.get("n", 0))
            made_in = str(payload.get("s", ""))
        except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
            raise CursorError("This page link is damaged or was not made by SchemaAdmin; start from page one.") from exc
        if made_for != order.name or direction not in ("after", "before") or not order.takes(values):
            raise CursorError("This page link belongs to a different list or sort order; start from page one.")
        position = max(position, 0) if made_in == scope else 0
        return cls(order=made_for, values=values, direction=direction, position=position)


def list_scope(request: HttpRequest) -> str:
    """Return a short digest naming the list a request shows: its path and its URL parameters, but those that only
    move within it (the cursor) or cut it into pages differently (the page size). Page links carry it in their
    cursor (the page_url tag puts it there), so a link edited to another list no longer claims its place there."""
    kept = sorted((key, value) for key, values in request.GET.lists() if key not in SCOPE_FREE for value in values)
    return hashlib.sha256(repr((request.path, kept)).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a keyset list; next and previous are where its links lead (the page_url tag makes the links)."""

    rows: list[Any]
    next: Cursor | None
    previous: Cursor | None
    first: int = 1  # the 1-based place of the first row (0: not known)

    @property
    def is_first(self) -> bool:
        return self.previous is None

    @property
    def last(self) -> int:
        """Return the 1-based place of the last row (0: not known)."""
        return self.first + len(self.rows) - 1 if self.first else 0


def keyset_page(
    queryset: QuerySet[Any],
    order: KeysetOrder,
    *,
    cursor: Cursor | None,
    size: int,
    read_to: tuple[Any, ...] | None = None,
) -> Page:
    """Return one page of queryset in order, starting after (or ending before) the cursor.

    read_to: the key of the last row (in order) of what queryset was cut from, when it stops short of the order's
    end, as a bounded walk does. Its rows are all there are up to that key, so a page forward that is not full still
    has a next page, starting after that key.
    """
    walked_back = backwards(cursor)
    rows = list(keyset_slice(queryset, order, cursor=cursor, size=size))
    more = len(rows) > size
    rows = rows[:size]
    if walked_back:
        rows.reverse()
    read_on = read_to if read_to is not None and not walked_back and not more else None
    if not rows:
        place = cursor.position if cursor is not None else 0
        onwards = None if read_on is None else Cursor(order.name, tuple(read_on), "after", place)
        return Page(rows=[], next=onwards, previous=None)
    has_next = (more or read_on is not None) if not walked_back else True
    has_previous = (cursor is not None) if not walked_back else more
    first = _first_place(cursor, len(rows), has_previous)
    last = first + len(rows) - 1 if first else 0
    if read_on is not None:
        next_cursor: Cursor | None = Cursor(order.name, tuple(read_on), "after", last)
    else:
        next_cursor = _cursor_at(rows[-1], order, "after", last) if has_next else None
    return Page(
        rows=rows,
        next=next_cursor,
        previous=_cursor_at(rows[0], order, "before", first) if has_previous else None,
        first=first,
    )


def keyset_slice(queryset: QuerySet[Any], order: KeysetOrder, *, cursor: Cursor | None, size: int) -> QuerySet[Any]:
    """Return, unread, the rows keyset_page reads for a page: size + 1 from the cursor in the order walked (from a
    "before" cursor, backwards: keyset_page flips them)."""
    queryset = queryset.annotate(**{alias: make() for alias, make in order.keys})
    # Walking backwards reads the same index the other way, then the page is flipped into order.
    descending = order.descending != backwards(cursor)
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


def keyset_slice_within(
    queryset: QuerySet[Any], window: QuerySet[Any], order: KeysetOrder, *, cursor: Cursor | None, size: int, rows: int
) -> list[Any]:
    """Return the primary keys of the rows keyset_slice(queryset) reads, found among the first rows rows of window (a
    query of the same table) that a walk from the cursor reads: one statement (pg.keysets.read_within), which stops
    once it has them."""
    walked = keyset_slice(window, order, cursor=cursor, size=rows - 1)
    slice_keys = keyset_slice(queryset, order, cursor=cursor, size=size).values_list("pk")
    return [pk for (pk,) in read_within(slice_keys, walked)]


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
    than cap, those keys are keyset_slice's (one statement: pg.keysets.collected_page)."""
    count, keys = collected_page(
        queryset.annotate(**{alias: make() for alias, make in order.keys}),
        order.aliases(),
        descending=order.descending != backwards(cursor),
        after=None if cursor is None else cursor.values,
        size=size + 1,
        cap=cap,
    )
    return Collected(count=count, keys=keys)


def backwards(cursor: Cursor | None) -> bool:
    """Return whether a page from this cursor walks the order backwards (a "before" cursor: a previous page)."""
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


def _cursor_at(row: Any, order: KeysetOrder, direction: Direction, position: int) -> Cursor:
    return Cursor(order.name, tuple(getattr(row, a) for a in order.aliases()), direction, position)


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
