"""services/findings.py: one Finding type and one ordered severity scale for health, drift and lint."""

from __future__ import annotations

import dataclasses

import pytest

from schemaadmin.services.findings import Finding, Kind, Severity, severity_counts, worst, worst_first, worst_rank
from schemaadmin.services.index_health.findings import CODES, copyable, finding
from schemaadmin.templatetags.findings import severity_badge, severity_count

CRITICAL, WARNING, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO


def found(code: str, severity: Severity, about: str = "public.t", **fields: object) -> Finding:
    return Finding(code, severity, Kind.DRIFT, about, f"{code} on {about}", **fields)  # type: ignore[arg-type]


def test_the_scale_is_ordered_by_rank_not_alphabetically():
    assert [s.rank for s in (INFO, WARNING, CRITICAL)] == [0, 1, 2]
    assert INFO < WARNING < CRITICAL and CRITICAL > WARNING > INFO
    assert CRITICAL >= CRITICAL and WARNING <= CRITICAL and not CRITICAL <= WARNING
    assert sorted([WARNING, CRITICAL, INFO]) == [INFO, WARNING, CRITICAL]
    assert max([INFO, CRITICAL, WARNING]) is CRITICAL  # as strings, "warning" would win
    # A plain word on either side is read as a severity, whichever side it is on.
    assert CRITICAL > "warning" and "warning" < CRITICAL and "info" < WARNING
    with pytest.raises(TypeError):
        CRITICAL < 2  # noqa: B015


def test_at_least_is_the_threshold_test_of_fail_on():
    assert CRITICAL.at_least(WARNING) and CRITICAL.at_least("critical") and WARNING.at_least("warning")
    assert not WARNING.at_least(CRITICAL) and not INFO.at_least("warning")


def test_the_words_drift_and_lint_used_still_parse():
    assert Severity("error") is CRITICAL and Severity("Error") is CRITICAL  # lint and drift before; squawk's level
    assert Severity("WARNING") is WARNING and Severity("critical") is CRITICAL
    assert str(CRITICAL) == "critical" and f"{WARNING}" == "warning"  # JSON and text print the word
    for word in ("fatal", "", "errors"):
        with pytest.raises(ValueError):
            Severity(word)


def test_each_severity_has_one_badge_and_one_way_to_be_counted():
    assert {s: s.badge for s in Severity} == {
        CRITICAL: "text-bg-danger",
        WARNING: "text-bg-warning",
        INFO: "text-bg-info",
    }
    assert [CRITICAL.counted(2), WARNING.counted(1), WARNING.counted(3), WARNING.counted(0), INFO.counted(4)] == [
        "2 critical",
        "1 warning",
        "3 warnings",
        "0 warnings",
        "4 info",
    ]
    assert severity_badge("critical") == '<span class="badge text-bg-danger" data-severity="critical">critical</span>'
    assert severity_badge(WARNING, 3) == '<span class="badge text-bg-warning" data-severity="warning">3 warnings</span>'
    assert severity_badge("error") == severity_badge(CRITICAL)
    # None of a severity is grey: a red "0 critical" reads as an alarm.
    grey = '<span class="badge text-bg-light border" data-severity="critical">0 critical</span>'
    assert severity_badge(CRITICAL, 0) == grey
    assert severity_count("info", 0) == "0 info"


def test_worst_first_orders_by_severity_then_the_given_key_and_keeps_ties_in_order():
    a, b, c = found("a", WARNING, "x"), found("b", CRITICAL, "z"), found("c", WARNING, "w")
    d = found("d", INFO)
    assert worst_first([a, d, b, c]) == [b, a, c, d]  # stable: a came before c
    assert worst_first([a, d, b, c], then=lambda f: f.object) == [b, c, a, d]
    assert worst_first([]) == []


def test_worst_and_counts():
    findings = [found("a", WARNING), found("b", INFO), found("c", WARNING)]
    assert worst(findings) is WARNING and worst([]) is None
    assert worst([*findings, found("d", CRITICAL)]) is CRITICAL
    # The lists' sort key: the worst severity's rank, below every severity when there is no finding.
    assert worst_rank(findings) == WARNING.rank and worst_rank([]) == -1 < INFO.rank
    counts = severity_counts(findings)
    assert list(counts) == [CRITICAL, WARNING, INFO]  # every severity, worst first
    assert counts == {"critical": 0, "warning": 2, "info": 1}  # keys are the words too


def test_a_finding_is_frozen_and_only_lint_text_is_markdown():
    lint = Finding("ban-drop-column", WARNING, Kind.LINT, "app.0002_x", "Use `concurrently` here", help="Do `x`.")
    with pytest.raises(dataclasses.FrozenInstanceError):
        lint.severity = CRITICAL  # type: ignore[misc]
    assert lint.message_parts == [("Use ", False), ("concurrently", True), (" here", False)]
    assert lint.help_parts == [("Do ", False), ("x", True), (".", False)]
    drift = Finding("column_mismatch", WARNING, Kind.DRIFT, "public.t.c", "default is 'a`b`c'::text")
    assert drift.message_parts == [("default is 'a`b`c'::text", False)]  # a backtick in SQL is only a character
    assert found("x", INFO, help="").help_parts == []
    assert Finding("r", WARNING, Kind.LINT, "a.b", "m", source="squawk").source_label == "squawk"
    assert Finding("r", WARNING, Kind.LINT, "a.b", "m", source="schemaadmin").source_label == "SchemaAdmin"
    assert found("x", INFO).source_label == ""


def test_health_findings_carry_their_code_s_severity_title_and_object():
    index = finding("invalid_index", database="default", schema="s", table="t", message="m", fix_sql="DROP", index="i")
    assert (index.kind, index.severity, index.title) == (Kind.HEALTH, CRITICAL, "Invalid index")
    assert (index.object, index.fix) == ("s.i", "DROP")
    column = finding(
        "vector_column_unindexed", database="d", schema="s", table="t", message="m", fix_sql="", column="c"
    )
    assert column.object == "s.t.c" and column.severity is CODES["vector_column_unindexed"][0]
    table = finding("vacuum_overdue", database="d", schema="s", table="t", message="m", fix_sql="VACUUM")
    assert table.object == "s.t" and table.index is None and table.column is None


def test_json_keeps_each_kind_s_documented_keys_in_order():
    health = finding("invalid_index", database="default", schema="s", table="t", message="m", fix_sql="F", index="i")
    assert health.as_json() == {
        "code": "invalid_index",
        "severity": "critical",
        "database": "default",
        "schema": "s",
        "table": "t",
        "index": "i",
        "column": None,
        "object": "s.i",
        "message": "m",
        "fix_sql": "F",
    }
    assert list(health.as_json())[-2:] == ["message", "fix_sql"]  # dict order is the printed order
    drift = found("missing_table", CRITICAL, fix="CREATE TABLE")
    assert list(drift.as_json().items()) == [
        ("code", "missing_table"),
        ("severity", "critical"),
        ("object", "public.t"),
        ("message", "missing_table on public.t"),
        ("fix", "CREATE TABLE"),
    ]
    lint = Finding(
        "drop_column", WARNING, Kind.LINT, "t.c", "m", help="h", line=3, source="schemaadmin", migration="a.b"
    )
    assert list(lint.as_json()) == ["code", "severity", "object", "message", "help", "line", "source", "migration"]
    assert lint.as_json()["severity"] == "warning" and type(lint.as_json()["severity"]) is str


@pytest.mark.parametrize(
    ("fix", "copyable_as_is"),
    [
        ("SELECT * FROM pg_sequences WHERE sequencename = 'Seq\"Q';", True),  # a quote inside a literal
        ('ALTER SEQUENCE "select"."Seq""Q" NO MAXVALUE;', True),
        ("SELECT 'a\nb';", True),  # a literal spanning lines is still one value
        ('-- it\'s "fine"\nDROP INDEX "x--y";', True),
        ('-- restore: CREATE INDEX ON t ("a\nDROP TABLE t; --");', False),  # a name breaking a comment's line
        ('ALTER TABLE "a\nb" ADD x int;', False),
        ("SELECT 1;\r\n", False),
        # A constant of an index predicate, quoted in a comment: a line break in it ends the comment.
        ("-- to restore it: CREATE INDEX i ON t (id) WHERE (note <> 'x\nDROP TABLE t; --'::text);", False),
        ("-- to restore it: CREATE INDEX i ON t (id) WHERE (note <> 'x''s'::text);\nDROP INDEX i;", True),
        ("-- it's the partitions' indexes, the table's own\nSELECT 1;", True),  # the prose's apostrophes
    ],
)
def test_a_fix_is_withheld_only_when_a_quoted_name_breaks_a_line(fix, copyable_as_is):
    assert (copyable(fix) == fix) is copyable_as_is
