"""How much a query gives the planner to plan: its parse tree with every CTE the planner copies written in at each use.

The planner copies a CTE's query into every place that names it, before planning: one marked NOT MATERIALIZED, and
one without a mark that is used once. Five levels of ten uses each (1,490 characters) are 100,000 copies: the
planner's memory grew 110 MB a second to 6.7 GB and it did not stop for the statement_timeout. A CTE marked
MATERIALIZED is planned once, and so is counted once. One without a mark is counted at each use (PostgreSQL
materializes it when it is used more than once: counted as copied, a big one used many times is refused, and
MATERIALIZED is the way out the sentence names).

Names are resolved as PostgreSQL resolves them: an inner WITH hides an outer CTE of the same name, a CTE sees the
ones before it in its WITH (all of them in a WITH RECURSIVE, itself too: a use inside its own copy adds nothing, as
a recursive CTE is never copied). Each use walks the copy again, so the count stops at the limit, never walking
more than that many nodes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from pglast import ast, enums

from schemaadmin.services.explain.statement import walk_nodes

__all__ = ["MAX_PLANNED_NODES", "inlined_size", "plan_size_refusal"]

# Parse-tree nodes a query may hand the planner once its CTEs are written in. The console's 20,000 characters
# make at most ~15,000 nodes as written; 116,000 (four levels of ten uses) took two seconds to plan.
MAX_PLANNED_NODES = 50_000


def plan_size_refusal(stmt: ast.Node) -> str | None:
    """Return why the statement is refused for the size of what the planner would expand it to, or None."""
    if not any(isinstance(node, ast.WithClause) for node in walk_nodes(stmt)):
        return None  # nothing is copied: the console's 20,000 characters are far fewer nodes than the limit
    if inlined_size(stmt, limit=MAX_PLANNED_NODES) <= MAX_PLANNED_NODES:
        return None
    return (
        f"The query's WITH queries are copied into every place that uses them: over {MAX_PLANNED_NODES:,} parse "
        "nodes to plan, which holds the server's memory while it plans. Use each fewer times, or mark the big ones "
        "MATERIALIZED (planned once)."
    )


class _Over(Exception):
    """The count passed its limit: the walk stops there."""


@dataclass
class _Scope:
    """The CTEs a part of the query can name: this WITH's visible ones, then the enclosing scope's."""

    ctes: Mapping[str, ast.CommonTableExpr]
    parent: _Scope | None
    # The scope each CTE's body is read in (its own WITH's earlier CTEs, or all of a RECURSIVE one's).
    bodies: dict[str, _Scope] = field(default_factory=dict)

    def find(self, name: str) -> tuple[ast.CommonTableExpr, _Scope] | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.ctes:
                return scope.ctes[name], scope.bodies[name]
            scope = scope.parent
        return None


def inlined_size(stmt: ast.Node, *, limit: int) -> int:
    """Return the statement's node count with each CTE the planner copies counted again at each use; past limit,
    a number over it (the walk stops there)."""
    counter = _Counter(limit)
    try:
        counter.walk(stmt, _Scope({}, None), frozenset())
    except _Over:
        return limit + 1
    return counter.nodes


class _Counter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.nodes = 0

    def walk(self, root: object, scope: _Scope, copying: frozenset[int]) -> None:
        """Count root's nodes; a use of a copied CTE walks its body again (copying: the CTEs being copied now)."""
        for node, node_scope in self._nodes(root, scope):
            self.nodes += 1
            if self.nodes > self.limit:
                raise _Over
            if isinstance(node, ast.RangeVar) and node.relname and not node.schemaname:
                found = node_scope.find(node.relname)
                if found is not None:
                    cte, body_scope = found
                    if _copied(cte) and id(cte) not in copying:  # a recursive use of itself is not copied
                        self.walk(cte.ctequery, body_scope, copying | {id(cte)})

    def _nodes(self, root: object, scope: _Scope) -> Iterator[tuple[ast.Node, _Scope]]:
        """Yield each node under root with the scope its names resolve in; a WITH opens a scope for its statement."""
        stack: list[tuple[object, _Scope]] = [(root, scope)]
        while stack:
            item, item_scope = stack.pop()
            if isinstance(item, (list, tuple)):
                stack.extend((child, item_scope) for child in reversed(item))
                continue
            if not isinstance(item, ast.Node):
                continue
            yield item, item_scope
            with_clause = getattr(item, "withClause", None)
            inner = _with_scope(with_clause, item_scope) if isinstance(with_clause, ast.WithClause) else item_scope
            for slot in _reversed_slots(type(item)):
                child = getattr(item, slot, None)
                if slot == "withClause" and isinstance(child, ast.WithClause):
                    # The definitions, once each, in the scope each is read in.
                    for name, cte in reversed(_named(child)):
                        stack.append((cte, inner.bodies[name]))
                    continue
                if isinstance(child, (ast.Node, list, tuple)):
                    stack.append((child, inner))


_SLOTS: dict[type, tuple[str, ...]] = {}


def _reversed_slots(node_type: type) -> tuple[str, ...]:
    """Return a node type's fields, last first (a stack walks them first to last), read once per type."""
    slots = _SLOTS.get(node_type)
    if slots is None:
        slots = _SLOTS[node_type] = tuple(reversed(getattr(node_type, "__slots__", ())))
    return slots


def _with_scope(with_clause: ast.WithClause, outer: _Scope) -> _Scope:
    """Return the scope of the statement a WITH belongs to; each CTE's body scope in its .bodies."""
    named = _named(with_clause)
    scope = _Scope(dict(named), outer)
    if with_clause.recursive:
        for name, _ in named:  # every CTE of a WITH RECURSIVE sees all of them, itself too
            scope.bodies[name] = scope
    else:
        for index, (name, _) in enumerate(named):  # each sees the ones before it, then the enclosing scope
            earlier = _Scope(dict(named[:index]), outer)
            earlier.bodies.update({before: scope.bodies[before] for before, _ in named[:index]})
            scope.bodies[name] = earlier
    return scope


def _named(with_clause: ast.WithClause) -> list[tuple[str, ast.CommonTableExpr]]:
    return [
        (cte.ctename, cte)
        for cte in with_clause.ctes or ()
        if isinstance(cte, ast.CommonTableExpr) and isinstance(cte.ctename, str)
    ]


def _copied(cte: ast.CommonTableExpr) -> bool:
    return cte.ctematerialized != enums.CTEMaterialize.CTEMaterializeAlways
