"""Snippets on the server: the words a search must find (pg.search.search_terms) and the part of a long message a
snippet is made from (pg.search.HitWindow)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db.models import Value

from schemaadmin.models import ChatUser, Conversation, Message
from schemaadmin.pg.search import SNIPPET_LEAD, SNIPPET_WINDOW, HitWindow, search_terms
from schemaadmin.services.message_search import search_page
from schemaadmin.services.thread_search import mark_hits
from schemaadmin.templatetags.browse import marked_body

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FILLER = "The courier confirmed the address and the parcel is on its way to the depot. "


@pytest.mark.parametrize(
    "text,words",
    [
        ("refund", ["refund"]),
        ('"late parcel"', ["late", "parcel"]),
        ("refund -late", ["refund"]),  # an excluded word is nothing a match contains
        ("-late", []),  # querytree: 'T', every row could match
        ("O'Brien", ["o", "brien"]),  # the parser splits at quotes and backslashes: no lexeme holds one
        ("back\\slash", ["back", "slash"]),
        ("refund or chargeback", ["refund", "chargeback"]),
    ],
)
def test_the_words_are_those_a_match_must_contain_as_the_server_writes_them(text, words):
    assert search_terms(text).words == tuple(words)


def _window(text: str, words: list[str]) -> str:
    return Message.objects.annotate(window=HitWindow(Value(text), words)).values_list("window", flat=True).first()


@pytest.fixture
def one_message(db):
    user = ChatUser.objects.create(external_id="acct-snippets")
    conversation = Conversation.objects.create(user=user, created_at=T0, updated_at=T0)
    return Message.objects.create(conversation=conversation, user=user, role="assistant", content="x", created_at=T0)


def test_a_short_message_with_a_hit_near_its_start_is_given_whole(one_message):
    text = FILLER * (SNIPPET_WINDOW // len(FILLER))
    assert len(text) > SNIPPET_WINDOW - len(FILLER) and _window(text, ["depot"]) == text


def test_a_long_message_is_given_from_just_before_its_first_hit(one_message):
    text = FILLER * 200 + "The bank opened a Chargeback for order 42. " + FILLER * 100
    window = _window(text, ["refund", "chargeback"])
    assert len(window) == SNIPPET_WINDOW
    assert window.index("Chargeback") == SNIPPET_LEAD  # found case-folded, as the 'simple' configuration folds
    assert window == text[text.index("Chargeback") - SNIPPET_LEAD :][:SNIPPET_WINDOW]


def test_the_word_as_written_is_found_without_reading_the_text_again(one_message):
    text = FILLER * 50 + "Chargeback one. " + FILLER * 50 + "chargeback two. " + FILLER * 50
    window = _window(text, ["chargeback"])
    assert window.index("chargeback two") == SNIPPET_LEAD  # a hit, if not the first: the snippet marks it


def test_a_word_found_only_in_another_case_starts_the_window(one_message):
    text = FILLER * 50 + "Chargebacks pile up. " + FILLER * 50 + "A CHARGEBACK was filed. " + FILLER * 50
    assert _window(text, ["chargeback"]).index("CHARGEBACK was filed") == SNIPPET_LEAD


def test_a_word_inside_other_words_does_not_start_the_window(one_message):
    # "payments" and "prepayment" hold the text "payment" but not the word: a window from there would show no mark.
    text = "Your payments and the prepayment are listed below. " + FILLER * 30
    text += "The payment was refunded. " + FILLER * 30
    window = _window(text, ["payment"])
    assert window.index("payment was refunded") == SNIPPET_LEAD
    (hit,) = search_page(Message.objects.filter(pk=_saved(one_message, text).pk), "payment", None, 10).page.rows
    assert "<mark>payment</mark> was refunded" in hit.snippet


def test_a_word_with_punctuation_the_parser_keeps_is_found_as_written(one_message):
    text = FILLER * 30 + "Write to help.desk@example.com or (c++) [x] a*b \\ end. " + FILLER * 30
    for word in ("help.desk@example.com", "c++", "[x]", "a*b", "\\", "(", "é.b"):
        window = _window(text, [word])
        expected = text.index(word) - SNIPPET_LEAD if word in text else 0
        assert window == text[max(expected, 0) :][:SNIPPET_WINDOW], word


def test_a_short_message_is_given_whole_wherever_its_hit_is(one_message):
    text = FILLER * (SNIPPET_WINDOW // len(FILLER) - 1) + "Chargeback at the end."
    assert len(text) <= SNIPPET_WINDOW and text.index("Chargeback") > SNIPPET_LEAD
    assert _window(text, ["chargeback"]) == text


def _saved(message: Message, text: str) -> Message:
    message.content = text
    message.save()
    return message


def test_a_hit_near_the_start_keeps_the_start_and_no_hit_gives_the_start(one_message):
    text = "Chargeback filed. " + FILLER * 100
    assert _window(text, ["chargeback"]) == text[:SNIPPET_WINDOW]
    assert _window(text, ["nowhere"]) == text[:SNIPPET_WINDOW]
    assert _window(text, []) == text[:SNIPPET_WINDOW]


def test_a_hit_at_the_end_of_a_long_answer_is_marked_in_its_snippet(one_message):
    one_message.content = FILLER * 400 + "In the end a chargeback was opened for the order."
    one_message.save()
    result = search_page(Message.objects.all(), "chargeback", None, 10)
    (hit,) = result.page.rows
    assert "<mark>chargeback</mark> was opened" in hit.snippet


def test_words_that_never_meet_in_a_long_answer_still_show_one_marked(one_message):
    # No part of the window holds both words of the AND: ts_headline then shows the first 15 words it is given.
    text = FILLER * 30 + "We will refund you in full. " + FILLER * 30 + "Your order ships today. " + FILLER * 30
    (hit,) = search_page(Message.objects.filter(pk=_saved(one_message, text).pk), "refund order", None, 10).page.rows
    assert "<mark>refund</mark>" in hit.snippet


@pytest.mark.parametrize(
    "text", ["refund \x02 closer \x01opener", "\x01\x02refund\x02", FILLER * 30 + "\x01 refund \x02"]
)
def test_the_marks_a_message_holds_itself_mark_nothing(one_message, text):
    # Control characters a chat client may send are the snippets' marks: only the search's marks become <mark>.
    message = _saved(one_message, text)
    (hit,) = search_page(Message.objects.filter(pk=message.pk), "refund", None, 10).page.rows
    assert hit.snippet.count("<mark>") == hit.snippet.count("</mark>") == 1 and "<mark>refund</mark>" in hit.snippet
    mark_hits([message], "refund")
    body = marked_body(message.marked)
    assert body.count("<mark>") == body.count("</mark>") == 1 and "<mark>refund</mark>" in body
