"""manage.py index_health: text and JSON output, exit codes for --fail-on."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

FIELDS = {"code", "severity", "database", "schema", "table", "index", "column", "object", "message", "fix_sql"}


def run(*args: str) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command("index_health", *args, stdout=out)
    except SystemExit as exc:
        return out.getvalue(), int(exc.code or 0)
    return out.getvalue(), 0


def test_json_lists_findings_indexes_and_tables(plant):
    s = plant.schema
    plant.table("wide", "id int PRIMARY KEY, embedding vector(3000)")
    output, status = run("--format", "json")
    assert status == 0
    data = json.loads(output)
    assert set(data) >= {"findings", "indexes", "tables"}
    (wide,) = [f for f in data["findings"] if f["schema"] == s and f["table"] == "wide"]
    assert set(wide) == FIELDS
    assert wide["code"] == "vector_dims_unindexable" and wide["severity"] == "critical"
    assert wide["index"] is None and wide["column"] == "embedding" and wide["database"] == "default"
    assert wide["object"] == f"{s}.wide.embedding"
    (pkey,) = [i for i in data["indexes"] if i["schema"] == s]
    assert pkey["name"] == "wide_pkey" and pkey["scans_by_node"] == {"default": 0}
    assert pkey["qualified_name"] == f"{s}.wide_pkey" and pkey["columns"] == ["id"] and pkey["is_primary"] is True
    assert any(t["name"] == "wide" and t["schema"] == s for t in data["tables"])


def test_json_to_a_real_stdout_is_utf_8_whatever_its_text_encoding(plant):
    """Messages hold ≈, × and names in any script: written as UTF-8 bytes, not encoded by an ASCII terminal."""
    s = plant.schema
    plant.table('"Größe_ü"', "id int PRIMARY KEY, embedding vector(3000)")
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="ascii")
    call_command("index_health", "--format", "json", stdout=stdout)
    stdout.flush()
    data = json.loads(raw.getvalue().decode("utf-8"))
    assert [f for f in data["findings"] if f["schema"] == s and f["table"] == "Größe_ü"]
    assert raw.getvalue().endswith(b"}\n")


def test_text_writes_a_name_s_control_characters_as_escapes_never_as_a_line_of_its_own(plant):
    """A table named "nl<newline>critical  invalid_index  public.users_pkey is invalid" printed a line a cron mail
    or a grep read as a finding; ESC in a name could drive the terminal."""
    forged = "CRITICAL invalid_index  public.users_pkey"
    plant.table(f'"nl\n{forged}\x1b[2J"', "id int, embedding vector(3000)")
    output, _ = run()
    assert not any(line.startswith(forged) for line in output.splitlines())
    assert "\x1b" not in output
    assert f"nl\\n{forged}\\x1b[2J" in output  # the name as escapes, on its finding's line


def test_text_shows_each_finding_with_its_fix(plant):
    plant.table("wide", "id int, embedding vector(3000)")
    output, status = run()
    assert status == 0
    assert output.startswith("Index health of ")
    assert f"CRITICAL vector_dims_unindexable  {plant.schema}.wide.embedding" in output
    assert "| CREATE INDEX CONCURRENTLY wide_embedding_halfvec_hnsw" in output


def test_fail_on_sets_the_exit_status(plant):
    plant.table("wide", "id int, embedding vector(3000)")  # a critical finding
    assert run("--fail-on", "critical")[1] == 1
    assert run("--fail-on", "warning")[1] == 1


@pytest.mark.django_db
def test_fail_on_critical_passes_without_critical_findings():
    # The bare chat schema has warnings (the unindexed message owner) but nothing critical.
    output, status = run("--fail-on", "critical", "--format", "json")
    assert status == 0
    assert not [f for f in json.loads(output)["findings"] if f["severity"] == "critical"]
    assert run("--fail-on", "warning")[1] == 1


@pytest.mark.django_db
def test_unknown_database_alias_is_a_clear_error():
    with pytest.raises(CommandError, match="No database is configured under the alias 'replica'"):
        call_command("index_health", "--database", "replica", stdout=io.StringIO())


def test_bad_option_values_are_refused():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("index_health", "--fail-on", "info", stdout=io.StringIO())
