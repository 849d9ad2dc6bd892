"""Benchmark the schema page with many pending migrations: a generated app of N migrations on a scratch server.

    .venv/bin/python bench/schema_migrations.py [--migrations 100 400] [--repeat 3]

Writes a throwaway app (every tenth migration a new model, the others add a column, an index, drop a column or
add a RunSQL comment, as a busy project's history does) into a temporary directory, installs it beside the
project's own apps, starts its own embedded server (the dev database in .pgdata is never touched), migrates
the project but leaves the generated app's migrations pending, and measures per size: GET /schema/ (every
pending migration's SQL and lint) on a first view, which writes the SQL, and on later ones, which read it back;
the last migration's own page; the apply confirmation of them all (SQL, lint, what the drops will archive);
`schema_report --format json` (median wall time, test client, no network), with the load average. Linting a
migration must not replay the whole history again for each one: the growth from the smaller to the larger size
is printed beside the ratio of sizes (linear work grows by that ratio; work that replays the history per
migration by its square).
Not part of `make test`.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
APP = "bench_history"

SETTINGS = f"""
from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "{APP}"]  # noqa: F405
"""

INITIAL = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Ledger0",
            fields=[("id", models.BigAutoField(primary_key=True)), ("name", models.CharField(max_length=100))],
        ),
    ]
"""


def _operation(number: int) -> str:
    """Return one migration's operation: every tenth a new model, then columns, an index, a drop, a comment."""
    model, step = f"ledger{number // 10}", number % 10
    if step == 0:
        fields = '[("id", models.BigAutoField(primary_key=True)), ("name", models.CharField(max_length=100))]'
        return f'migrations.CreateModel(name="{model}", fields={fields})'
    if step in (1, 4, 7):
        return f'migrations.AddField("{model}", "c{step}", models.IntegerField(null=True))'
    if step in (2, 5):
        return f'migrations.AddField("{model}", "c{step}", models.CharField(max_length=40, blank=True, default=""))'
    if step in (3, 6):
        return f'migrations.AddIndex("{model}", models.Index(fields=["c{step - 2}"], name="bench_h_{number}"))'
    if step == 8:
        return f'migrations.RemoveField("{model}", "c7")'
    return f"migrations.RunSQL(\"COMMENT ON TABLE {APP}_{model} IS 'step {number}'\", migrations.RunSQL.noop)"


def _write_app(root: Path, count: int) -> None:
    package = root / APP
    migrations_dir = package / "migrations"
    if package.exists():
        shutil.rmtree(package)
    migrations_dir.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text("")
    (migrations_dir / "__init__.py").write_text("")
    (migrations_dir / "0001_initial.py").write_text(INITIAL)
    previous = "0001_initial"
    for number in range(2, count + 1):
        name = f"{number:04d}_step"
        (migrations_dir / f"{name}.py").write_text(
            "from django.db import migrations, models\n\n\n"
            "class Migration(migrations.Migration):\n"
            f'    dependencies = [("{APP}", "{previous}")]\n'
            f"    operations = [{_operation(number)}]\n"
        )
        previous = name


def _median_ms(action: Callable[[], object], repeat: int) -> float:
    action()  # warm: connections, templates, squawk's cache
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _ok(client: Any, url: str) -> object:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return response


def _first_view(client: Any, url: str) -> object:
    """GET url with no migration's SQL kept in this process, as the first view after a start or a change."""
    from schemaadmin.services.schema.sql import forget_written_sql

    forget_written_sql()
    return _ok(client, url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--migrations", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    if any(count < 2 for count in options.migrations):
        parser.error("--migrations: at least 2 (the first creates the table)")

    scratch = Path(tempfile.mkdtemp(prefix="schemaadmin-bench-"))
    (scratch / "bench_history_settings.py").write_text(SETTINGS)
    sys.path.insert(0, str(scratch))
    os.environ["SCHEMAADMIN_PGDATA"] = str(scratch / "pgdata")
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["SCHEMAADMIN_SSL_REDIRECT"] = "0"  # the test client speaks plain http
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_history_settings"
    _write_app(scratch, 2)
    try:
        import django

        django.setup()
        return _run(scratch, sorted(set(options.migrations)), options.repeat)
    finally:
        from schemaadmin.embedded import stop_server

        stop_server(scratch / "pgdata")
        shutil.rmtree(scratch, ignore_errors=True)


def _run(scratch: Path, sizes: list[int], repeat: int) -> int:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    call_command("migrate", APP, "zero", verbosity=0)
    user = User.objects.create_superuser("bench", "bench@example.test", "bench-password-123")
    client = Client()
    client.force_login(user)
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    def report() -> object:
        out = io.StringIO()
        call_command("schema_report", "--format", "json", "--fail-on", "never", stdout=out)
        return out

    results: dict[int, dict[str, float]] = {}
    loads: dict[int, str] = {}
    with override_settings(STORAGES=storages):
        for size in sizes:
            _write_app(scratch, size)
            last = f"{size:04d}_step"
            measured = {
                f"GET /schema/, first view ({size} pending)": partial(_first_view, client, "/schema/"),
                f"GET /schema/ ({size} pending)": partial(_ok, client, "/schema/"),
                "GET the last migration's page": partial(_ok, client, f"/schema/migrations/{APP}/{last}/"),
                "GET /schema/apply/ (confirm all)": partial(_ok, client, "/schema/apply/"),
                "schema_report --format json": report,
            }
            before = os.getloadavg()[0]
            results[size] = {name.split(" (")[0]: _median_ms(action, repeat) for name, action in measured.items()}
            loads[size] = f"{before:.1f} → {os.getloadavg()[0]:.1f}"

    names = list(results[sizes[0]])
    width = max(map(len, names))
    print(f"\n{'median ms':{width}}" + "".join(f"{f'{size} pending':>16}" for size in sizes), end="")
    growth = len(sizes) > 1
    if growth:
        print(f"{'growth':>10}{'(sizes ' + format(sizes[-1] / sizes[0], '.1f') + '×)':>14}")
    else:
        print()
    for name in names:
        cells = "".join(f"{results[size][name]:>16.0f}" for size in sizes)
        ratio = f"{results[sizes[-1]][name] / results[sizes[0]][name]:>9.1f}×" if growth else ""
        print(f"{name:{width}}{cells}{ratio}")
    print(f"{'load average (1 min)':{width}}" + "".join(f"{loads[size]:>16}" for size in sizes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
