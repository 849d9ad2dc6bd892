"""Django admin over the chat product's tables: read-only, every read audited, sized for 10M messages.

The chat data is the product's, written by it: the admin shows its raw records and changes none (no add, change or
delete; deleting a user's data is no click in a raw-record admin). Every list and record it shows writes one audit
event (admin.list, admin.view), as the dashboard's reads do (conversation.list, conversation.view). Its lists never
count a whole table (their total is the planner's estimate, counted only when small), page by OFFSET only through
the first ADMIN_PAGES pages, sort only by the primary key, read related rows in the same statement, and search only
what an index answers (ids and exact keys). Searching message text is the dashboard's: /conversations/ has the
full-text search, keyset pages and estimated totals.
"""

from __future__ import annotations

from math import ceil
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.functional import cached_property

from schemaadmin.audit import record_read
from schemaadmin.conf import app_settings
from schemaadmin.permissions import audit_refusal
from schemaadmin.pg.estimates import RowTotal
from schemaadmin.services.conversations import listing_total

__all__ = ["READ_ONLY", "ChatRecordAdmin", "EstimatedPaginator"]

# What a refused add, change or delete lacked (access.denied's "permission"): no one has it.
READ_ONLY = "none: the chat records are read-only in the admin"


class EstimatedPaginator(Paginator):
    """Paginator whose count is the planner's estimate (exact below EXACT_COUNT_BELOW, by a bounded count), with at
    most ADMIN_PAGES pages: Django's ChangeList reads paginator.count for its total and pages by OFFSET."""

    @cached_property
    def total(self) -> RowTotal:
        assert isinstance(self.object_list, QuerySet)  # a changelist's
        try:
            return listing_total(self.object_list)
        except EmptyResultSet:  # a search whose words are no key (Q(pk__in=[])): no statement to ask about
            return RowTotal(0, exact=True)

    @cached_property
    def count(self) -> int:
        return self.total.value

    @cached_property
    def num_pages(self) -> int:
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        return min(ceil(max(1, self.count - self.orphans) / self.per_page), app_settings()["ADMIN_PAGES"])


class KeyOrderedChangeList(ChangeList):
    """ChangeList ordered by the primary key alone, newest first: a column's ?o= would sort the whole table."""

    def get_ordering_field(self, field_name: Any) -> None:
        return None


class ChatRecordAdmin(admin.ModelAdmin):
    """A chat table's records, shown and never changed; each list and record shown is audited."""

    actions = None
    paginator = EstimatedPaginator
    show_full_result_count = False
    sortable_by = ()
    # Filters a list may be given in its URL (Django allows any of the model's own fields: ?content__icontains=):
    # only lookups an index answers.
    indexed_lookups: frozenset[str] = frozenset()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return KeyOrderedChangeList

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        return lookup in self.indexed_lookups

    def viewed(self, obj: Any) -> tuple[str, dict[str, Any]]:
        """Return an audit event's target and detail for obj shown by itself."""
        return f"{self.opts.model_name}:{obj.pk}", {}

    def listed(self, rows: list[Any]) -> dict[str, Any]:
        """Return what an audit event says a list page showed (the records' ids, by kind)."""
        return {}

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = self._refusal_audited(request, super().changelist_view, request, extra_context, reads=True)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            # The page's rows, read here once: the template iterates the same evaluated queryset.
            shown = list(changelist.result_list)
            asked = {"query": request.GET.urlencode()} if request.GET else {}
            record_read(request, "admin.list", self.opts.label_lower, **asked, **self.listed(shown))
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = self._refusal_audited(
            request, super().change_view, request, object_id, form_url, extra_context, reads=True
        )
        self._record_view(request, response, "original")
        return response

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = self._refusal_audited(request, super().history_view, request, object_id, extra_context, reads=True)
        self._record_view(request, response, "object", page="history")
        return response

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return self._refusal_audited(request, super().add_view, request, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return self._refusal_audited(request, super().delete_view, request, object_id, extra_context)

    def _record_view(self, request: HttpRequest, response: HttpResponse, key: str, **detail: Any) -> None:
        obj = (getattr(response, "context_data", None) or {}).get(key)
        if obj is not None:  # shown (not a missing record's redirect)
            target, about = self.viewed(obj)
            record_read(request, "admin.view", target, model=self.opts.label_lower, **about, **detail)

    def _refusal_audited(self, request: HttpRequest, view: Any, *args: Any, reads: bool = False) -> HttpResponse:
        """Return view(*args); a refusal is audited (access.denied) before it is raised, as the dashboard's are.

        reads: the view shows records, so a GET of it lacked the view permission; anything else lacked what no one has.
        """
        try:
            return view(*args)
        except PermissionDenied:
            reading = reads and request.method in ("GET", "HEAD")
            needed = f"{self.opts.app_label}.view_{self.opts.model_name}" if reading else READ_ONLY
            audit_refusal(request, needed)
            raise
