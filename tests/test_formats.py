"""schemaadmin/formats.py and its template filters: one way to write times, durations, numbers, counts and JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.template import Context, Template

from schemaadmin.formats import (
    change_text,
    count_text,
    duration_text,
    expression_html,
    ident_html,
    json_html,
    log_html,
    number_text,
    plural_noun,
    when_html,
)

AT = datetime(2026, 12, 3, 21, 12, 5, 123456, tzinfo=UTC)


def render(source: str, **context) -> str:
    return Template("{% load humanize_extras %}" + source).render(Context(context))


def test_a_time_is_utc_on_the_server_with_the_exact_instant_on_hover():
    html = when_html(AT)
    assert html == (
        '<time datetime="2026-12-03T21:12:05Z" title="2026-12-03 21:12:05 UTC" data-when="">2026-12-03 21:12 UTC</time>'
    )
    # Another zone is the same instant: the page always says UTC until the browser localises it.
    assert 'datetime="2026-12-03T21:12:05Z"' in when_html(AT.astimezone(timezone(timedelta(hours=-5))))
    assert ">2026-12-03 21:12:05 UTC<" in when_html(AT, "seconds")
    assert ">21:12:05 UTC<" in when_html(AT, "time")
    # A time of day after another instant: its date too where the two days differ (the browser asks the same in the
    # viewer's zone, data-day-of).
    assert ">21:12:05 UTC<" in when_html(AT, "time", day_of=AT - timedelta(hours=21))
    overnight = when_html(AT, "time", day_of=AT - timedelta(hours=22))
    assert ">2026-12-03 21:12:05 UTC<" in overnight and 'data-day-of="2026-12-02T23:12:05Z"' in overnight
    assert 'data-when="ago seconds"' in when_html(AT, "seconds,ago")
    assert when_html(None) == "—"
    with pytest.raises(ValueError):
        when_html(AT, "american")


def test_the_when_filter_is_the_one_every_template_uses():
    assert render("{{ at|when:'ago' }}", at=AT) == str(when_html(AT, "ago"))
    assert Template("{% load browse %}{{ at|utc_time }}").render(Context({"at": AT})) == str(when_html(AT))


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (None, "s", ""),
        (0.004, "s", "< 0.01 s"),
        (0.043, "s", "0.04 s"),
        (8.25, "s", "8.2 s"),
        (42, "s", "42 s"),
        (timedelta(seconds=754), "s", "12 min 34 s"),
        (timedelta(hours=2, minutes=5), "s", "2 h 05 min"),
        (timedelta(days=3, hours=4), "s", "3 d 04 h"),
        (8.5, "ms", "8.5 ms"),
        (0.42, "ms", "0.42 ms"),
        (0.004, "ms", "< 0.01 ms"),
        (1500, "ms", "1.5 s"),
        (-3, "s", "< 0.01 s"),
    ],
)
def test_durations_read_the_same_everywhere(value, unit, text):
    assert duration_text(value, unit) == text
    assert render("{{ v|duration:u }}", v=value, u=unit) == text.replace("<", "&lt;")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (200000, "200,000"),
        (8.0, "8"),
        (8.000, "8"),
        (3.14159, "3.14"),
        (1234.5, "1,234.5"),
        (12345.678, "12,346"),
        ("1234", "1,234"),
        (None, "—"),
        (float("inf"), "∞"),
    ],
)
def test_numbers_have_separators_and_integers_no_decimals(value, text):
    assert number_text(value) == text


def test_changes_past_the_threshold_are_ratios():
    assert change_text(100, 97_348) == "× 973"
    assert change_text(100, 112) == "+12 %"
    assert change_text(100, 60) == "−40 %"
    assert change_text(1000, 1) == "÷ 1,000"
    assert change_text(5, 5) == "no change"
    assert change_text(None, 5) == ""
    assert render("{{ a|change:b }}", a=8, b=8000) == "× 1,000"


def test_counts_say_what_they_count():
    assert count_text(1, "row") == "1 row"
    assert count_text(94, "index|indexes") == "94 indexes"
    assert count_text(12345, "conversation") == "12,345 conversations"
    assert render('{{ n|count:"finding" }}', n=0) == "0 findings"


def test_identifiers_break_only_after_a_dot_or_an_underscore():
    html = ident_html("public", "knowledge_base<x>")
    assert html == '<span class="ident">public.<wbr>knowledge_<wbr>base&lt;x&gt;</span>'
    assert render("{{ s|ident:n }}", s="public", n="users") == '<span class="ident">public.<wbr>users</span>'


def test_expressions_break_also_after_a_cast_s_double_colon():
    # An index's vector key has no space, dot or underscore: on a phone it had nowhere to wrap but inside a word.
    assert expression_html("(embedding::halfvec(3072))") == "(embedding::<wbr>halfvec(3072))"
    assert render("{{ e|expression }}", e="lower(t_a::text) < 'x'") == "lower(t_<wbr>a::<wbr>text) &lt; &#x27;x&#x27;"


def test_json_is_formatted_collapsible_and_escaped_never_a_python_repr():
    value = {"notifications": {"email": False, "digest": None}, "tags": ["<b>", 3], "empty": {}}
    html = json_html(value)
    assert "False" not in html and "None" not in html and "{'" not in html
    assert '<span class="json-key">email</span>: <span class="json-bool">false</span>' in html
    assert '<span class="json-null">null</span>' in html
    assert "&quot;&lt;b&gt;&quot;" in html and "<b>" not in html
    assert html.startswith('<details class="json" open>')
    assert render("{{ v|json }}", v=value) == str(html)


def test_a_job_log_shows_each_stamp_as_a_time_of_day_and_escapes_the_rest():
    html = log_html("2026-12-04T03:21:42Z started <job>\nno stamp here\n")
    assert html.startswith('<time datetime="2026-12-04T03:21:42Z" title="2026-12-04 03:21:42 UTC" data-when="log">')
    assert "started &lt;job&gt;\nno stamp here" in html
    assert log_html("") == "(nothing yet)"


def test_a_count_names_one_thing_in_the_singular_and_more_in_the_plural():
    assert count_text(1, "user") == "1 user" and count_text(2, "user") == "2 users"
    assert count_text(1, "index|indexes") == "1 index" and count_text(0, "index|indexes") == "0 indexes"
    assert plural_noun("matching message") == "matching messages" and plural_noun("index|indexes") == "indexes"
