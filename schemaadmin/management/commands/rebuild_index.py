"""Queue a rebuild of one index in the worker, as the rebuilds page does; --wait follows it to the end."""

from __future__ import annotations

import argparse
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from schemaadmin.audit import command_line_user
from schemaadmin.management.locks import lock_waits_limited
from schemaadmin.management.options import add_database_option
from schemaadmin.models import IndexRebuild, JobState
from schemaadmin.pg.connection import UnknownDatabase
from schemaadmin.services.rebuilds import RebuildRefused, build_progress, plan_rebuild, start_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild SCHEMA.INDEX in the procrastinate worker: REINDEX CONCURRENTLY, or with new parameters "
        "(--m, --ef-construction, --lists, --method hnsw) a new index built concurrently and swapped in. "
        "Exits 2 when the rebuild is refused, 1 when it fails with --wait."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("index", help="the index, as schema.name")
        parser.add_argument("--m", type=int, help="HNSW: neighbours per element")
        parser.add_argument("--ef-construction", type=int, help="HNSW: candidate list size while building")
        parser.add_argument("--lists", type=int, help="IVFFlat: number of lists")
        parser.add_argument("--method", help="the new access method (hnsw turns an IVFFlat index into HNSW)")
        add_database_option(parser, help="Database alias of the index (default: default).")
        parser.add_argument("--wait", action="store_true", help="print progress until the rebuild ends")
        parser.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)

    def handle(self, *args: object, **options: object) -> None:
        # Checked before anything is queued: a refusal after it would leave a rebuild running unasked.
        if options["method"] is not None and not str(options["method"]).strip():
            raise CommandError(
                "--method names the new access method (hnsw, or ivfflat); leave it out to keep the index's own.",
                returncode=2,
            )
        if not 0 < float(options["interval"]) <= 3600:  # type: ignore[arg-type]
            raise CommandError("--interval is a number of seconds above 0, at most 3600.", returncode=2)
        replace = any(options[key] is not None for key in ("m", "ef_construction", "lists", "method"))
        try:
            with lock_waits_limited(str(options["database"])):
                plan = plan_rebuild(
                    str(options["index"]),
                    kind=IndexRebuild.Kind.REPLACE if replace else IndexRebuild.Kind.REINDEX,
                    method=options["method"],  # type: ignore[arg-type]
                    m=options["m"],  # type: ignore[arg-type]
                    ef_construction=options["ef_construction"],  # type: ignore[arg-type]
                    lists=options["lists"],  # type: ignore[arg-type]
                    using=str(options["database"]),
                )
                rebuild = start_rebuild(plan, user=None, as_username=command_line_user())
        except (RebuildRefused, UnknownDatabase) as exc:
            raise CommandError(str(exc), returncode=2) from None
        estimate = plan.estimate
        self.stdout.write(
            f"Queued rebuild {rebuild.pk} of {plan.qualified_name} ({plan.kind}, {plan.target_method}"
            + (f", {', '.join(f'{k}={v}' for k, v in plan.parameters.items())}" if plan.parameters else "")
            + f"); maintenance_work_mem {estimate.planned_maintenance_work_mem_bytes / 2**20:,.0f} MB."
        )
        if options["wait"]:
            self._follow(rebuild, float(options["interval"]))  # type: ignore[arg-type]

    def _follow(self, rebuild: IndexRebuild, interval: float) -> None:
        last = ""
        while True:
            rebuild.refresh_from_db()
            progress = build_progress(rebuild)
            if progress is not None and rebuild.is_active:
                percent = "" if progress.percent is None else f" {progress.percent:5.1f}%"
                eta = "" if progress.eta_seconds is None else f", about {progress.eta_seconds:.0f} s left"
                line = f"{progress.phase}{percent}{eta}"
                if line != last:
                    self.stdout.write(f"  {line}")
                    last = line
            if not rebuild.is_active:
                break
            time.sleep(interval)
        duration = f" in {rebuild.duration.total_seconds():.1f} s" if rebuild.duration else ""
        if rebuild.state != JobState.SUCCEEDED:
            raise CommandError(f"Rebuild {rebuild.pk} {rebuild.state}{duration}: {rebuild.error}", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"Rebuild {rebuild.pk} succeeded{duration}."))
