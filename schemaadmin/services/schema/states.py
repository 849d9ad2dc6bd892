"""Project states at the start of many migrations, each built from its parent's end state instead of from nothing.

`loader.project_state(node, at_end=False)` replays every ancestor of a migration from an empty state, and
writing its SQL then renders every model again. Linting N pending migrations that way replays the history N times
(`bench/schema_migrations.py`, 400 pending migrations of one app: 9.1 s for the schema page, growing with the
square of N). Walked in plan order, a migration's parent has just been linted: its end state is kept (one per
app), and the next migration starts from a copy of it, adding only the ancestors that state lacks.

The ancestors are replayed in the order Django replays them (the graph's depth-first forwards plan), because the
order can change the state: two branches of a merge that alter one field leave the one replayed last. A kept
state is reused only when its plan is the start of the migration's plan, which holds for the largest parent
(the depth-first search explores it first); any other migration is built from nothing, as Django builds it.

Two states are kept, because they serve two readers:
- the plain state (unrendered models), exactly `project_state(node, at_end=False)`, for our rules, which read
  model states without rendering them;
- the rendered state the migration's SQL was written from (as `migrate` carries one state through its plan),
  so writing the next migration's SQL re-renders only the models that changed. It is kept only when every
  operation was written as SQL: `Migration.apply(collect_sql=True)` skips the state changes of the others
  (RunPython), and a migration whose SQL could not be written leaves it half changed. Re-rendering a model
  re-renders every model related to it: in histories of richly related models (wagtail, django-oscar) that
  costs about what rendering from nothing does.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.state import ProjectState

__all__ = ["MigrationStates", "StartState"]

Node = tuple[str, str]


@dataclass(slots=True)
class StartState:
    """The state before one migration: plain for reading, and a copy to write its SQL from (the writer changes it)."""

    plan: tuple[Node, ...]  # the migration's forwards plan, itself last: the order its ancestors were replayed in
    plain: ProjectState
    rendered: ProjectState | None  # the parent's rendered end state, when it had one to hand over

    @property
    def for_sql(self) -> ProjectState:
        if self.rendered is None:
            self.rendered = self.plain.clone()
        return self.rendered


@dataclass(slots=True)
class _Ended:
    plan: tuple[Node, ...]  # the nodes applied in the states below, in this order, the migration's own last
    plain: ProjectState
    rendered: ProjectState | None  # None once a child took it over (a second child renders its own)

    @property
    def node(self) -> Node:
        return self.plan[-1]


class MigrationStates:
    """The start states of migrations of one loader's graph, fastest when asked in plan order."""

    def __init__(self, loader: MigrationLoader):
        self._loader = loader
        self._graph = loader.graph
        self._ended: dict[str, _Ended] = {}  # per app label, the last migration whose end state is kept

    def start(self, migration: Migration) -> StartState | None:
        """Return the project state before the migration, as `loader.project_state(node, at_end=False)` is.

        None when an ancestor cannot be replayed (an operation on a model no migration created, say): the caller
        falls back on Django's own replay, which raises or reports why as `sqlmigrate` does.
        """
        try:
            return self._start(migration)
        except Exception:
            return None

    def _start(self, migration: Migration) -> StartState:
        node = (migration.app_label, migration.name)
        parents = sorted(parent.key for parent in self._graph.node_map[node].parents)
        # The graph's depth-first plan explores the largest parent first: only its end state is a prefix of this
        # migration's plan. Replaying the other branches in another order can change the state (two branches of a
        # merge altering one field: the last one replayed wins), so any other kept state is of no use here.
        first = parents[-1] if parents else None
        base = self._ended.get(first[0]) if first is not None else None
        if base is not None and base.node != first:
            base = None
        if base is not None and len(parents) == 1:
            plan = (*base.plan, node)  # a single parent's plan, then this migration
        else:
            plan = tuple(self._graph.forwards_plan(node))
            if base is not None and plan[: len(base.plan)] != base.plan:
                base = None
        missing = plan[len(base.plan) : -1] if base is not None else plan[:-1]
        if base is None:
            plain = ProjectState(real_apps=self._loader.unmigrated_apps)
            rendered = None
        else:
            # Nothing changes a plain state once kept (the end state is a copy), so it is shared unless ancestors
            # are missing; the rendered one is changed by writing the SQL, so this migration takes it over.
            plain = base.plain.clone() if missing else base.plain
            # Replaying ancestors on a rendered state re-renders each changed model and those related to it: for
            # another app's branch that costs more than rendering once from the plain state, which SQL then does.
            rendered = base.rendered if not missing else None
            base.rendered = None
        for ancestor in missing:
            plain = self._graph.nodes[ancestor].mutate_state(plain, preserve=False)
        return StartState(plan, plain, rendered)

    def ended(self, migration: Migration, start: StartState, *, sql_written: bool) -> None:
        """Keep the migration's end state for its children (start.for_sql is its end state once SQL was written)."""
        try:
            plain = migration.mutate_state(start.plain)
        except Exception:  # its operations cannot be replayed (its SQL says why): its children build their own
            self._ended.pop(migration.app_label, None)
            return
        complete = sql_written and all(operation.reduces_to_sql for operation in migration.operations)
        self._ended[migration.app_label] = _Ended(start.plan, plain, start.for_sql if complete else None)
