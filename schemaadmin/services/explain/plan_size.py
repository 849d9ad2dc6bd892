"""How much a query gives the planner to plan: its parse tree with every NOT MATERIALIZED CTE written in at each use.

The planner copies such a CTE's query into every place that names it, before planning. Five levels of ten uses
each (1,490 characters) are 100,000 copies: the planner's memory grew 110 MB a second to 6.7 GB and it did not
stop for the statement_timeout. A CTE PostgreSQL materializes (MATERIALIZED, or one named more than once without
NOT MATERIALIZED) is planned once, and so is counted once.
"""

from __future__ import annotations

from pglast import ast, enums

from schemaadmin.services.explain.statement import walk_nodes

__all__ = ["MAX_PLANNED_NODES", "inlined_size", "plan_size_refusal"]

# Parse-tree nodes a query may hand the planner once its CTEs are written in. The console's 20,000 characters
# make at most ~15,000 nodes as written; 116,000 (four levels of ten uses) took two seconds to plan.
MAX_PLANNED_NODES = 50_000


def plan_size_refusal(stmt: ast.Node) -> str | None:
    """Return why the statement is refused for the size of what the planner would expand it to, or None."""
    size = inlined_size(stmt, limit=MAX_PLANNED_NODES)
    if size <= MAX_PLANNED_NODES:
        return None
    return (
        f"The query's NOT MATERIALIZED WITH queries are copied into every place that uses them: over "
        f"{MAX_PLANNED_NODES:,} parse nodes to plan, which holds the server's memory while it plans. Use each "
        "fewer times, or let PostgreSQL materialize it (drop NOT MATERIALIZED)."
    )


def inlined_size(stmt: ast.Node, *, limit: int) -> int:
    """Return the statement's node count with each NOT MATERIALIZED CTE counted again at each use (stops past
    limit). A name is taken as the CTE of that name wherever it is used: nested WITHs reusing a name count the
    larger."""
    inlined: dict[str, ast.CommonTableExpr] = {}
    for node in walk_nodes(stmt):
        if isinstance(node, ast.CommonTableExpr) and node.ctename and _never_materialized(node):
            known = inlined.get(node.ctename)
            inlined[node.ctename] = node if known is None or _count(node) > _count(known) else known
    if not inlined:
        return 0
    sizes: dict[str, int] = {}

    def size(root: ast.Node | None, using: frozenset[str]) -> int:
        total = 0
        for node in walk_nodes(root):
            total += 1
            name = node.relname if isinstance(node, ast.RangeVar) and not node.schemaname else None
            if name in inlined and name not in using:  # a recursive CTE's use of itself is planned once
                if name not in sizes:
                    sizes[name] = size(inlined[name].ctequery, using | {name})
                total += sizes[name]
            if total > limit:
                return total
        return total

    return size(stmt, frozenset())


def _never_materialized(cte: ast.CommonTableExpr) -> bool:
    return cte.ctematerialized == enums.CTEMaterialize.CTEMaterializeNever


def _count(root: ast.Node) -> int:
    return sum(1 for _ in walk_nodes(root))
