"""Partial index predicates read with PostgreSQL's own parser (pglast), never with a regex."""

from __future__ import annotations

from functools import lru_cache

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream

__all__ = ["conjuncts", "not_null_column", "predicate_text"]


@lru_cache(maxsize=4096)
def conjuncts(predicate: str) -> tuple[ast.Node, ...] | None:
    """Return the AND-ed parts of a predicate as pg_get_expr() writes it, or None if it does not parse."""
    try:
        statement = parse_sql(f"SELECT 1 WHERE {predicate}")[0].stmt
    except ParseError:
        return None
    if not isinstance(statement, ast.SelectStmt) or statement.whereClause is None:
        return None  # the predicate closed the WHERE and began another statement, or said nothing
    where = statement.whereClause
    if isinstance(where, ast.BoolExpr) and where.boolop == enums.BoolExprType.AND_EXPR and where.args:
        return tuple(where.args)
    return (where,)


def not_null_column(part: ast.Node) -> str | None:
    """Return the column a `column IS NOT NULL` test names, or None for any other condition."""
    if not isinstance(part, ast.NullTest) or part.nulltesttype != enums.NullTestType.IS_NOT_NULL:
        return None
    column = part.arg
    names = column.fields if isinstance(column, ast.ColumnRef) else None
    if not names or len(names) != 1 or not isinstance(names[0], ast.String):
        return None
    return names[0].sval


def predicate_text(parts: list[ast.Node]) -> str | None:
    """Return the AND of the predicate parts as SQL, or None when there are none."""
    if not parts:
        return None
    if len(parts) == 1:
        return RawStream()(parts[0])
    return " AND ".join(f"({RawStream()(part)})" for part in parts)
