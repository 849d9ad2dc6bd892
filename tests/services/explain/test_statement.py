"""services/explain/statement.py: what the console accepts as a statement, and the sentence (and position) for what
it refuses."""

from __future__ import annotations

import pytest

from schemaadmin.services.explain.statement import Refused, checked_statement, marked_position


def test_exactly_one_select_like_statement_passes_the_parser():
    assert checked_statement("  SELECT 1 ;  ") == ("SELECT 1", False)
    assert checked_statement("VALUES (1), (2)")[0] == "VALUES (1), (2)"
    assert checked_statement("TABLE pg_class")[0] == "TABLE pg_class"
    assert checked_statement("WITH a AS (SELECT 1) SELECT * FROM a")[0].startswith("WITH")
    assert checked_statement("SELECT * FROM t WHERE id = $1") == ("SELECT * FROM t WHERE id = $1", True)


@pytest.mark.parametrize(
    "text,says",
    [
        ("SELECT 1; SELECT 2", "exactly one statement; this text holds 2"),
        ("DELETE FROM t", "DELETE writes rows"),
        ("WITH d AS (DELETE FROM t RETURNING 1) SELECT 1", "data-modifying WITH"),
        ("SELECT * INTO x FROM t", "SELECT … INTO creates a table"),
        ("EXPLAIN SELECT 1", "without EXPLAIN"),
        ("", "Enter a query"),
    ],
)
def test_refusals_say_why(text, says):
    with pytest.raises(Refused) as refused:
        checked_statement(text)
    assert says in str(refused.value)


def test_syntax_errors_mark_the_position():
    text = "SELECT id,\n       name\n  FROMM users"
    with pytest.raises(Refused) as refused:
        checked_statement(text)
    assert str(refused.value).startswith("Syntax error: syntax error at or near")
    marked = marked_position(text, refused.value.position)
    line, caret = marked.splitlines()
    assert line == "line 3:   FROMM users"
    assert line[caret.index("^")] == "u"


def test_input_size_is_limited():
    with pytest.raises(Refused, match="the limit is 100"):
        checked_statement("SELECT " + "1 + " * 50 + "1", max_chars=100)


# Nesting: checked without recursion limits, or refused with a sentence (test_run.py: summarised, recorded).
def nested_query(depth: int, kind: str) -> str:
    if kind == "scalar":
        return "SELECT (" * depth + "SELECT 1" + ")" * depth
    return "SELECT * FROM (" * depth + "SELECT 1" + ") AS s" * depth  # noqa: S608 -- constant text, no input


@pytest.mark.parametrize("kind", ["scalar", "from"])
def test_a_thousand_deep_query_passes_the_checks(kind):
    text = nested_query(1000, kind)
    assert checked_statement(text, max_chars=100_000) == (text, False)


@pytest.mark.parametrize("depth,kind", [(3_000, "from"), (10_000, "scalar"), (10_000, "from")])
def test_a_query_nested_too_deeply_is_refused_with_a_sentence(depth, kind):
    with pytest.raises(Refused, match="nests too deeply to be checked"):
        checked_statement(nested_query(depth, kind), max_chars=1_000_000)


# NUL bytes: refused with a sentence (tests/services/explain/test_run.py: the run is still recorded).
def test_a_nul_byte_is_refused_at_its_position():
    with pytest.raises(Refused, match="NUL character") as refused:
        checked_statement("SELECT 1\x00")
    assert refused.value.position == 9
