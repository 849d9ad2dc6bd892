"""Forms that validate the conversation browser's URL parameters: search, sort, page size, cursors, anchors."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import TooManyFieldsSent
from django.http import QueryDict

from schemaadmin.conf import app_settings
from schemaadmin.forms.fields import VisibleTextField
from schemaadmin.models import Message
from schemaadmin.pg.search import SearchTerms, SearchTooDeep, plain_spelling
from schemaadmin.services.conversations import DEFAULT_ORDER, ORDER_CHOICES
from schemaadmin.services.message_search import search_facts

__all__ = [
    "BootstrapForm",
    "ListControls",
    "PageCursor",
    "SEARCH_PARAMETERS",
    "ThreadControls",
    "UserSearch",
    "hit_link_query",
    "list_query",
    "searched_query",
    "operators_rewritten",
    "unread_operators",
]

SEARCH_MAX_LENGTH = 200
CURSOR_MAX_LENGTH = 1000


# What other search boxes read as operators (to_tsquery's "!", "&" and "|", a phrase's "<->") and web-search syntax
# reads as a space: "refund & !order" finds the messages with both words. Only where they stand as operators: "!"
# before a word, at the start or after a space or "("; "&" and "|" with no letter or digit beside them ("AT&T",
# "?a=1&b=2", "Yahoo!Mail" and "rock|roll" are text).
_NOT_OPERATORS = re.compile(r"<->|(?<=\w):\*|(?<![^\s(])!(?=\w)|(?<!\w)[&|]+(?!\w)")
_PHRASE = re.compile(r'("[^"]*")')
_REWRITES = {"!": "-", "&": " ", "|": " or ", "<->": " ", ":*": " "}


def unread_operators(text: str) -> str:
    """Return a sentence naming the characters of text, outside its quoted phrases, that a search might mean as
    operators and this one reads as spaces, with what to write instead; "" when there is none."""
    found = sorted({_operator(match) for match in _NOT_OPERATORS.findall(_PHRASE.sub(" ", text))}, key=text.find)
    if not found:
        return ""
    names = " and ".join(f"“{operator}”" for operator in found)
    one = len(found) == 1
    return (
        f"{names} {'is not an operator' if one else 'are not operators'} in this search: "
        f"{'it was' if one else 'they were'} read as a space. To leave out the messages with a word, put a minus "
        "sign before it (-word); for either of two words, write or between them (refund or chargeback); for words "
        'side by side, put them in quotes ("exact phrase").'
        + (" A search matches whole words: there is no search by the start of a word." if ":*" in found else "")
    )


def operators_rewritten(text: str) -> str:
    """Return text with those operators written in web-search syntax, outside its quoted phrases: "!" before a word
    as "-", "&" as a space, "|" as "or" ("invoice & !wrong" → "invoice -wrong")."""
    parts = _PHRASE.split(text)
    for at in range(0, len(parts), 2):  # the even parts are outside quotes
        parts[at] = _NOT_OPERATORS.sub(lambda match: _REWRITES[_operator(match.group())], parts[at])
    return " ".join("".join(parts).split())


def _operator(match: str) -> str:
    return match if match in ("<->", ":*") else match[0]


def _page_size_choices() -> list[tuple[int, str]]:
    return [(n, str(n)) for n in app_settings()["PAGE_SIZES"]]


class BootstrapForm(forms.Form):
    """A form whose widgets carry Bootstrap's classes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.HiddenInput):
                continue
            css = "form-select form-select-sm" if isinstance(widget, forms.Select) else "form-control form-control-sm"
            widget.attrs.setdefault("class", css)


class PageCursor(BootstrapForm):
    """The cursor of a keyset-paged list: the page after one row, or before one."""

    after = forms.CharField(required=False, max_length=CURSOR_MAX_LENGTH, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=CURSOR_MAX_LENGTH, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("after") and data.get("before"):
            raise forms.ValidationError("A page link has both “after” and “before”; use one.")
        return data


class ListControls(PageCursor):
    """Search text, order, page size and the page cursor of a keyset-paged list."""

    q = forms.CharField(required=False, max_length=SEARCH_MAX_LENGTH, label="Search messages")
    sort = forms.ChoiceField(
        choices=ORDER_CHOICES,
        required=False,
        label="Sort by",
        # schemaadmin.js disables it while the search box has text: a search is always newest first.
        widget=forms.Select(
            attrs={
                "data-unused-in-search": "A search lists messages newest first.",
                "data-search-choice": "Newest matching message first",  # shown while disabled
            }
        ),
        error_messages={
            "invalid_choice": "Select a valid choice. There is no order “%(value)s”: sort by "
            + ", ".join(name for name, _ in ORDER_CHOICES)
            + " (“-” first: newest or largest first)."
        },
    )
    size = forms.TypedChoiceField(coerce=int, choices=_page_size_choices, required=False, label="Per page")

    def clean_q(self) -> str:
        text = self.cleaned_data["q"].strip()
        if not text:
            return text
        terms = _matchable(text)
        if not terms.indexable:
            # The index finds messages by the words they contain; with none required, every message is a candidate.
            raise forms.ValidationError(
                "This search has no word the messages must contain, so it would read every message: "
                "add one (excluding words with - narrows a search, it cannot be the whole of it)."
            )
        return text

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or DEFAULT_ORDER

    def clean_size(self) -> int:
        return self.cleaned_data["size"] or app_settings()["PAGE_SIZES"][0]


# The conversation list's parameters a search hit carries to its thread (`back`), so "Back to the search" returns to
# the same search, filters and page. Anything else in it is dropped.
SEARCH_PARAMETERS = (
    "q",
    "user",
    "channel",
    "active_from",
    "active_to",
    "min_messages",
    "role",
    "size",
    "after",
    "before",
)
# A hit link carries `back` up to this long (a request line's room: gunicorn's is 4,094 bytes, and a search of 200
# emoji is 2,400 of them, quoted); a thread reads one up to BACK_MAX_LENGTH, longer than any query of the list's own
# limits, and takes a longer one for none.
BACK_LINK_MAX_LENGTH = 1_500
BACK_MAX_LENGTH = 16_000


def list_query(params: QueryDict) -> str:
    """Return the conversation list's query among params: its SEARCH_PARAMETERS that are set, urlencoded."""
    return urlencode([(name, value) for name, value in params.items() if name in SEARCH_PARAMETERS and value])


def searched_query(text: str, role: str) -> str:
    """Return the query of a search alone: its words and the role its hits are from."""
    return urlencode({"q": text, **({"role": role} if role else {})})


def hit_link_query(text: str, role: str, back: str) -> str:
    """Return the query a link to a search's hit carries: the search (searched_query) and the list's query to go
    back to, back, when it says more than the search and fits a link (BACK_LINK_MAX_LENGTH)."""
    searched = searched_query(text, role)
    if not back or back == searched or len(back) > BACK_LINK_MAX_LENGTH:
        return searched
    return f"{searched}&{urlencode({'back': back})}"


class ThreadControls(forms.Form):
    """Which window of a thread to show: around one message, or before/after one; opened from a search hit, the
    search (q and the role its hits are from) and the list's query to go back to."""

    around = forms.IntegerField(required=False, min_value=1)
    before = forms.IntegerField(required=False, min_value=1)
    after = forms.IntegerField(required=False, min_value=1)
    q = forms.CharField(required=False, max_length=200, label="Search in this thread")
    role = forms.ChoiceField(
        required=False,
        choices=[("", "Any role"), *Message.Role.choices],
        error_messages={"invalid_choice": "A message is from user, assistant, system or tool, not “%(value)s”."},
    )
    # Not a CharField: its NUL check would refuse the thread; clean_back answers what it cannot use instead.
    back = forms.Field(required=False)

    def clean_back(self) -> str:
        """Return the list's query the search came from, of SEARCH_PARAMETERS alone (a link back, never elsewhere);
        "" (back to the search's words alone) when it is not one: too long, too many fields or a NUL, never a
        refusal of the thread it leads from."""
        text = self.cleaned_data["back"] or ""
        if len(text) > BACK_MAX_LENGTH or "\x00" in text:  # no list answers a NUL in its parameters
            return ""
        try:
            given = QueryDict(text)
        except TooManyFieldsSent:
            return ""
        return list_query(given)

    def clean_q(self) -> str:
        value = self.cleaned_data["q"].strip()
        if not plain_spelling(value):  # only invisible characters: no search
            return ""
        if "\x00" in value:
            raise forms.ValidationError("A search cannot contain a NUL character.")
        if value:
            _matchable(value)  # marking and stepping through its hits parse it too
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        given = [name for name in ("around", "before", "after") if data.get(name)]
        if len(given) > 1:
            raise forms.ValidationError(f"Use only one of around, before and after (got {', '.join(given)}).")
        return data

    def anchor(self) -> tuple[str, int] | None:
        for name in ("around", "before", "after"):
            if self.cleaned_data.get(name):
                return name, self.cleaned_data[name]
        return None


def _matchable(text: str) -> SearchTerms:
    """Return what the server makes of the search, or refuse one that can match nothing ("-", "<->", only
    invisible characters) as the list and the thread both do."""
    terms = _parsed(text)
    if not terms.matchable or not plain_spelling(text):
        raise forms.ValidationError(
            "Nothing in this search can be matched: use at least one word or number "
            '(quotes for phrases, "or" between alternatives, a leading - to exclude).'
        )
    return terms


def _parsed(text: str) -> SearchTerms:
    """Return what the server makes of the search (cached), or refuse one it cannot parse with its sentence."""
    try:
        return search_facts(text)
    except SearchTooDeep as refused:
        raise forms.ValidationError(str(refused)) from refused


class UserSearch(PageCursor):
    q = VisibleTextField(required=False, max_length=200, label="Find a user")
