"""The schema the applied migrations build: replayed in a throwaway "shadow" database, introspected, dropped.

The shadow lives on the same server as the alias it stands for (so the same PostgreSQL version and extensions),
is created from template1 (with the extensions installed there), migrated by a child process to exactly the
migrations applied on the live database (pending ones stay out) and read there with the same catalog functions as
the live database (the child prints the snapshot as JSON), and always dropped.

Why a child process rather than a temporary alias in this process: data migrations often ignore
``schema_editor.connection.alias`` (ours, 0002_roles, uses ``ContentType.objects``), so replaying them here would
write into the live database; in the child, "default" *is* the shadow. The child also leaves this process's app
registry and caches alone and can be stopped at a timeout.

The schema read there is stored in a DriftCheck record under a fingerprint of the applied migrations and their
files: it changes only when they do, and every web process and worker reads the same stored replay.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from schemaadmin.conf import app_settings
from schemaadmin.pg.connection import validated_alias
from schemaadmin.pg.schema import (
    ColumnInfo,
    ConstraintInfo,
    ExtensionInfo,
    ForeignKeyInfo,
    SchemaIndex,
    SchemaSnapshot,
    TableInfo,
    schema_snapshot,
)
from schemaadmin.pg.schema_code import FunctionInfo, TriggerInfo, ViewInfo
from schemaadmin.pg.shadow import (
    create_database,
    create_schemas,
    databases_starting_with,
    drop_database,
    may_create_databases,
    reparsed_checks,
)
from schemaadmin.services.schema.model_tables import schemas_made_outside_migrations

__all__ = [
    "ShadowUnavailable",
    "applied_migrations",
    "build_shadow_snapshot",
    "latest_replay",
    "shadow_fingerprint",
    "shadow_snapshot",
]

if TYPE_CHECKING:
    from django.db.migrations import Migration

    from schemaadmin.models import DriftCheck

type MigrationKey = tuple[str, str]

SHADOW_PREFIX = "schemaadmin_shadow_"
# Bump when what a replay stores means something else (2: indexes carry their catalog parts for pg/ddl fixes; 3:
# checks read back as PostgreSQL writes them again, a squash's migrations replayed while on disk). A change of the
# stored fields changes the fingerprint by itself (_snapshot_fields): a column's collation read as None from an
# older replay was drift on every column that has one.
SNAPSHOT_FORMAT = 3


class ShadowUnavailable(RuntimeError):
    """The shadow database could not be created or migrated; the message says why."""


def applied_migrations(*, using: str = "default") -> frozenset[MigrationKey]:
    """Return the (app, name) of every migration applied on the alias's database (squashes included)."""
    loader = MigrationLoader(connections[validated_alias(using)], ignore_no_migrations=True)
    return frozenset(loader.applied_migrations)


def shadow_fingerprint(applied: frozenset[MigrationKey], schemas: Sequence[str]) -> str:
    """Hash the applied migrations, the files that define them, the schemas read and the stored snapshot's format.

    The shadow's cache key: a replay stored by a version of SchemaAdmin that read other fields is not reused.
    """
    loader = MigrationLoader(None, ignore_no_migrations=True)
    digest = hashlib.sha256(json.dumps([SNAPSHOT_FORMAT, _snapshot_fields(), sorted(applied), list(schemas)]).encode())
    for key in sorted(applied):
        migration = loader.disk_migrations.get(key)
        module = sys.modules.get(type(migration).__module__) if migration is not None else None
        path = getattr(module, "__file__", None)
        if path:
            stat = os.stat(path)
            digest.update(f"{key}:{stat.st_mtime_ns}:{stat.st_size}".encode())
    return digest.hexdigest()


def _snapshot_fields() -> list[list[str]]:
    """Return the field names of a stored snapshot and of each kind of row in it."""
    kinds = (
        SchemaSnapshot,
        TableInfo,
        ColumnInfo,
        SchemaIndex,
        ConstraintInfo,
        ForeignKeyInfo,
        ExtensionInfo,
        TriggerInfo,
        FunctionInfo,
        ViewInfo,
    )
    return [[field.name for field in dataclasses.fields(kind)] for kind in kinds]


def _database_url(settings_dict: dict[str, Any], name: str) -> str:
    """Return a DATABASE_URL for database name with the alias's host, port, user, password and options."""
    user = quote(str(settings_dict.get("USER") or ""), safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(str(settings_dict.get("HOST") or ""), safe="")  # a unix socket directory is percent-encoded
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    options = {k: v for k, v in (settings_dict.get("OPTIONS") or {}).items() if isinstance(v, str | int)}
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{credentials}{host}{port}/{quote(name, safe='')}{query}"


def _migrate_shadow(
    name: str, applied: frozenset[MigrationKey], schemas: Sequence[str], *, using: str
) -> SchemaSnapshot:
    """Run a child process that applies exactly the given migrations to the shadow database and reads its schema."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connections[using].settings_dict, name),
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE,
        # With DATABASE_URL set, settings insist on a key even where this process (embedded demo) made its own.
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
    }
    try:
        result = subprocess.run(
            [sys.executable, "-m", "schemaadmin.services.schema.shadow"],
            input=json.dumps(
                {
                    "applied": sorted(applied),
                    "schemas": list(schemas),
                    "made_outside": schemas_made_outside_migrations(using=using),
                }
            ),
            capture_output=True,
            text=True,
            env=env,
            cwd=Path(settings.BASE_DIR),
            timeout=app_settings()["DRIFT_SHADOW_TIMEOUT_SECONDS"],
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ShadowUnavailable(f"Replaying the migrations took longer than {exc.timeout:g} s.") from exc
    if result.returncode != 0:
        said = [line for line in result.stderr.splitlines() if line.startswith(REPLAY_FAILED)]
        failed = json.loads(said[-1].removeprefix(REPLAY_FAILED)) if said else {}
        refused = _EXTENSION_REFUSED.search(failed.get("error") or result.stderr)
        if refused:
            name = refused.group(1)
            raise ShadowUnavailable(
                f"The replay database is a copy of template1, which has no {name} extension, and SchemaAdmin's role "
                f"may not create it. An administrator runs CREATE EXTENSION {name}; in template1 (as in the "
                "database itself), then compare again."
            )
        if failed:
            where = f" at {failed['migration']}" if failed.get("migration") else ""
            raise ShadowUnavailable(
                f"Replaying the applied migrations in a new database failed{where}: {failed['error'].rstrip('.')}. "
                "That migration cannot be replayed as it is now (its file changed since it was applied, or it "
                "depends on something made by hand), so drift cannot be compared until it can."
            )
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise ShadowUnavailable(f"Replaying the applied migrations in a new database failed:\n{tail}")
    return snapshot_from_json(json.loads(result.stdout))


# The child's one line naming the migration whose replay failed, and the error (JSON after the marker).
REPLAY_FAILED = "schemaadmin-replay-failed: "

# What PostgreSQL says when a role may not create an extension (42501): the replay's usual failure on a managed
# service, whose template1 lacks what an administrator created in the database itself.
_EXTENSION_REFUSED = re.compile(r'permission denied to create extension "([^"]+)"')


def _drop_stale_shadows(*, using: str) -> None:
    """Drop shadow databases left by runs killed mid-way (a web worker's timeout), once surely abandoned."""
    cutoff = time.time() - 2 * app_settings()["DRIFT_SHADOW_TIMEOUT_SECONDS"]
    for name in databases_starting_with(SHADOW_PREFIX, using=using):
        created = name.removeprefix(SHADOW_PREFIX).split("_", 1)[0]
        if created.isdigit() and int(created) < cutoff:
            drop_database(name, using=using)


def build_shadow_snapshot(applied: frozenset[MigrationKey], schemas: Sequence[str], *, using: str) -> SchemaSnapshot:
    """Replay the applied migrations in a new shadow database, read its schema, and drop it (takes seconds)."""
    if not may_create_databases(using=using):
        raise ShadowUnavailable(
            f"The database role of {using!r} may not create databases (CREATEDB), and drift is found by replaying "
            "the applied migrations in a throwaway database. Grant CREATEDB to the role, or run the check "
            "(manage.py schema_report) with a role that has it."
        )
    _drop_stale_shadows(using=using)
    # The creation time in the name lets a later run drop a shadow whose process was killed before its cleanup.
    name = f"{SHADOW_PREFIX}{int(time.time())}_{uuid.uuid4().hex[:8]}"
    try:
        create_database(name, using=using)
    except Exception as exc:  # psycopg raises a dozen kinds here; each one means "no shadow"
        raise ShadowUnavailable(f"Could not create the shadow database: {exc}") from exc
    try:
        return _migrate_shadow(name, applied, schemas, using=using)
    finally:
        drop_database(name, using=using)


def latest_replay(fingerprint: str, *, using: str = "default") -> DriftCheck | None:
    """Return the newest finished replay of these migrations on this database, succeeded or failed."""
    # Imported here: this module is also the replaying child's entry point, which loads it before django.setup().
    from schemaadmin.models import DriftCheck, JobState

    return (
        DriftCheck.objects.filter(
            database_alias=using, fingerprint=fingerprint, state__in=(JobState.SUCCEEDED, JobState.FAILED)
        )
        .order_by("-id")
        .first()
    )


def shadow_snapshot(
    applied: frozenset[MigrationKey], *, schemas: Sequence[str], using: str = "default", refresh: bool = False
) -> tuple[SchemaSnapshot, bool]:
    """Return the schema the applied migrations build, and whether a stored replay served it (else: replay now)."""
    from schemaadmin.models import DriftCheck, JobState

    validated_alias(using)
    fingerprint = shadow_fingerprint(applied, schemas)
    if not refresh:
        stored = latest_replay(fingerprint, using=using)
        if stored is not None and stored.snapshot is not None:
            return snapshot_from_json(stored.snapshot), True
    started = timezone.now()
    snapshot = build_shadow_snapshot(applied, schemas, using=using)
    DriftCheck.objects.create(
        database_alias=using,
        state=JobState.SUCCEEDED,
        fingerprint=fingerprint,
        applied_count=len(applied),
        snapshot=snapshot_to_json(snapshot),
        started_at=started,
        finished_at=timezone.now(),
    )
    return snapshot, False


def snapshot_to_json(snapshot: SchemaSnapshot) -> dict[str, Any]:
    """Return the snapshot as JSON-ready data."""
    return dataclasses.asdict(snapshot)


def snapshot_from_json(data: dict[str, Any]) -> SchemaSnapshot:
    """Rebuild a snapshot from snapshot_to_json()'s data."""

    def rows[Row](row_class: type[Row], items: list[dict[str, Any]]) -> tuple[Row, ...]:
        return tuple(
            row_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in item.items()}) for item in items
        )

    return SchemaSnapshot(
        schemas=tuple(data["schemas"]),
        tables=rows(TableInfo, data["tables"]),
        columns=rows(ColumnInfo, data["columns"]),
        indexes=rows(SchemaIndex, data["indexes"]),
        constraints=rows(ConstraintInfo, data["constraints"]),
        foreign_keys=rows(ForeignKeyInfo, data["foreign_keys"]),
        extensions=rows(ExtensionInfo, data["extensions"]),
        triggers=rows(TriggerInfo, data.get("triggers", [])),
        functions=rows(FunctionInfo, data.get("functions", [])),
        views=rows(ViewInfo, data.get("views", [])),
        checks_reparsed=tuple(tuple(item) for item in data.get("checks_reparsed", ())),  # type: ignore[misc]
    )


def replay_plan(executor: MigrationExecutor, applied: Iterable[MigrationKey]) -> list[tuple[Migration, bool]]:
    """Give the executor the graph the live database sees; return the plan that replays `applied`, in order.

    A squash is resolved as on the live database, from what was applied there, not from the empty shadow (where
    it would always stand for its migrations): applied in part, the migrations it replaces that were applied are
    replayed; applied in full, the squash is, unless every migration it replaces is still on disk and recorded.
    Then those are: they are what a database older than the squash ran, and a database made by the squash has what
    they make (else the squash failed there); a squash Django cannot run (an operation put before what it needs)
    stopped the replay though the database never ran it.
    """
    wanted = set(applied)
    loader = MigrationLoader(executor.connection, replace_migrations=False)
    loader.applied_migrations = {key: m for key, m in loader.disk_migrations.items() if key in wanted}
    loader.replacements_progress = {}
    for key, squash in loader.replacements.items():
        if all(replaced in loader.disk_migrations and replaced in wanted for replaced in squash.replaces):
            loader.graph.remove_replacement_node(key, squash.replaces)
            wanted.discard(key)
        else:
            loader.replace_migration(key)  # Django's own rule, applied to the live database's migrations
    loader.graph.validate_consistency()
    loader.applied_migrations = {}  # the shadow starts empty
    executor.loader = loader
    full_plan = executor.migration_plan(loader.graph.leaf_nodes(), clean_start=True)
    return [(migration, False) for migration, _ in full_plan if (migration.app_label, migration.name) in wanted]


def _replay_and_read(applied: list[MigrationKey], schemas: list[str], made_outside: list[str]) -> SchemaSnapshot:
    """Apply exactly the listed migrations, in plan order, to the default database and read its schema (child),
    after making the schemas the live database had before its migrations ran (made_outside)."""
    create_schemas(made_outside, using="default")
    current: list[str] = []  # the migration being applied, named if it fails

    def progress(action: str, migration: Any = None, fake: bool | None = False, /) -> None:
        if action == "apply_start" and migration is not None:
            current[:] = [f"{migration.app_label}.{migration.name}"]

    executor = MigrationExecutor(connections["default"], progress_callback=progress)
    try:
        executor.migrate([], plan=replay_plan(executor, applied))
    except Exception as exc:
        # Said in one line the parent reads (REPLAY_FAILED): which migration, and the error without a traceback.
        said = " ".join(str(exc).split()) or type(exc).__name__
        print(
            REPLAY_FAILED
            + json.dumps({"migration": current[0] if current else "", "error": f"{type(exc).__name__}: {said}"[:1000]}),
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    snapshot = schema_snapshot(schemas=schemas, using="default", triggers=True, functions=True, views=True)
    return dataclasses.replace(snapshot, checks_reparsed=reparsed_checks(snapshot.constraints, using="default"))


if __name__ == "__main__":
    import django

    django.setup()
    request = json.load(sys.stdin)
    snapshot = _replay_and_read(
        [(app, name) for app, name in request["applied"]], request["schemas"], request.get("made_outside", [])
    )
    json.dump(snapshot_to_json(snapshot), sys.stdout)
