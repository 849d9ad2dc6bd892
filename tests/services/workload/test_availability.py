"""Which of the causes keeps query statistics away, in a sentence with the statements that fix it."""

from __future__ import annotations

import pytest

from schemaadmin.pg.stats import StatementsState, statements_state
from schemaadmin.services.workload.availability import availability, availability_of


def state(**changes) -> StatementsState:
    fields = {
        "available": True,
        "installed_version": "1.12",
        "preloaded": True,
        "read_error": "",
        "reads_all": True,
        "preload_setting": "auto_explain",
    }
    return StatementsState(**{**fields, **changes})


@pytest.mark.django_db
def test_the_embedded_server_has_them_readable_by_the_app_role():
    assert statements_state().readable
    assert availability().ok and availability().reason is None


def test_installed_but_not_preloaded_says_so_keeps_other_libraries_and_needs_a_restart():
    verdict = availability_of("default", state(preloaded=False))
    assert verdict.state == "not_preloaded" and verdict.restart
    assert "installed in database 'default' but not in shared_preload_libraries" in verdict.reason
    assert "restart" in verdict.reason
    assert verdict.statements == ("ALTER SYSTEM SET shared_preload_libraries = 'auto_explain, pg_stat_statements';",)


def test_preloaded_but_not_installed_needs_only_create_extension():
    verdict = availability_of("default", state(installed_version=None))
    assert verdict.state == "not_installed" and not verdict.restart
    assert verdict.statements == ("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;",)
    assert "no restart" in verdict.reason
    # The application's owner role may not create it (not a trusted extension): the sentence says who may.
    assert "as a superuser" in verdict.reason


def test_neither_gives_both_statements_in_order():
    verdict = availability_of("default", state(installed_version=None, preloaded=False, preload_setting=""))
    assert verdict.state == "neither" and verdict.restart
    assert verdict.statements == (
        "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';",
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;",
    )
    assert "the second in the database, as a superuser too" in verdict.reason


def test_a_server_without_the_extension_says_to_install_contrib():
    verdict = availability_of("default", state(available=False, installed_version=None, preloaded=False))
    assert verdict.state == "not_on_server" and "postgresql-contrib" in verdict.reason


def test_a_role_without_read_all_stats_is_readable_but_partial():
    verdict = availability_of("default", state(reads_all=False))
    assert verdict.ok and verdict.partial_texts


def test_without_pg_read_all_stats_the_grant_names_the_database_role_not_the_signed_in_person():
    verdict = availability_of("default", state(reads_all=False, role="chat app"))
    assert verdict.ok and verdict.partial_texts
    assert verdict.statements == ('GRANT pg_read_all_stats TO "chat app";',)
