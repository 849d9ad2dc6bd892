"""The production shape: docker-compose.yml runs what we mean, and the web command serves under gunicorn."""

from __future__ import annotations

import json
import os
import re
import runpy
import secrets
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote
from urllib.request import HTTPRedirectHandler, Request, build_opener

import pytest
import yaml
from django.conf import settings

from schemaadmin.conf import app_settings

BASE_DIR = Path(settings.BASE_DIR)


def _command(service: dict[str, Any]) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_compose_names_the_three_services(compose):
    assert set(compose["services"]) == {"db", "web", "worker"}


def test_db_is_pgvector_on_postgresql_18_with_a_named_volume(compose):
    db = compose["services"]["db"]
    assert db["image"] == "pgvector/pgvector:pg18"
    # pg18 images keep data in /var/lib/postgresql/18/docker: the volume goes on the parent.
    volume, _, target = db["volumes"][0].partition(":")
    assert target == "/var/lib/postgresql"
    assert volume in compose["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_web_migrates_then_serves_with_gunicorn(compose):
    web = compose["services"]["web"]
    command = _command(web)
    assert command.index("manage.py migrate --noinput") < command.index("gunicorn -c config/gunicorn.conf.py")
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    assert web["depends_on"]["db"]["condition"] == "service_healthy"


def test_gunicorn_serves_on_port_8000_and_waits_as_long_as_the_settings_allow():
    conf = runpy.run_path(str(BASE_DIR / "config" / "gunicorn.conf.py"))
    assert conf["bind"] == "0.0.0.0:8000" and conf["workers"] == 3 and conf["wsgi_app"] == "config.wsgi:application"
    # A request the settings allow (the console's longest run included) is never cut by gunicorn.
    assert conf["timeout"] == settings.SCHEMAADMIN_REQUEST_TIMEOUT_SECONDS
    assert app_settings()["EXPLAIN_MAX_TIMEOUT_MS"] / 1000 < conf["timeout"]
    assert "gunicorn -c config/gunicorn.conf.py" in (BASE_DIR / "Dockerfile").read_text()


def test_web_reads_its_secrets_and_database_from_the_environment(compose):
    env = compose["services"]["web"]["environment"]
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")
    assert "@db:5432/" in env["DATABASE_URL"]
    # The app and the console log in as roles of their own; neither is the superuser the db container makes.
    db_env = compose["services"]["db"]["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://schemaadmin:") and db_env["POSTGRES_USER"] == "postgres"
    assert env["SCHEMAADMIN_EXPLAIN_DATABASE_URL"].startswith("postgresql://schemaadmin_explain:")
    assert any(
        v.endswith("docker-entrypoint-initdb.d/10-schemaadmin.sh:ro") for v in compose["services"]["db"]["volumes"]
    )
    assert "DJANGO_ALLOWED_HOSTS" in env
    assert "DJANGO_DEBUG" not in env


def test_worker_runs_procrastinate_from_the_web_image(compose):
    web, worker = compose["services"]["web"], compose["services"]["worker"]
    assert "manage.py procrastinate worker" in _command(worker)
    assert worker["image"] == web["image"]
    assert worker["environment"]["DATABASE_URL"] == web["environment"]["DATABASE_URL"]
    # The worker needs procrastinate's tables, which web's migrate creates.
    assert worker["depends_on"]["web"]["condition"] == "service_healthy"


def test_dockerfile_builds_front_end_and_static_files():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert "npm ci" in dockerfile
    assert "manage.py collectstatic --noinput" in dockerfile
    ignored = (BASE_DIR / ".dockerignore").read_text().split()
    for path in (".venv", "node_modules", ".pgdata", ".secret_key", "staticfiles", ".git"):
        assert path in ignored


def test_the_wheel_declares_every_data_file_the_package_reads():
    # The image installs the package (`pip install .`); setuptools packs only .py files unless told otherwise.
    declared = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["tool"]["setuptools"].get("package-data", {})
    for package in ("schemaadmin", "config"):
        root = BASE_DIR / package
        data = [
            path.relative_to(root).as_posix()
            for path in root.rglob("*")
            if path.is_file() and path.suffix not in (".py", ".pyc")
        ]
        missing = [name for name in data if not any(fnmatch(name, glob) for glob in declared.get(package, []))]
        assert not missing, f"{package}: add to [tool.setuptools.package-data]: {missing}"


# The web command, run locally: collectstatic, migrate, gunicorn, against the test database.


def _database_url() -> str:
    db = settings.DATABASES["default"]
    host = db["HOST"] or ""
    # A unix-socket directory goes in the host part percent-encoded (dj-database-url reads it back).
    netloc = quote(host, safe="") if host.startswith("/") else host
    if db.get("PORT"):
        netloc += f":{db['PORT']}"
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgresql://{auth}@{netloc}/{quote(db['NAME'], safe='')}"


def _production_env(static_root: Path | None = None) -> dict[str, str]:
    # Without PYTEST_VERSION the settings take the production paths (manifest static storage, DATABASE_URL).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DATABASE_URL=_database_url(),
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
    )
    if static_root is not None:
        env["DJANGO_STATIC_ROOT"] = str(static_root)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = build_opener(_NoRedirect)


def _get(url: str, *, timeout: float = 30, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """Return status, headers and body of a GET, without following redirects."""
    try:
        with _opener.open(Request(url, headers=headers), timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory) -> Path:
    """Collect static files as the image build does; return where. Not into the project's staticfiles/: every
    process of the test run reads that folder as it starts (WhiteNoise), and one rewriting it fails them."""
    static_root = tmp_path_factory.mktemp("staticfiles")
    _manage(_production_env(static_root), "collectstatic", "--noinput")
    return static_root


@dataclass(frozen=True, slots=True)
class Gunicorn:
    url: str
    log_path: Path

    def log(self) -> str:
        """Return the end of gunicorn's output, for failure messages."""
        return self.log_path.read_text(errors="replace")[-4000:]


# How long gunicorn may take to answer its first request.
STARTUP_SECONDS = 300


@pytest.fixture
def gunicorn(collected_static, transactional_db, tmp_path) -> Iterator[Gunicorn]:
    """Run the web command (migrate, then gunicorn) on the test database; yield the running server."""
    env = _production_env(collected_static)
    # gunicorn's control socket goes to $XDG_RUNTIME_DIR (else ~/.gunicorn): one per test, not one shared.
    env["XDG_RUNTIME_DIR"] = str(tmp_path)
    port = _free_port()
    # Behind a TLS proxy, as in production: requests that say X-Forwarded-Proto https count as secure.
    env.update(GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1", SCHEMAADMIN_BEHIND_PROXY="1")
    _manage(env, "migrate", "--noinput")
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Gunicorn(url=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        # The socket listens before the worker has imported Django, which on a busy machine takes many seconds: a
        # request may be refused, reset, or accepted and left unanswered until its own timeout (a bare TimeoutError,
        # not a URLError). Every such OSError means "not yet"; a short timeout per request asks again, and the
        # deadline is only there to end a server that never comes up.
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, f"gunicorn exited:\n{server.log()}"
            try:
                _get(f"{server.url}/healthz", timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, f"gunicorn did not answer in {STARTUP_SECONDS} s:\n{server.log()}"
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _via_proxy(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """Return _get(url) as the TLS proxy in front forwards it."""
    return _get(url, **{"X-Forwarded-Proto": "https", **headers})


def test_web_command_serves_health_pages_and_static_files(gunicorn):
    # The container's healthcheck asks over plain http: the one path not sent to https.
    status, _, body = _get(f"{gunicorn.url}/healthz")
    assert status == 200, gunicorn.log()
    assert json.loads(body)["status"] == "ok"

    status, headers, _ = _get(f"{gunicorn.url}/accounts/login/")
    assert status == 301 and headers["Location"] == f"https://{gunicorn.url.removeprefix('http://')}/accounts/login/"

    status, headers, body = _via_proxy(f"{gunicorn.url}/accounts/login/")
    assert status == 200, gunicorn.log()
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert headers["Strict-Transport-Security"] == "max-age=31536000"  # a year, this host only

    # The manifest storage names each file by its content hash; read the names from the page.
    html = body.decode()
    ours = re.search(r'href="(/static/schemaadmin/schemaadmin\.[0-9a-f]{12}\.css)"', html)
    bootstrap = re.search(r'href="(/static/vendor/bootstrap/css/bootstrap\.min\.[0-9a-f]{12}\.css)"', html)
    htmx = re.search(r'src="(/static/vendor/htmx/htmx\.min\.[0-9a-f]{12}\.js)"', html)
    assert ours and bootstrap and htmx, html

    status, headers, _ = _via_proxy(gunicorn.url + ours[1])
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    # WhiteNoise's mark: a hashed name is cached for ever.
    assert "immutable" in headers["Cache-Control"]

    # WhiteNoise serves the variant compressed at build time.
    status, headers, _ = _via_proxy(gunicorn.url + bootstrap[1], **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers.get("Content-Encoding") == "gzip"

    status, headers, _ = _via_proxy(gunicorn.url + htmx[1])
    assert status == 200
    assert "javascript" in headers["Content-Type"]


def test_web_command_sends_anonymous_visitors_to_sign_in(gunicorn):
    status, headers, _ = _via_proxy(f"{gunicorn.url}/")
    assert status == 302, gunicorn.log()
    assert headers["Location"].startswith("/accounts/login/")


def _deploy_check(**env: str) -> str:
    """Return what `manage.py check --deploy` says in the production shape (with env on top)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=BASE_DIR,
        env={**_production_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert "System check identified" in output, output
    return output


@pytest.mark.django_db
def test_check_deploy_in_production_finds_hsts_and_the_https_redirect_set(compose):
    env = compose["services"]["web"]["environment"]
    for name in ("SCHEMAADMIN_SSL_REDIRECT", "SCHEMAADMIN_HSTS_SECONDS", "SCHEMAADMIN_HSTS_INCLUDE_SUBDOMAINS"):
        assert env[name] == f"${{{name}:-}}"  # passed through; unset, the settings' production defaults hold
    output = _deploy_check()
    assert "security.W004" not in output and "security.W008" not in output, output
    assert "security.W012" not in output and "security.W016" not in output, output  # Secure session and CSRF cookies
    # Each can be turned off, and the check then says so.
    off = _deploy_check(SCHEMAADMIN_HSTS_SECONDS="0", SCHEMAADMIN_SSL_REDIRECT="0")
    assert "security.W004" in off and "security.W008" in off, off


def test_the_container_healthcheck_is_exempt_from_the_https_redirect(compose, client, settings, db):
    settings.SECURE_SSL_REDIRECT = True  # as in production
    healthcheck = " ".join(compose["services"]["web"]["healthcheck"]["test"])
    url = re.search(r"http://127\.0\.0\.1:8000(/\w+)", healthcheck)
    assert url and url[1] == "/healthz", healthcheck
    assert client.get(url[1]).status_code == 200
    response = client.get("/accounts/login/")
    assert response.status_code == 301 and response["Location"] == "https://testserver/accounts/login/"


def test_db_preloads_pg_stat_statements_and_initdb_creates_the_extensions(compose):
    assert "shared_preload_libraries=pg_stat_statements" in _command(compose["services"]["db"])
    initdb = (BASE_DIR / "docker" / "initdb.sh").read_text()
    template1 = initdb.index("\\connect template1")
    assert template1 < initdb.index("CREATE EXTENSION IF NOT EXISTS vector;")
    assert template1 < initdb.index("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;")
    assert initdb.index("\\connect template1") < initdb.index(
        "CREATE DATABASE schemaadmin OWNER schemaadmin TEMPLATE template1"
    )


@pytest.mark.parametrize(("value", "seconds"), [("", 60), ("0", 0), (" 300 ", 300)])
def test_how_long_a_connection_outlives_its_request_is_a_setting(monkeypatch, value, seconds):
    from schemaadmin.embedded import conn_max_age

    monkeypatch.setenv("SCHEMAADMIN_CONN_MAX_AGE", value)
    assert conn_max_age() == seconds


@pytest.mark.parametrize("value", ["soon", "-1", "1.5"])
def test_a_connection_age_that_is_no_number_of_seconds_is_refused_at_start(monkeypatch, value):
    from django.core.exceptions import ImproperlyConfigured

    from schemaadmin.embedded import conn_max_age

    monkeypatch.setenv("SCHEMAADMIN_CONN_MAX_AGE", value)
    with pytest.raises(ImproperlyConfigured, match="SCHEMAADMIN_CONN_MAX_AGE"):
        conn_max_age()
