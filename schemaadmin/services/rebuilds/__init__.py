"""Index rebuilds: plan and estimate, start in the worker locked per index, watch, cancel, retry, recover.

plan.py checks a request and estimates it, run.py is the job's body, control.py is what the pages and the
command call.
"""

from __future__ import annotations

from schemaadmin.services.rebuilds.control import (
    BuildProgress,
    active_rebuild,
    awaits_recall_check,
    build_progress,
    build_session_gone,
    cancel_rebuild,
    refuse_start,
    retry_rebuild,
    start_rebuild,
)
from schemaadmin.services.rebuilds.estimate import RebuildEstimate
from schemaadmin.services.rebuilds.plan import (
    NameNotTyped,
    RebuildAlreadyActive,
    RebuildPlan,
    RebuildRefused,
    ReviewOutdated,
    plan_rebuild,
    rebuildable_index,
    suggested_indexes,
)
from schemaadmin.services.rebuilds.run import run_rebuild

__all__ = [
    "BuildProgress",
    "NameNotTyped",
    "RebuildAlreadyActive",
    "RebuildEstimate",
    "RebuildPlan",
    "RebuildRefused",
    "ReviewOutdated",
    "active_rebuild",
    "awaits_recall_check",
    "build_progress",
    "build_session_gone",
    "cancel_rebuild",
    "plan_rebuild",
    "rebuildable_index",
    "refuse_start",
    "retry_rebuild",
    "run_rebuild",
    "start_rebuild",
    "suggested_indexes",
]
