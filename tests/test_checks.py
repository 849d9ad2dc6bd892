"""System checks say what the database lacks, in a sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from schemaadmin.checks import (
    RETENTION_SETTINGS,
    TIMEOUT_SETTINGS,
    check_databases,
    check_retention,
    check_timeouts,
    database_problems,
)
from schemaadmin.pg.server import ExtensionState, ServerInfo

PROJECT = Path(__file__).resolve().parent.parent


def _server(version_num: int) -> ServerInfo:
    major, minor = divmod(version_num, 10000)
    return ServerInfo(version_num, f"{major}.{minor}", "app", 0, False)


def _vector(installed: str | None, *available: str) -> ExtensionState:
    return ExtensionState("vector", installed, tuple(available))


def test_a_supported_server_has_no_problems():
    assert database_problems("default", _server(180004), _vector("0.8.5", "0.8.5")) == []
    # Available but not yet created is fine: our first migration creates it.
    assert database_problems("default", _server(150010), _vector(None, "0.7.0")) == []


def test_a_server_older_than_15_is_reported_with_what_to_do():
    problems = database_problems("default", _server(140011), _vector("0.8.0", "0.8.0"))
    assert [p.id for p in problems] == ["schemaadmin.E002"]
    assert "needs PostgreSQL 15 or newer" in problems[0].msg


def test_missing_pgvector_says_what_to_install():
    problems = database_problems("default", _server(160004), _vector(None))
    assert [p.id for p in problems] == ["schemaadmin.E003"]
    assert "pgvector extension is not installed" in problems[0].msg
    assert "postgresql-16-pgvector" in problems[0].hint


def test_old_pgvector_installed_or_offered_is_reported():
    installed = database_problems("default", _server(160004), _vector("0.6.2", "0.6.2"))
    assert [p.id for p in installed] == ["schemaadmin.E004"]
    assert "ALTER EXTENSION vector UPDATE" in installed[0].hint
    offered = database_problems("default", _server(160004), _vector(None, "0.5.1", "0.6.0"))
    assert [p.id for p in offered] == ["schemaadmin.E004"]


@pytest.mark.django_db
def test_the_real_test_server_passes_the_check():
    assert check_databases(databases=["default"]) == []
    call_command("check", "--database", "default")


def test_unreachable_database_url_gives_a_sentence_not_a_traceback():
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    env.update(DATABASE_URL="postgres://nobody@127.0.0.1:1/nothing", DJANGO_SECRET_KEY="x" * 50)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--database", "default"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "schemaadmin.E001" in result.stderr
    assert "Cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_query_statistics_off_says_which_cause_what_to_run_and_the_restart():
    from schemaadmin.checks import query_stats_problems
    from schemaadmin.pg.stats import StatementsState
    from schemaadmin.services.workload.availability import availability_of

    not_preloaded = StatementsState(
        available=True, installed_version="1.12", preloaded=False, read_error="", reads_all=True, preload_setting=""
    )
    (warning,) = query_stats_problems("default", availability_of("default", not_preloaded))
    assert warning.id == "schemaadmin.W013"
    assert "installed in database 'default' but not in shared_preload_libraries" in warning.msg
    assert "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';" in warning.hint
    assert "restart PostgreSQL" in warning.hint
    readable = StatementsState(
        available=True, installed_version="1.12", preloaded=True, read_error="", reads_all=True, preload_setting=""
    )
    assert query_stats_problems("default", availability_of("default", readable)) == []


# (the settings, their check, its id, values it refuses, values it takes)
SETTING_CHECKS = [
    (TIMEOUT_SETTINGS, check_timeouts, "schemaadmin.E005", [-1, 2.5, "15s", True], [0, 15_000]),
    (RETENTION_SETTINGS, check_retention, "schemaadmin.E006", [0, -5, 7.5, "90 days", False], [None, 1, 365]),
]


@pytest.mark.parametrize(("names", "check", "id", "refused", "taken"), SETTING_CHECKS)
def test_a_setting_the_server_or_the_worker_would_refuse_is_named_at_start_up(
    settings, names, check, id, refused, taken
):
    for name in names:
        for value in refused:
            settings.SCHEMAADMIN = {name: value}
            (problem,) = check()
            assert problem.id == id and name in problem.msg and repr(value) in problem.msg
    for value in taken:
        settings.SCHEMAADMIN = dict.fromkeys(names, value)
        assert check() == []
    settings.SCHEMAADMIN = {}
    assert check() == []


def test_pgvector_on_the_server_that_our_role_may_not_create_is_a_warning_naming_who_must():
    """check passed, and migrate then ended in a traceback: "permission denied to create extension vector". A warning:
    a managed service's admin role is no superuser, yet may be allowed to create it."""
    (problem,) = database_problems("default", _server(160004), ExtensionState("vector", None, ("0.8.5",), False))
    assert problem.id == "schemaadmin.W015" and problem.level < 40 and "CREATE EXTENSION vector" in problem.hint
    assert "template1" in problem.hint
    assert database_problems("default", _server(160004), ExtensionState("vector", None, ("0.8.5",), True)) == []


@pytest.mark.django_db
def test_the_application_role_may_not_create_pgvector_itself():
    """pgvector is not trusted and the application's role is no superuser: an administrator creates it."""
    from schemaadmin.pg.server import extension_state

    assert extension_state("vector").creatable is False
