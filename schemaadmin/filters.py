"""django-filter FilterSets for the conversation browser, the user finder and the audit log."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar
from uuid import UUID

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import ValidationError
from django.db.models import CharField, Exists, F, Func, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from schemaadmin.forms.browse import BootstrapForm
from schemaadmin.forms.fields import VisibleTextField
from schemaadmin.models import AuditEvent, ChatUser, Conversation, Message
from schemaadmin.models.chat import SEARCH_CONFIG, last_activity, loose_external_id, name_words
from schemaadmin.services.conversations import sizes_spread
from schemaadmin.services.search_walks import WalkScope

__all__ = ["AuditFilter", "ConversationFilter", "MessageSearchFilter", "users_matching"]

# A word of a name as a search takes it: letters and digits (any script), which is also what keeps quotes and tsquery
# operators out of the query; a search reads at most the first NAME_WORDS_MAX of them.
NAME_WORD = re.compile(r"[^\W_]+")
NAME_WORDS_MAX = 8
# The conversation filters read the ids of at most this many matching users before filtering by them (more: the
# users' query becomes a subquery of the page's).
USER_IDS_LISTED = 100
# The days a date filter accepts. A filter up to a day ends before the next one, which must still be a date
# (date.max + 1 day overflows); no chat message or audit event is older than the first.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
DATE_INPUT = forms.DateInput(
    attrs={"type": "date", "min": EARLIEST_DAY.isoformat(), "max": LATEST_DAY.isoformat()}, format="%Y-%m-%d"
)


def users_matching(text: str) -> QuerySet[ChatUser]:
    """Return the users whose external id is text, whose email is text in any case, or whose name has words
    starting with each of text's words ("smi" and "jane sm" find "Jane Smith"; text without letters or digits, as
    "🙂", matches a name's start), in no order.

    An external id matches in any case, spaces, dots, dashes and parentheses aside (the users_external_id_loose
    index), with or without a leading "+": "447700900111" finds "+44 7700 900111" and "+1555…" finds "1555…".
    Invisible formatting characters are left out of text: a number copied from WhatsApp Web or Outlook comes wrapped
    in direction marks (U+202A…U+202C, U+200E, U+2066…U+2069) and a byte order mark may lead it."""
    text = "".join(char for char in text if unicodedata.category(char) != "Cf").strip()
    loose_text = Func(loose_external_id(Value(text)), Value("+"), function="ltrim", output_field=CharField())
    # One IN, not two ORed equalities: the planner merged those into one IN for the index, then tested the whole
    # condition again, as a filter, on every row found (regexp and to_tsvector each time: "m" took 148 ms, now 13).
    matches = Q(loose_id__in=[loose_text, Concat(Value("+"), loose_text, output_field=CharField())]) | Q(
        email__iexact=text
    )
    words = NAME_WORD.findall(text)[:NAME_WORDS_MAX]
    if words:
        # Letters and digits only, so no quote or operator reaches the tsquery; each word matches a word's start.
        starts = " & ".join(f"'{word}':*" for word in words)
        matches |= Q(name_words=SearchQuery(starts, search_type="raw", config=SEARCH_CONFIG))
        # And the name's own words as PostgreSQL reads them: it keeps "j.r", "v2.0" or "jo/ann" whole, which the
        # words above split, so "J.R. Tolkien" typed as shown found nobody. Not "the name starts with text", as
        # before: that LIKE is not exact in its index, so every row of the bitmap was tested again, regexp and
        # to_tsvector included (38 ms for "garcia", 2,224 users, at 100,000 users); both of these are exact.
        matches |= Q(name_words=SearchQuery(text, search_type="plain", config=SEARCH_CONFIG))
    else:  # a name of signs alone ("🙂", "@@"): from its start
        matches |= Q(display_name__istartswith=text)
    return ChatUser.objects.alias(loose_id=loose_external_id(F("external_id")), name_words=name_words()).filter(matches)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


class VisibleTextFilter(django_filters.CharFilter):
    """A text filter that asks nothing when its text is only invisible characters (forms.fields.VisibleTextField)."""

    field_class = VisibleTextField


class IntegerFilter(django_filters.Filter):
    field_class = forms.IntegerField


class BoundedDateField(forms.DateField):
    """A date from EARLIEST_DAY to LATEST_DAY."""

    default_error_messages = {
        "invalid": "Enter a real date as YYYY-MM-DD (2026-02-30 and year 0 are none).",
    }

    def validate(self, value: date | None) -> None:
        super().validate(value)
        if value is not None and not EARLIEST_DAY <= value <= LATEST_DAY:
            raise ValidationError(
                f"Enter a date from {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}.", code="out_of_range"
            )


class BoundedDateFilter(django_filters.DateFilter):
    field_class = BoundedDateField


# The role filter means "has a message from" on the list, "message from" on a search: schemaadmin.js names it so as
# the search box fills or empties (the form is not redrawn when only the results are).
ROLE_LABELS = {"data-list-label": "Has a message from", "data-search-label": "Message from"}


def _role_filter(label: str, **applied: str) -> django_filters.ChoiceFilter:
    """Return the role filter as the list (method) or a search (field_name) applies it, named for what it means."""
    return django_filters.ChoiceFilter(
        choices=Message.Role.choices,
        label=label,
        empty_label="Any role",
        widget=forms.Select(attrs=ROLE_LABELS),
        **applied,
    )


class FilterMeta:
    """What every filter set's Meta shares: its filters are declared, not generated, on a Bootstrap form."""

    fields: list[str] = []
    form = BootstrapForm


class DeclaredFilterSet(django_filters.FilterSet):
    """A FilterSet whose filters are its class's alone, so its form class is built once per class, not per request.

    django-filter builds a new form class for every instance (a field made from each filter, then the form metaclass
    over them): half of the ~0.6 ms a list page spent setting up its filters. Each form instance still deep-copies
    the class's fields, so no instance shares a field with another. Not for a filter set that adds filters or
    changes their fields per instance.
    """

    _form_classes: ClassVar[dict[type[django_filters.FilterSet], type[forms.Form]]] = {}

    def get_form_class(self) -> type[forms.Form]:
        form_class = self._form_classes.get(type(self))
        if form_class is None:
            form_class = self._form_classes[type(self)] = super().get_form_class()
        return form_class


class _ConversationFilters(DeclaredFilterSet):
    """Filters on a conversation; `path` leads from the filtered model to the conversation."""

    path = ""

    user = VisibleTextFilter(
        method="filter_user",
        label="User",
        max_length=200,
        help_text="External id, email, or the start of a name or surname.",
    )
    channel = django_filters.ChoiceFilter(
        method="filter_channel", choices=Conversation.Channel.choices, empty_label="Any channel", label="Channel"
    )
    active_from = BoundedDateFilter(method="filter_active_from", label="Active from", widget=DATE_INPUT)
    active_to = BoundedDateFilter(method="filter_active_to", label="Active to", widget=DATE_INPUT)
    min_messages = IntegerFilter(
        method="filter_min_messages", label="At least N messages", min_value=1, max_value=10**7
    )

    # The users the user filter found, when it found USER_IDS_LISTED or fewer (filter_user): set as the filters run.
    listed_users: tuple[UUID, ...] = ()

    def _field(self, name: str) -> str:
        return f"{self.path}{name}"

    def filter_user(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        # Every user that matches, not the first 50 by name, as it was: "garcia" matches 2,224 users at 10M messages,
        # and the list showed the conversations of the first 50 Garcias alone, without saying so.
        matching = users_matching(value).values_list("id", flat=True)
        # Read first while they are few: a list of ids costs nothing to compile, where the subquery's conditions
        # (a regexp, two tsqueries) took ~1 ms in each of the page's statements (rows, total, cache key), and the
        # planner then knows how many conversations each user has instead of guessing for "some users".
        # No user found stays a subquery too: an empty list is no SQL at all (EmptyResultSet), which the statements
        # this page composes from the query's SQL (its estimate, a walk, the hits collected) cannot be made of.
        ids = list(matching[: USER_IDS_LISTED + 1])
        if not ids or len(ids) > USER_IDS_LISTED:
            return queryset.filter(**{self._field("user_id__in"): matching})
        self.listed_users = tuple(ids)
        return queryset.filter(**{self._field("user_id__in"): ids})

    def filter_channel(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(**{self._field("channel"): value})

    def filter_active_from(self, queryset: QuerySet[Any], name: str, value: date) -> QuerySet[Any]:
        return queryset.alias(_activity=self._activity()).filter(_activity__gte=_day_start(value))

    def filter_active_to(self, queryset: QuerySet[Any], name: str, value: date) -> QuerySet[Any]:
        end = _day_start(value + timedelta(days=1))
        return queryset.alias(_activity=self._activity()).filter(_activity__lt=end)

    def filter_min_messages(self, queryset: QuerySet[Any], name: str, value: int) -> QuerySet[Any]:
        return queryset.filter(**{self._field("message_count__gte"): value})

    def _activity(self) -> Any:
        if not self.path:
            return last_activity()
        return Coalesce(self._field("last_message_at"), self._field("created_at"))

    def is_valid(self) -> bool:
        return super().is_valid() and dates_in_order(self.form, "active_from", "active_to")


class ConversationFilter(_ConversationFilters):
    role = _role_filter(ROLE_LABELS["data-list-label"], method="filter_role")

    class Meta(FilterMeta):
        model = Conversation

    def filter_role(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(Exists(Message.objects.filter(conversation=OuterRef("pk"), role=value)))


class _KeptConversations(_ConversationFilters):
    """A search's filters of conversations applied to the conversations themselves (the role keeps a hit by its own
    role): MessageSearchFilter.kept_conversations."""

    class Meta(FilterMeta):
        model = Conversation


class MessageSearchFilter(_ConversationFilters):
    """The same filters applied to search hits: the hit's conversation, and the hit's own role."""

    path = "conversation__"
    role = _role_filter(ROLE_LABELS["data-search-label"], field_name="role")

    class Meta(FilterMeta):
        model = Message

    def filter_active_to(self, queryset: QuerySet[Any], name: str, value: date) -> QuerySet[Any]:
        # A message is never newer than its conversation's last activity (migration 0003's triggers keep
        # last_message_at at its newest message's time): bounded by the day too, a newest-first walk of the hits
        # starts at that day, not at the newest message ("the" active to a day in May walked 20,000 newer messages for
        # nothing, then read every "the" from the GIN index: 5-9 s at 10M messages, and the page was cut short).
        return super().filter_active_to(queryset, name, value).filter(created_at__lt=_day_start(value + timedelta(1)))

    def walk_scope(self) -> WalkScope:
        """Return the messages a bounded walk of this search counts (message_search.search_page): of the role asked
        and up to the end of the "Active to" day, the filters an index of messages holds in order; and whether it
        keeps many conversations of "At least N messages", whose hits the planner underrates; the few users whose
        conversations it keeps; and how to read the conversations it keeps, when a filter keeps some. Once valid."""
        self.qs  # noqa: B018 -- the filters have run: the users they found are known
        data = self.form.cleaned_data
        day, size = data.get("active_to"), data.get("min_messages")
        keeps = any(data.get(name) not in (None, "") for name in _KeptConversations.base_filters)
        return WalkScope(
            role=data.get("role") or "",
            until=_day_start(day + timedelta(1)) if day else None,
            sized=size is not None and sizes_spread(size, using=self.queryset.db),
            owners=self.listed_users,
            conversations=self.kept_conversations if keeps else None,
        )

    def kept_conversations(self) -> QuerySet[Conversation]:
        """Return the conversations this search's filters keep, unread."""
        conversations = Conversation.objects.db_manager(self.queryset.db).all()
        return _KeptConversations(self.data, queryset=conversations).qs


def dates_in_order(form: Any, start: str, end: str) -> bool:
    """Return whether the form's start date is not after its end date, adding the error to the end field if it is."""
    data = form.cleaned_data
    if data.get(start) and data.get(end) and data[start] > data[end]:
        form.add_error(end, f"“{form.fields[end].label}” is before “{form.fields[start].label}”.")
        return False
    return True


def _account_names(text: str) -> list[str]:
    """Return the usernames of the accounts named text in any case (one, unless two differ only in case)."""
    model = get_user_model()
    return list(
        model._default_manager.filter(**{f"{model.USERNAME_FIELD}__iexact": text}).values_list(
            model.USERNAME_FIELD, flat=True
        )
    )


class AuditFilter(DeclaredFilterSet):
    # An account's name in any case (dba, DBA): the accounts whose username it is, else the text as written (a
    # command line's os:<user>, a deleted account's name). Each name is an index walk (audit_who_at_id).
    actor = django_filters.CharFilter(method="filter_actor", label="Who", max_length=150)
    # Exact: each action has its own index walk (audit_action_at_id). The page offers the log's actions to pick
    # from (a <datalist>, views.audit).
    action = django_filters.CharFilter(
        field_name="action", max_length=64, widget=forms.TextInput(attrs={"list": "audit-actions"})
    )
    target = django_filters.CharFilter(field_name="target", lookup_expr="startswith", max_length=300)
    since = BoundedDateFilter(method="filter_since", label="From", widget=DATE_INPUT)
    until = BoundedDateFilter(method="filter_until", label="To", widget=DATE_INPUT)

    class Meta(FilterMeta):
        model = AuditEvent

    def filter_actor(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        names = _account_names(value) or [value]
        return (
            queryset.filter(actor_username=names[0]) if len(names) == 1 else queryset.filter(actor_username__in=names)
        )

    def filter_since(self, queryset: QuerySet[AuditEvent], name: str, value: date) -> QuerySet[AuditEvent]:
        return queryset.filter(at__gte=_day_start(value))

    def filter_until(self, queryset: QuerySet[AuditEvent], name: str, value: date) -> QuerySet[AuditEvent]:
        return queryset.filter(at__lt=_day_start(value + timedelta(days=1)))

    def is_valid(self) -> bool:
        return super().is_valid() and dates_in_order(self.form, "since", "until")
