"""Read an EXPLAIN (FORMAT JSON) plan and say what a DBA looks at first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "ComparedFigure",
    "NodeTime",
    "PlanSummary",
    "RowMiss",
    "ShapeLine",
    "plan_comparison",
    "plan_shape",
    "plan_summary",
    "plan_text",
    "planner_choice",
    "same_query",
]


@dataclass(frozen=True, slots=True)
class NodeTime:
    label: str
    exclusive_ms: float
    share: float  # of the execution time


@dataclass(frozen=True, slots=True)
class RowMiss:
    label: str
    estimated: float
    actual: float
    factor: float


@dataclass(slots=True)
class PlanSummary:
    analyzed: bool
    total_cost: float
    planning_ms: float | None = None
    execution_ms: float | None = None
    slowest: list[NodeTime] = field(default_factory=list)
    row_misses: list[RowMiss] = field(default_factory=list)
    seq_scans: list[str] = field(default_factory=list)
    disk_spills: list[str] = field(default_factory=list)
    buffer_hit_ratio: float | None = None
    vector_order: str | None = None  # None when the query has no vector ORDER BY
    vector_index_used: bool | None = None
    vector_index: str | None = None  # the HNSW/IVFFlat index that served the ORDER BY
    node_count: int = 0  # every node of the plan, InitPlans and SubPlans included: what a diagram of it draws

    @property
    def all_clear(self) -> bool:
        """Return whether nothing below deserves a look: then, and only then, the page says so in green."""
        return not (self.row_misses or self.seq_scans or self.disk_spills) and self.vector_index_used is not False

    def as_dict(self) -> dict[str, Any]:
        """Return every field, the slowest nodes and row misses as dicts too (the command's JSON)."""
        return asdict(self)


def _walk(node: dict[str, Any]) -> Iterator[tuple[dict[str, Any], int]]:
    """Yield each node of the plan with its depth, parents first, on a stack: plans can nest thousands deep."""
    stack = [(node, 0)]
    while stack:
        current, depth = stack.pop()
        yield current, depth
        stack.extend((child, depth + 1) for child in reversed(current.get("Plans", ())))


def _walk_with_limits(node: dict[str, Any]) -> Iterator[tuple[dict[str, Any], bool]]:
    """Yield each node with whether a Limit above it may have stopped it early."""
    stack = [(node, False)]
    while stack:
        current, below_limit = stack.pop()
        yield current, below_limit
        below = below_limit or current.get("Node Type") == "Limit"
        stack.extend((child, below) for child in reversed(current.get("Plans", ())))


def _label(node: dict[str, Any]) -> str:
    label = node.get("Node Type", "?")
    if node.get("Index Name"):
        label += f" using {node['Index Name']}"
    if node.get("Relation Name"):
        label += f" on {node.get('Schema', '') + '.' if node.get('Schema') else ''}{node['Relation Name']}"
    return label


def _inclusive_ms(node: dict[str, Any]) -> float:
    return float(node.get("Actual Total Time", 0.0)) * float(node.get("Actual Loops", 1) or 1)


def _exclusive_ms(node: dict[str, Any]) -> float:
    children = sum(_inclusive_ms(c) for c in node.get("Plans", ()) if c.get("Parent Relationship") != "InitPlan")
    return max(0.0, _inclusive_ms(node) - children)


_VECTOR_OPERATORS = ("<=>", "<->", "<#>", "<+>")


def _vector_order(root: dict[str, Any]) -> tuple[str | None, bool | None, str | None]:
    """Return (a sentence on the vector ORDER BY, whether an HNSW/IVFFlat index served it, that index)."""
    for node, _ in _walk(root):
        order_by = node.get("Order By") or ""
        if any(op in order_by for op in _VECTOR_OPERATORS) and node.get("Node Type", "").startswith("Index"):
            return f"Served by the vector index {node.get('Index Name')} ({order_by}).", True, node.get("Index Name")
    for node, _ in _walk(root):
        keys = " ".join(node.get("Sort Key", []) or [])
        if any(op in keys for op in _VECTOR_OPERATORS):
            if "halfvec" not in keys:
                why = (
                    "the ORDER BY compares the vector column itself; the index is built on "
                    "(embedding::halfvec(3072)), so order by the same cast"
                )
            else:
                rows = sum(float(n.get("Plan Rows", 0)) for n, _ in _walk(node) if n.get("Node Type") == "Seq Scan")
                why = (
                    f"the planner chose to read every row ({rows:,.0f} estimated) and sort them, judging that "
                    "cheaper than the index at this size (pgvector's index cost is high on small tables), or no "
                    "index matches this operator and cast (check the operator class, e.g. halfvec_cosine_ops for "
                    "<=>). Explain it again with “Compare with enable_seqscan = off” to see the index's plan and "
                    "cost beside this one"
                )
            return f"The vector ORDER BY was sorted, not read from an HNSW/IVFFlat index: {why}.", False, None
    return None, None, None


def planner_choice(chosen: PlanSummary, forced: PlanSummary) -> str:
    """Return one sentence on a plan against the same statement's plan with enable_seqscan = off."""
    if chosen.vector_index_used or forced.vector_index_used is None:
        return ""
    if not forced.vector_index_used:
        return (
            "Even with enable_seqscan = off no vector index serves this ORDER BY: no index matches its operator "
            "and cast. Create one, or order by the expression the index is built on."
        )
    sentence = (
        f"With enable_seqscan = off the planner uses {forced.vector_index}, at an estimated cost of "
        f"{forced.total_cost:,.0f} against {chosen.total_cost:,.0f} for reading every row: it picks the lower "
        "estimate, so on this table the sequential scan is its choice, not a missing index."
    )
    if chosen.execution_ms is not None and forced.execution_ms is not None:
        sentence += f" Measured: {forced.execution_ms:,.1f} ms with the index, {chosen.execution_ms:,.1f} ms without."
    return sentence


def plan_summary(
    document: Any, *, large_table_rows: int = 10_000, miss_factor: float = 10.0, top: int = 5
) -> PlanSummary:
    """Return the summary of one EXPLAIN (FORMAT JSON) document."""
    entry = document[0] if isinstance(document, list) else document
    root = entry["Plan"]
    nodes = list(_walk(root))
    analyzed = "Actual Total Time" in root
    summary = PlanSummary(
        analyzed=analyzed,
        total_cost=float(root.get("Total Cost", 0.0)),
        planning_ms=entry.get("Planning Time"),
        execution_ms=entry.get("Execution Time"),
        node_count=len(nodes),
    )
    execution = summary.execution_ms or sum(_exclusive_ms(n) for n, _ in nodes) or 1.0
    if analyzed:
        timed = sorted(((_exclusive_ms(n), _label(n)) for n, _ in nodes), reverse=True)[:top]
        summary.slowest = [NodeTime(label, round(ms, 3), round(ms / execution, 3)) for ms, label in timed]
        for node, stopped_early in _walk_with_limits(root):
            if node.get("Actual Loops", 1) == 0:
                continue
            estimated = float(node.get("Plan Rows", 0)) or 1.0
            actual = float(node.get("Actual Rows", 0)) or 1.0
            # Below a Limit, fewer rows than estimated is the point: execution stopped once it had enough.
            factor = actual / estimated if stopped_early else max(estimated / actual, actual / estimated)
            if factor >= miss_factor:
                summary.row_misses.append(
                    RowMiss(_label(node), float(node.get("Plan Rows", 0)), float(node.get("Actual Rows", 0)), factor)
                )
    for node, _ in nodes:
        if node.get("Node Type") == "Seq Scan":
            rows = float(node.get("Actual Rows", node.get("Plan Rows", 0))) * float(node.get("Actual Loops", 1) or 1)
            removed = float(node.get("Rows Removed by Filter", 0))
            if max(rows + removed, float(node.get("Plan Rows", 0))) >= large_table_rows:
                summary.seq_scans.append(f"{_label(node)} ({int(rows + removed):,} rows read)")
        if node.get("Sort Space Type") == "Disk" or "external" in str(node.get("Sort Method", "")):
            summary.disk_spills.append(f"{_label(node)}: {node.get('Sort Method')} {node.get('Sort Space Used')} kB")
        if node.get("Node Type") == "Hash" and int(node.get("Hash Batches", 1) or 1) > 1:
            summary.disk_spills.append(f"Hash: {node['Hash Batches']} batches (work_mem too small)")
        if int(node.get("Temp Written Blocks", 0) or 0) and node.get("Node Type") not in ("Sort", "Hash"):
            summary.disk_spills.append(f"{_label(node)}: {node['Temp Written Blocks']} temp blocks written")
    hit = root.get("Shared Hit Blocks")
    read = root.get("Shared Read Blocks")
    if hit is not None and read is not None and hit + read:
        summary.buffer_hit_ratio = round(hit / (hit + read), 4)
    summary.vector_order, summary.vector_index_used, summary.vector_index = _vector_order(root)
    return summary


def plan_text(document: Any) -> str:
    """Return the plan as indented lines, like FORMAT TEXT (for the command line)."""
    entry = document[0] if isinstance(document, list) else document
    lines = []
    for node, depth in _walk(entry["Plan"]):
        cost = f"cost={node.get('Startup Cost')}..{node.get('Total Cost')} rows={node.get('Plan Rows')}"
        line = f"{_label(node)}  ({cost})"
        if "Actual Total Time" in node:
            line += (
                f" (actual time={node.get('Actual Startup Time')}..{node['Actual Total Time']} "
                f"rows={node.get('Actual Rows')} loops={node.get('Actual Loops')})"
            )
        lines.append(("  " * depth + "->  " if depth else "") + line)
        for key in ("Index Cond", "Filter", "Order By", "Sort Key", "Recheck Cond"):
            if node.get(key):
                value = node[key] if isinstance(node[key], str) else ", ".join(node[key])
                lines.append("  " * (depth + 2) + f"{key}: {value}")
    for key in ("Planning Time", "Execution Time"):
        if key in entry:
            lines.append(f"{key}: {entry[key]:.3f} ms")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class ComparedFigure:
    name: str
    before: float | None
    after: float | None

    @property
    def change(self) -> float | None:
        """Return after/before - 1 (e.g. -0.8 for 80 % less), None when either side is missing or zero."""
        if self.before in (None, 0) or self.after is None:
            return None
        return self.after / self.before - 1


@dataclass(frozen=True, slots=True)
class ShapeLine:
    before: str
    after: str

    @property
    def differs(self) -> bool:
        return self.before != self.after


def plan_shape(document: Any) -> list[str]:
    """Return the plan's nodes as indented labels, the shape two plans are compared by."""
    entry = document[0] if isinstance(document, list) else document
    return ["  " * depth + _label(node) for node, depth in _walk(entry["Plan"])]


def _buffers(document: Any) -> float | None:
    root = (document[0] if isinstance(document, list) else document)["Plan"]
    if "Shared Hit Blocks" not in root:
        return None
    return float(root.get("Shared Hit Blocks", 0) + root.get("Shared Read Blocks", 0))


def plan_comparison(before: Any, after: Any) -> tuple[list[ComparedFigure], list[ShapeLine]]:
    """Return the figures (times, cost, buffers) of two plans side by side, and their shapes line by line."""
    a, b = plan_summary(before), plan_summary(after)
    figures = [
        ComparedFigure("Execution time (ms)", a.execution_ms, b.execution_ms),
        ComparedFigure("Planning time (ms)", a.planning_ms, b.planning_ms),
        ComparedFigure("Total cost", a.total_cost, b.total_cost),
        ComparedFigure("Shared buffers (hit + read)", _buffers(before), _buffers(after)),
    ]
    left, right = plan_shape(before), plan_shape(after)
    size = max(len(left), len(right))
    left += [""] * (size - len(left))
    right += [""] * (size - len(right))
    return figures, [ShapeLine(x, y) for x, y in zip(left, right, strict=True)]


def same_query(a: str, b: str) -> bool:
    """Return whether two query texts are the same query: equal once whitespace runs and a final ; are ignored."""

    def normal(text: str) -> str:
        return " ".join(text.split()).rstrip(";").rstrip()

    return normal(a) == normal(b)
