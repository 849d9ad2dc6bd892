"""Search questions asked of the server: what a search can match, and what of it the GIN index can look up."""

from __future__ import annotations

import pytest

from schemaadmin.pg.search import search_terms


@pytest.mark.parametrize(
    ("text", "query", "indexed", "indexable"),
    [
        ("!!! ???", "", "", False),
        ('"refund policy" -voucher', "'refund' <-> 'policy' & !'voucher'", "'refund' <-> 'policy'", True),
        ("the -the", "'the' & !'the'", "'the'", True),
        ('"the the the"', "'the' <-> 'the' <-> 'the'", "'the' <-> 'the' <-> 'the'", True),
        # Only exclusions: every message could match, and no index can say which.
        ("-refund", "!'refund'", "T", False),
        ("refund or -voucher", "'refund' | !'voucher'", "T", False),
    ],
)
def test_search_terms_say_what_the_gin_index_can_look_up(db, text, query, indexed, indexable):
    terms = search_terms(text)
    assert (terms.query, terms.indexed, terms.indexable) == (query, indexed, indexable)
    assert terms.matchable == bool(query)


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("hello", ("hello",)),
        ("\u200ehello\u200f", ("\u200ehello\u200f", "hello")),
        ("pass\u200bword", ("pass\u200bword", "password")),
        ("\ufeff refund", ("\ufeff refund", "refund")),
        ("cafe\u0301", ("cafe\u0301", "café")),
        ("می\u200cخواهم", ("می\u200cخواهم",)),  # the join controls are the word's own
        ("क्\u200dष", ("क्\u200dष",)),
        ("👨\u200d👩\u200d👧", ("👨\u200d👩\u200d👧",)),
        ("\u200e\u200f", ("\u200e\u200f",)),  # nothing plain to add: the form refuses it
    ],
)
def test_a_search_looks_for_the_text_as_typed_and_as_plainly_spelled(typed, expected):
    from schemaadmin.pg.search import spellings

    assert spellings(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (" ".join(["a"] * 100), "a"),
        ("refund  card refund\tcard", "refund card"),
        ("refund -voucher refund -voucher", "refund -voucher refund -voucher"),  # a "-" is a NOT, even alone
        ("a - a b", "a - a b"),
        ("Refund refund", "Refund refund"),  # as written: the server's lexeme is the same, the text is not
        ('"refund refund" refund', '"refund refund" refund'),  # a phrase: the same word twice says something
        ("refund or card refund", "refund or card refund"),  # refund | card & refund: not refund | card
        ("refund OR, card refund", "refund OR, card refund"),
    ],
)
def test_a_search_of_words_alone_looks_for_each_once(typed, expected):
    from schemaadmin.pg.search import spellings

    assert spellings(typed) == (expected,)


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("refund refund voucher refund", "'refund' & 'voucher'"),
        ("refund - refund", "'refund' & !'refund'"),
        ("refund or voucher refund", "'refund' | 'voucher' & 'refund'"),
    ],
)
def test_a_repeated_word_is_asked_of_the_server_once_unless_it_changes_the_search(db, text, query):
    assert search_terms(text).query == query
