"""Measure an ANN index's recall@k and latency against exact search, here and now (not through the worker)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from schemaadmin.management.locks import lock_waits_limited
from schemaadmin.management.options import add_report_options
from schemaadmin.pg.connection import UnknownDatabase
from schemaadmin.services.recall import RecallRefused, RecallResult, measure_recall


def result_as_text(result: RecallResult) -> str:
    """Return the result for a terminal: a summary, the ladder as a table, and the recommendation."""
    short = result.setting_short
    lines = [
        f"Recall@{result.k} of {result.index} ({result.method}) over {result.samples_used} sampled vectors",
        f"  at {result.setting} = {result.current_value} (now): recall {result.recall:.3f}, "
        f"mean {result.ann_mean_ms:.2f} ms, p95 {result.ann_p95_ms:.2f} ms per query",
        f"  exact search (no index): mean {result.exact_mean_ms:.2f} ms, p95 {result.exact_p95_ms:.2f} ms per query",
    ]
    if result.plan_note:
        lines.append(f"  NOTE: {result.plan_note}")
    lines += ["", f"{short:>10}  {'recall':>7}  {'mean ms':>8}  {'p95 ms':>8}"]
    for step in result.ladder:
        mark = "  <- recommended" if step.value == result.recommended else ""
        lines.append(f"{step.value:>10}  {step.recall:>7.3f}  {step.mean_ms:>8.2f}  {step.p95_ms:>8.2f}{mark}")
    lines += ["", result.recommendation]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Measure an HNSW or IVFFlat index's recall@k against exact search, and the ef_search/probes to use."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("index", help="The index as SCHEMA.NAME, e.g. public.knowledge_chunk_embedding_hnsw.")
        parser.add_argument("--k", type=int, default=10, help="Neighbours per query (default 10).")
        parser.add_argument(
            "--samples", type=int, default=100, help="Query vectors sampled from the table (default 100)."
        )
        parser.add_argument(
            "--target", type=float, default=None, help="Recall to reach (default: the RECALL_TARGET setting, 0.95)."
        )
        add_report_options(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with lock_waits_limited(options["database"]):
                result = measure_recall(
                    options["index"],
                    k=options["k"],
                    samples=options["samples"],
                    target=options["target"],
                    using=options["database"],
                )
        except (RecallRefused, UnknownDatabase) as exc:
            raise CommandError(str(exc)) from exc
        if options["format"] == "json":
            self.stdout.write(json.dumps(result.to_json()))
        else:
            self.stdout.write(result_as_text(result))
