"""A chat user's preferences, a side panel of the thread and user pages: never the reason such a page cannot open.

Another session holding conversation_preferences ACCESS EXCLUSIVE (a migration's ALTER TABLE, a LOCK left open)
made every thread wait WEB_LOCK_TIMEOUT_MS and answer 503, though the thread's own tables were free. The page's
first query now says whether that table is locked (with_preferences_lock: catalog and pg_locks only), and the
preferences are read apart only when it is not.
"""

from __future__ import annotations

from typing import Any, Final

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from schemaadmin.models import ConversationPreference
from schemaadmin.pg.locked import table_locked_expression

__all__ = ["PREFERENCES_LOCKED", "UNREADABLE_SETTINGS", "PreferencesLocked", "preferences_of", "with_preferences_lock"]


class PreferencesLocked:
    """The preferences could not be read: another session locks their table."""

    locked = True

    def __bool__(self) -> bool:  # "{% if preferences %}" shows none
        return False


PREFERENCES_LOCKED: Final = PreferencesLocked()
# What settings too deeply nested for Python to read show instead.
UNREADABLE_SETTINGS: Final = "(too deeply nested to read)"


def with_preferences_lock[Q: QuerySet[Any, Any]](queryset: Q) -> Q:
    """Return the queryset with preferences_locked on each row: whether their table is locked now."""
    sql, params = table_locked_expression(ConversationPreference._meta.db_table)
    return queryset.annotate(preferences_locked=RawSQL(sql, params, output_field=BooleanField()))  # type: ignore[return-value]


def preferences_of(row: Any, user_id: Any) -> ConversationPreference | PreferencesLocked | None:
    """Return the user's preferences (None: none set), or PREFERENCES_LOCKED when the row, read through
    with_preferences_lock(), says their table is locked."""
    if row.preferences_locked:
        return PREFERENCES_LOCKED
    try:
        return ConversationPreference.objects.filter(user_id=user_id).first()
    except RecursionError:
        # Settings nested past what Python's JSON decoder reads (~10,000 levels): the rest of the row, and a note.
        preference = ConversationPreference.objects.filter(user_id=user_id).defer("settings").first()
        if preference is not None:
            preference.settings = UNREADABLE_SETTINGS
        return preference
