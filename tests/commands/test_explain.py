"""manage.py explain: the console's service from the command line."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from schemaadmin.models import AuditEvent, ExplainRun
from tests.versions import skip_below, skip_without_set_role_fallback


def _run(*args: str, stdin: str | None = None, monkeypatch=None) -> str:
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("explain", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_text_plan_with_summary():
    output = _run("SELECT count(*) FROM pg_class", "--analyze", "--buffers")
    assert "Aggregate" in output and "Execution Time" in output and "Execution" in output
    assert ExplainRun.objects.get().outcome == "ok"
    assert AuditEvent.objects.get(action="explain.run").actor_username.startswith("os:")  # who ran it


@pytest.mark.django_db
def test_json_holds_the_raw_plan_and_the_summary(monkeypatch):
    output = json.loads(_run("-", "--format", "json", stdin="SELECT 1", monkeypatch=monkeypatch))
    assert output["outcome"] == "ok"
    assert output["plan"][0]["Plan"]["Node Type"] == "Result"
    assert output["summary"]["analyzed"] is False


@pytest.mark.django_db
def test_a_refusal_exits_non_zero_with_one_line():
    with pytest.raises(CommandError) as refused:
        _run("DELETE FROM auth_user")
    assert refused.value.returncode == 1
    assert (
        str(refused.value)
        == "refused: Only SELECT, WITH, VALUES and TABLE queries can be explained: DELETE writes rows."
    )
    assert ExplainRun.objects.get().outcome == "refused"


@pytest.mark.django_db
def test_a_timeout_says_after_how_long():
    with pytest.raises(CommandError, match="timeout: The statement was cancelled after 100 ms"):
        _run("SELECT pg_sleep(1)", "--analyze", "--timeout", "100")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, said",
    [
        (("SELECT 1", "--timeout", "-5"), "--timeout is in milliseconds, from 100 to "),  # it reached PostgreSQL
        (("SELECT 1", "--timeout", "1"), "--timeout is in milliseconds, from 100 to "),
        (("SELECT 1", "--timeout", "99999999999999"), "--timeout is in milliseconds, from 100 to "),  # was cut short
        (("  ",), "Give a query to explain"),  # was recorded as a refused run
    ],
)
def test_what_the_console_s_form_refuses_is_refused_here_before_anything_is_run_or_recorded(args, said):
    with pytest.raises(CommandError, match=said) as refused:
        _run(*args)
    assert refused.value.returncode == 2
    assert not ExplainRun.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_an_unknown_database_is_named():
    with pytest.raises(CommandError, match="No database is configured under the alias 'nope'"):
        _run("SELECT 1", "--database", "nope")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stdin", "said"),
    [
        ("SELECT 1\x00", "The query holds a NUL character (\\0), which PostgreSQL does not accept."),
        ("SELECT 1 " + "-" * 30_000, "The query is 30,009 characters long; the limit is 20,000."),
    ],
)
def test_standard_input_the_form_would_refuse_is_refused_before_anything_is_recorded(monkeypatch, stdin, said):
    """As the console's form answers them (the README: "The same from the shell"): not a query yet, no record."""
    with pytest.raises(CommandError) as refused:
        _run("-", "--analyze", stdin=stdin, monkeypatch=monkeypatch)
    assert str(refused.value) == said and refused.value.returncode == 2
    assert not ExplainRun.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_the_set_role_fallback_is_warned_about(settings):
    skip_without_set_role_fallback()
    settings.SCHEMAADMIN_EXPLAIN_LOGIN = None
    err = io.StringIO()
    call_command("explain", "SELECT 1", stdout=io.StringIO(), stderr=err)
    assert "Warning: The EXPLAIN console has no login role of its own" in err.getvalue()
    assert "manage.py create_explain_role" in err.getvalue() and "No temp-file limit holds" in err.getvalue()


@pytest.mark.django_db
def test_a_thousand_deep_plan_prints_as_json(settings):
    settings.SCHEMAADMIN = {"EXPLAIN_MAX_SQL_CHARS": 100_000}
    output = json.loads(_run("SELECT (" * 1000 + "SELECT 1" + ")" * 1000, "--analyze", "--format", "json"))
    assert output["outcome"] == "ok" and output["summary"]["analyzed"] is True


@pytest.mark.django_db
def test_the_json_summary_names_every_figure_and_its_slowest_nodes():
    output = json.loads(_run("SELECT count(*) FROM generate_series(1, 1000)", "--analyze", "--format", "json"))
    summary = output["summary"]
    assert set(summary) == {
        "analyzed",
        "total_cost",
        "planning_ms",
        "execution_ms",
        "slowest",
        "row_misses",
        "seq_scans",
        "disk_spills",
        "buffer_hit_ratio",
        "vector_order",
        "vector_index_used",
        "vector_index",
        "node_count",
    }
    assert summary["node_count"] == 2  # Aggregate over Function Scan
    assert summary["slowest"] and set(summary["slowest"][0]) == {"label", "exclusive_ms", "share"}


@pytest.mark.django_db
def test_ctrl_c_is_a_sentence_and_the_run_is_recorded_as_stopped(monkeypatch):
    """It was a KeyboardInterrupt traceback, and the run stayed "running" until its watchdog's time had passed."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # what Ctrl-C raises in the command while the statement runs

    monkeypatch.setattr("schemaadmin.services.explain.run._outcome", interrupted)
    with pytest.raises(CommandError, match="Interrupted: a run that had started is recorded as stopped") as stopped:
        _run("SELECT pg_sleep(5)", "--analyze")
    assert stopped.value.returncode == 130
    run = ExplainRun.objects.get()
    assert run.outcome == "error" and "Interrupted (Ctrl-C)" in run.error


@pytest.mark.django_db
def test_analyze_of_a_query_with_placeholders_says_it_made_a_generic_plan_instead():
    skip_below(160000, "EXPLAIN GENERIC_PLAN is PostgreSQL 16's")
    out, err = io.StringIO(), io.StringIO()
    call_command("explain", "SELECT $1::int", "--analyze", stdout=out, stderr=err)
    assert "Result" in out.getvalue() and "Execution Time" not in out.getvalue()
    assert "Note: A generic plan (EXPLAIN GENERIC_PLAN)" in err.getvalue() and "without ANALYZE" in err.getvalue()
    call_command("explain", "SELECT $1::int", stdout=out, stderr=(err := io.StringIO()))
    assert "generic plan" not in err.getvalue()  # no ANALYZE asked for, nothing lost
