"""SchemaAdmin's lock-risk rules about indexes a migration adds (lint_rules.py's checker inherits them): an index
pgvector refuses for its column's dimensions, and a wide non-unique btree."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.indexes import OpClass
from django.db.migrations.state import ModelState
from django.db.models import F, Index
from django.db.models.expressions import OrderBy
from django.db.models.functions import Cast

from schemaadmin.services.findings import Finding, Severity
from schemaadmin.services.schema.lint_help import ANN_HELP, WIDE_INDEX_HELP
from schemaadmin.services.schema.lint_sql_rules import SqlRules

__all__ = ["ANN_DIMENSION_LIMITS", "IndexRules", "LintedModel"]

# The most dimensions pgvector's HNSW and IVFFlat indexes accept, per stored type.
ANN_DIMENSION_LIMITS = {"vector": 2_000, "halfvec": 4_000, "bit": 64_000}
_VECTOR_TYPE = re.compile(r"^(vector|halfvec|bit|sparsevec)\((\d+)\)$")


@dataclass(frozen=True, slots=True)
class LintedModel:
    """A model as a migration's state has it: its table and its unrendered state (the rules read its fields)."""

    table: str
    state: ModelState

    def field(self, name: str) -> Any:
        """Return a copy of the model's field, named, so its column is known without rendering the model."""
        field = self.state.get_field(name).clone()
        field.set_attributes_from_name(name)
        return field


class IndexRules(SqlRules):
    """The rules about an index a migration adds, on unrendered model states."""

    def wide_index(self, index: Index, table: str, line: int | None) -> Iterator[Finding]:
        width = len(index.fields) + len(index.expressions)
        if width > 3 and getattr(index, "suffix", "idx") in ("idx", "btree"):
            message = f"The non-unique index {index.name} on {table} has {width} columns."
            yield self.finding("index_many_columns", Severity.INFO, str(index.name), message, WIDE_INDEX_HELP, line)

    def ann_dimensions(self, index: Index, model: LintedModel, line: int | None) -> Iterator[Finding]:
        method = getattr(index, "suffix", "")
        if method not in ("hnsw", "ivfflat"):
            return
        indexed = [model.field(name.lstrip("-")) for name in index.fields]
        indexed += [_indexed_expression(expression, model) for expression in index.expressions]
        for field in indexed:
            parsed = self.vector_type(field)
            limit = ANN_DIMENSION_LIMITS.get(parsed[0]) if parsed else None
            if parsed and limit and parsed[1] > limit:
                stored = f"{parsed[0]}({parsed[1]})"
                message = (
                    f"The {method.upper()} index {index.name} on {model.table} indexes {stored}: pgvector "
                    f"refuses {parsed[0]} above {limit:,} dimensions, so the migration fails when applied."
                )
                yield self.finding(
                    "ann_index_too_many_dimensions", Severity.CRITICAL, str(index.name), message, ANN_HELP, line
                )

    def vector_type(self, field: Any) -> tuple[str, int] | None:
        """Return ("vector", 1536) for a pgvector column type, None for anything else."""
        if field is None or field.is_relation:
            return None
        match = _VECTOR_TYPE.match(field.db_type(self.connection) or "")
        return (match.group(1), int(match.group(2))) if match else None


def _indexed_expression(expression: Any, model: LintedModel) -> Any:
    """Return the field an index expression stores (a Cast's type, or the column's), or None when unknown."""
    while True:
        if isinstance(expression, OrderBy):
            expression = expression.expression
        elif isinstance(expression, OpClass):
            expression = expression.get_source_expressions()[0]
        elif isinstance(expression, Cast):
            return expression.output_field
        elif isinstance(expression, F):
            return model.field(getattr(expression, "name", ""))
        else:
            return None
