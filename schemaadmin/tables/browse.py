"""django-tables2 tables of the conversation browser, the user finder and the audit log."""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import cache
from typing import Any

import django_tables2 as tables
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.formats import localize
from django.utils.hashable import make_hashable
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.translation import get_language
from django_tables2.columns.base import BoundColumn
from django_tables2.rows import BoundRow
from django_tables2.utils import Accessor, signature

from schemaadmin.formats import when_html
from schemaadmin.models import AuditEvent, ChatUser, Conversation, Message
from schemaadmin.tables.audit_detail import detail_html, target_html
from schemaadmin.tables.links import object_url
from schemaadmin.tables.rows import body_rows
from schemaadmin.templatetags.browse import utc_time
from schemaadmin.templatetags.humanize_extras import thousands

__all__ = ["AuditTable", "ConversationTable", "SearchHitTable", "UserTable", "object_url"]


class _BrowseTable(tables.Table):
    class Meta:
        orderable = False  # order and paging come from the keyset controls, never from OFFSET
        attrs = {"class": "table table-sm table-hover align-middle"}
        empty_text = "Nothing matches these filters."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built from the class alone (no per-instance attrs, default or extra columns): each column's <th>/<td>
        # markup is the same for every instance, so as_page_html keeps it per class.
        self._class_markup = not any(kwargs.get(name) is not None for name in ("attrs", "default", "extra_columns"))

    # Column name -> the URL sort key that orders the list by it (templatetags.browse.sorted_browse_table).
    sort_keys: dict[str, str] = {}

    def as_page_html(self, headers: dict[str, str] | None = None) -> SafeString:
        """Return the table as django-tables2's table.html renders it, each column prepared once, not per cell.

        headers replaces the <th> of the columns it names (sortable headers, which depend on the request).
        """
        # Why not {% render_table %}: for a 25-row page it spent ~13 ms of a ~21 ms request on per-cell machinery
        # (a BoundRow per row, get_cell, inspect.signature of the render method and the attrs dicts rebuilt for
        # every one of the 175 cells) and on a second run of every context processor. The columns, headers,
        # attrs, render_<name> methods, defaults and empty text still come from this Table; here the signature,
        # accessor and <td> attributes are worked out once per column and each row is one pass over them.
        # tests/views/test_browse_tables.py checks the HTML is the same as {% render_table %}'s.
        if self.row_attrs or self.pinned_data.get("top") or self.pinned_data.get("bottom") or self.has_footer():
            raise ImproperlyConfigured(f"{type(self).__name__}: row_attrs, pinned rows and footers need render_table.")
        bound_columns = list(self.columns)
        columns = [_FastColumn(self, bound) for bound in bound_columns]
        headers = headers or {}
        parts: list[str] = [
            format_html('<div class="table-container"><table {}>', self.attrs.as_html()),
            format_html("<thead {}><tr>", self.attrs["thead"].as_html()),
            *(headers.get(bound.name, column.th) for bound, column in zip(bound_columns, columns, strict=True)),
            "</tr></thead>",
            self._tbody(columns),
            "</table></div>",
        ]
        return mark_safe("".join(parts))

    @property
    def tbody_html(self) -> SafeString:
        """Return the <tbody> as django-tables2 writes it, each column prepared once: what includes/health_table.html
        writes for a table that has it (the audit log, whose sortable "When" header that template draws)."""
        return self._tbody([_FastColumn(self, bound) for bound in self.columns])

    def _tbody(self, columns: list[_FastColumn]) -> SafeString:
        rows = body_rows(self.data, _plain_row, columns, self.empty_text)
        return mark_safe(format_html("<tbody {}>", self.attrs["tbody"].as_html()) + "".join(rows) + "</tbody>")


def _plain_row(counter: int, record: Any) -> str:
    return '<tr class="odd">' if counter % 2 else '<tr class="even">'


class _FastColumn:
    """One column of a table with what its cells need worked out once: what BoundRow.get_cell does per cell."""

    __slots__ = ("_accessor", "_attribute", "_call", "_empty", "_empty_values", "_labels", "_needs_value", "_td", "th")

    def __init__(self, table: _BrowseTable, bound: BoundColumn) -> None:
        column = bound.column
        if bound.orderable or bound.link or bound.localize is not None:
            raise ImproperlyConfigured(f"Column {bound.name}: ordering links, linkify and localize need render_table.")
        if any(callable(value) for key in ("cell", "th", "td") for value in column.attrs.get(key, {}).values()):
            raise ImproperlyConfigured(f"Column {bound.name}: computed attrs need render_table.")
        if table._class_markup:
            self.th, self._td, self._empty = _class_markup(type(table), bound.name, bound)
        else:
            self.th, self._td, self._empty = _markup(bound)
        self._empty_values = column.empty_values
        self._call = _caller(table, bound)
        arguments, catch_all = _arguments(bound.render)
        # The value is looked up when the column can be empty or its render method asks for it.
        self._needs_value = bool(column.empty_values) or catch_all or "value" in arguments
        self._accessor = accessor = Accessor(bound.accessor)
        # A one-step accessor is read with getattr; a field with choices shows its label (get_FOO_display).
        nested = Accessor.SEPARATOR in accessor or Accessor.LEGACY_SEPARATOR in accessor
        self._attribute = "" if nested else str(accessor)
        self._labels = _choice_labels(table._meta.model, self._attribute) if self._attribute else None

    def cell(self, record: Any) -> str:
        """Return the <td> of this column for one record, as django-tables2's table.html fills it."""
        value = None
        if self._needs_value:
            value = self._value(record)
            if value in self._empty_values:
                return self._empty
        content = self._call(record, value)
        if type(content) is str:  # what {{ cell }} does to text
            content = html.escape(content)
        elif not isinstance(content, SafeData):  # ... and to other values: numbers, dates, None
            content = conditional_escape(localize(timezone.template_localtime(content)))  # type: ignore[attr-defined]
        return f"{self._td}{content}</td>"

    def _value(self, record: Any) -> Any:
        if self._attribute:
            value = getattr(record, self._attribute, None)
            if self._labels is not None:
                return force_str(self._labels.get(make_hashable(value), value), strings_only=True)
            if not callable(value):
                return value
        return _resolved(self._accessor, record)


def _markup(bound: BoundColumn) -> tuple[str, str, str]:
    """Return a column's <th> cell, the opening of its <td> cells, and its cell for an empty value."""
    attrs = bound.attrs
    td = format_html("<td {}>", attrs["td"].as_html())
    return (
        format_html("<th {}>{}</th>", attrs["th"].as_html(), bound.header),
        td,
        format_html("{}{}</td>", td, bound.default),
    )


# (table class, column name, language) -> _markup of a column of a table built from its class alone.
_CLASS_MARKUP: dict[tuple[type, str, str | None], tuple[str, str, str]] = {}


def _class_markup(table_class: type, name: str, bound: BoundColumn) -> tuple[str, str, str]:
    key = (table_class, name, get_language())  # headers may be translated
    found = _CLASS_MARKUP.get(key)
    if found is None:
        found = _CLASS_MARKUP[key] = _markup(bound)
    return found


def _caller(table: _BrowseTable, bound: BoundColumn) -> Callable[[Any, Any], Any]:
    """Return a function of (record, value) calling the column's render with the arguments it declares."""
    render = bound.render
    arguments, catch_all = _arguments(render)
    if not catch_all and arguments == ("record",):
        return lambda record, value: render(record=record)
    if not catch_all and arguments == ("value",):
        return lambda record, value: render(value=value)

    def call(record: Any, value: Any) -> Any:
        available = {"value": value, "record": record, "column": bound.column, "bound_column": bound, "table": table}
        available["bound_row"] = BoundRow(record, table=table)
        if catch_all:
            return render(**available)
        if any(name not in available for name in arguments):
            return None  # as django-tables2's call_with_appropriate
        return render(**{name: available[name] for name in arguments})

    return call


# Render method -> (argument names, takes **kwargs): inspect.signature once per method, not once per cell.
_ARGUMENTS: dict[Callable[..., Any], tuple[tuple[str, ...], bool]] = {}


def _arguments(render: Callable[..., Any]) -> tuple[tuple[str, ...], bool]:
    """Return the argument names of a (bound) render method and whether it takes **kwargs."""
    function = getattr(render, "__func__", render)
    found = _ARGUMENTS.get(function)
    if found is None:
        arguments, catch_all = signature(render)  # of the bound method: without self
        found = _ARGUMENTS[function] = (arguments, catch_all is not None)
    return found


def _resolved(accessor: Accessor, record: Any) -> Any:
    penultimate, remainder = accessor.penultimate(record)
    if isinstance(penultimate, models.Model) and hasattr(penultimate, f"get_{remainder}_display"):
        try:
            choices = getattr(penultimate._meta.get_field(remainder), "choices", None)
        except FieldDoesNotExist:
            choices = None
        if choices:
            return getattr(penultimate, f"get_{remainder}_display")()
    try:
        return accessor.resolve(record)
    except Exception:  # as django-tables2: a column that is not a field (its render method uses the record)
        return None


@cache
def _choice_labels(model: type[models.Model] | None, name: str) -> dict[Any, Any] | None:
    """Return value -> label of the model field called name when it has choices (get_FOO_display's mapping)."""
    try:
        field = model._meta.get_field(name) if model is not None else None
    except FieldDoesNotExist:
        return None
    choices = getattr(field, "flatchoices", None) if isinstance(field, models.Field) else None
    return dict(make_hashable(choices)) if choices else None


def _html(template: str, *args: Any) -> SafeString:
    """Return format_html(template, *args), skipping its lazy-string checks: the hot path of a table's cells."""
    # Same escaping as conditional_escape (html.escape of str(arg) unless it is already markup).
    return mark_safe(template.format(*(a.__html__() if hasattr(a, "__html__") else html.escape(str(a)) for a in args)))


# On a phone the rows of the browsing tables are cards (schemaadmin.css, .cards-on-phone): the first cell across the
# screen, then the others on a line, each named by its data-label, as the hidden header row would.
_CARDS_ON_PHONE = {"class": "table table-sm table-hover align-middle cards-on-phone"}


class ConversationTable(_BrowseTable):
    title = tables.Column(verbose_name="Conversation", empty_values=(), attrs={"td": {"class": "user-text"}})
    user = tables.Column(
        verbose_name="User", empty_values=(), attrs={"td": {"class": "user-text", "data-label": "User"}}
    )
    channel = tables.Column(attrs={"td": {"data-label": "Channel"}})
    message_count = tables.Column(
        verbose_name="Messages", attrs={"td": {"class": "text-end", "data-label": "Messages"}}
    )
    total_tokens = tables.Column(verbose_name="Tokens", attrs={"td": {"class": "text-end", "data-label": "Tokens"}})
    created_at = tables.Column(verbose_name="Created", attrs={"td": {"data-label": "Created"}})
    activity = tables.Column(
        verbose_name="Last activity", empty_values=(), attrs={"td": {"data-label": "Last activity"}}
    )

    class Meta(_BrowseTable.Meta):
        model = Conversation
        fields: tuple[str, ...] = ()
        attrs = _CARDS_ON_PHONE

    # Every order has its own index (services.conversations._ORDER_LIST): the headers offer them all.
    sort_keys = {"message_count": "messages", "total_tokens": "tokens", "created_at": "created", "activity": "activity"}

    def render_title(self, record: Conversation) -> str:
        url = object_url("schemaadmin:conversation", record.pk)
        return _html('<a href="{}"><bdi>{}</bdi></a>', url, str(record))

    def render_user(self, record: Conversation) -> str:
        return _user_link(record.user)

    def render_message_count(self, value: int) -> str:
        return thousands(value)

    def render_total_tokens(self, value: int) -> str:
        return thousands(value)

    def render_created_at(self, value: Any) -> str:
        return utc_time(value)

    def render_activity(self, record: Conversation) -> str:
        return utc_time(record.last_message_at or record.created_at)


class SearchHitTable(_BrowseTable):
    snippet = tables.Column(verbose_name="Matching message", empty_values=(), attrs={"td": {"class": "snippet"}})
    role = tables.Column()
    conversation = tables.Column(empty_values=(), attrs={"td": {"class": "user-text", "data-label": "In"}})
    user = tables.Column(
        accessor="conversation__user",
        empty_values=(),
        attrs={"td": {"class": "user-text", "data-label": "User"}},
    )
    created_at = tables.Column(verbose_name="Sent", attrs={"td": {"data-label": "Sent"}})

    class Meta(_BrowseTable.Meta):
        model = Message
        fields: tuple[str, ...] = ()
        attrs = _CARDS_ON_PHONE

    # The search the hits answer, urlencoded (q, role, back: views.conversations): the thread opens with its terms
    # marked, steps through its role's hits and links back to this page of the search.
    hit_params = ""

    def render_snippet(self, record: Message) -> str:
        url = object_url("schemaadmin:conversation", record.conversation_id)
        # The search's parameters quoted once per page, not once per hit.
        return _html(
            '<a class="hit" href="{}?around={}&amp;{}#m{}"><bdi>{}</bdi></a>',
            url,
            record.pk,
            self.hit_params,
            record.pk,
            record.snippet,  # type: ignore[attr-defined]
        )

    def render_role(self, record: Message) -> str:
        return _html('<span class="role-badge role-{}">{}</span>', record.role, record.role)

    def render_conversation(self, record: Message) -> str:
        conversation = record.conversation
        url = object_url("schemaadmin:conversation", conversation.pk)
        return _html('<a href="{}"><bdi>{}</bdi></a>', url, str(conversation))

    def render_user(self, record: Message) -> str:
        return _user_link(record.conversation.user)

    def render_created_at(self, value: Any) -> str:
        return utc_time(value)


def _user_link(user: ChatUser) -> str:
    """The user's name linking to their page, then their external id; a user without a name is their id, once.
    Each in <bdi>, as every text users wrote is: a right-to-left override in a name reversed the id beside it."""
    url = object_url("schemaadmin:user", user.pk)
    if not user.display_name:
        return _html('<a href="{}"><bdi>{}</bdi></a>', url, user.external_id)
    named = '<a href="{}"><bdi>{}</bdi></a> <span class="text-body-secondary small"><bdi>{}</bdi></span>'
    return _html(named, url, user.display_name, user.external_id)


class UserTable(_BrowseTable):
    display_name = tables.Column(verbose_name="Name", empty_values=(), attrs={"td": {"class": "user-text"}})
    external_id = tables.Column(
        verbose_name="External id", attrs={"td": {"class": "user-text", "data-label": "External id"}}
    )
    email = tables.Column(attrs={"td": {"class": "user-text", "data-label": "Email"}})
    created_at = tables.Column(verbose_name="Since", attrs={"td": {"data-label": "Since"}})

    class Meta(_BrowseTable.Meta):
        model = ChatUser
        fields: tuple[str, ...] = ()
        empty_text = "No user matches."
        attrs = _CARDS_ON_PHONE

    def render_display_name(self, record: ChatUser) -> str:
        url = object_url("schemaadmin:user", record.pk)
        return _html('<a href="{}"><bdi>{}</bdi></a>', url, str(record))

    def render_created_at(self, value: Any) -> str:
        return utc_time(value)


class AuditTable(_BrowseTable):
    at = tables.Column(verbose_name="When")
    actor_username = tables.Column(verbose_name="Who", empty_values=())
    action = tables.Column()
    target = tables.Column()
    ip_address = tables.Column(verbose_name="From")
    detail = tables.Column(empty_values=())

    class Meta(_BrowseTable.Meta):
        model = AuditEvent
        fields: tuple[str, ...] = ()
        empty_text = "No audit events match."
        attrs = _CARDS_ON_PHONE
        template_name = "schemaadmin/includes/health_table.html"  # "When" orders the log, newest or oldest first

    keyset_column = "at"
    keyset_order = "newest"  # the view sets the order in use

    def render_at(self, value: Any) -> str:
        return when_html(value, "seconds")  # events of one minute told apart

    def render_actor_username(self, value: str) -> str:
        return value or "—"

    def render_target(self, record: AuditEvent) -> str:
        return target_html(record.action, record.target)

    def render_detail(self, record: AuditEvent) -> str:
        return detail_html(record.action, record.detail)
