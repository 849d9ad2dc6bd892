"""Set up and serve SchemaAdmin, then run the web server and a worker: on the embedded server, migrate and seed the
demo the first time; on DATABASE_URL's, apply nothing (pending migrations are said, to review on the Schema page)."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.management.commands.runserver import naiveip_re
from django.db import connections

from schemaadmin.embedded import other_holders, stop_server
from schemaadmin.models import AuditEvent
from schemaadmin.services.schema.migrations import pending_migrations

STOP_GRACE_SECONDS = 10.0


class Command(BaseCommand):
    help = "Migrate, seed demo data on first run (embedded database only), then serve the dashboard and a worker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="Where the web server listens.")
        parser.add_argument("--no-seed", action="store_true", help="Do not load demo data.")

    def handle(self, *args: Any, **options: Any) -> None:
        # Before anything starts: a wrong or taken address used to be found by runserver after the database was
        # set up, and the run then stopped the embedded server that another dashboard was using.
        check_address(options["addrport"])
        if settings.EMBEDDED_DATABASE:
            call_command("migrate", interactive=False, verbosity=0)
            if not options["no_seed"]:
                call_command("seed_demo", if_empty=True)
            call_command("create_demo_accounts")
        else:
            self._leave_migrations_to_review()
        if not settings.DEBUG and not getattr(settings, "WHITENOISE_USE_FINDERS", False):
            # Served from STATIC_ROOT by hashed names: without this every page was a 500 (no manifest entry).
            call_command("collectstatic", interactive=False, verbosity=0)
        connections.close_all()

        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        children = {
            # runserver answers each request in a thread of its own: a connection kept after the request would
            # stay open until that thread's objects are collected, one per request (embedded.conn_max_age).
            "web": subprocess.Popen(
                [*manage, "runserver", options["addrport"]], env={**os.environ, "SCHEMAADMIN_CONN_MAX_AGE": "0"}
            ),
            "worker": subprocess.Popen([*manage, "procrastinate", "worker"]),
        }
        self.stdout.write(self.style.SUCCESS(f"SchemaAdmin is at http://{options['addrport']}/  (Ctrl-C stops it)"))
        # Ctrl-C reaches the whole process group: the children stop themselves, we stop what is left.
        signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            while all(child.poll() is None for child in children.values()):
                time.sleep(0.5)
            ended = next(name for name, child in children.items() if child.poll() is not None)
            self.stderr.write(f"The {ended} process stopped (exit code {children[ended].returncode}); stopping.")
        except KeyboardInterrupt:
            self.stdout.write("Stopping…")
        finally:
            _stop_children(list(children.values()))
            self._stop_embedded_server({os.getpid(), *(child.pid for child in children.values())})
        if any(child.returncode not in (0, -signal.SIGINT, -signal.SIGTERM) for child in children.values()):
            sys.exit(1)

    def _stop_embedded_server(self, ours: set[int]) -> None:
        """Stop the embedded server unless a process besides this run and its children still uses it (another
        dashboard, a shell, a test run on the same data directory)."""
        data_dir = settings.EMBEDDED_PGDATA
        if data_dir is None:
            return
        others = other_holders(data_dir, exclude=ours)
        if others:
            users = f"{len(others)} other process{'es use' if len(others) != 1 else ' uses'} it"
            self.stdout.write(f"Embedded PostgreSQL left running: {users} (pid {', '.join(map(str, others))}).")
        elif stop_server(data_dir):
            self.stdout.write("Embedded PostgreSQL stopped.")

    def _leave_migrations_to_review(self) -> None:
        """On DATABASE_URL's database, apply nothing: say what is pending and where it is reviewed (lint, SQL, drift)
        and applied. A database without SchemaAdmin's own tables cannot be served: say to migrate it first."""
        connection = connections["default"]
        # One of SchemaAdmin's own tables: auth's come first, and a migrate stopped at SchemaAdmin's 0001 (pgvector
        # refused) leaves them without it.
        if AuditEvent._meta.db_table not in connection.introspection.table_names():
            raise CommandError(
                f"{connection.settings_dict['NAME']} has no SchemaAdmin tables yet: review the migrations "
                "(`manage.py sqlmigrate`, `manage.py schema_report`), run `manage.py migrate`, then start again."
            )
        pending = pending_migrations()
        if pending:
            names = ", ".join(f"{migration.app_label}.{migration.name}" for migration in pending)
            self.stderr.write(
                self.style.WARNING(
                    f"{len(pending)} migration{'s are' if len(pending) != 1 else ' is'} not applied to "
                    f"{connection.settings_dict['NAME']} ({names}). Nothing is applied here: review and apply "
                    "them on the Schema page (lint, SQL, drift; a worker applies them), or run `manage.py migrate`."
                )
            )


def check_address(addrport: str) -> None:
    """Refuse, with a sentence, an address runserver would refuse or cannot listen on (taken, not this machine's)."""
    match = naiveip_re.match(addrport)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise CommandError(f"{addrport!r} is not a port (1 to 65535) or an address:port pair, e.g. 127.0.0.1:8000.")
    host = (match["addr"] or "127.0.0.1").strip("[]")
    family = socket.AF_INET6 if match["ipv6"] else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as runserver binds: a closed port is free
            probe.bind((host, int(match["port"])))
    except OSError as exc:
        reason = "it is in use (another dashboard?)" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise CommandError(f"Cannot listen on {addrport}: {reason}. Choose another with --addrport.") from None


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    """Ask each child to stop, give them a grace period, then kill what is left."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
