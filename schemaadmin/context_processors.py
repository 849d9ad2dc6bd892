"""Template context every page's layout needs: navigation and the database it is looking at."""

from __future__ import annotations

import time
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest

from schemaadmin.permissions import has_any_role, navigation_for
from schemaadmin.pg.server import server_info

__all__ = ["layout"]

_SERVER_LABEL_TTL = 60.0
_server_label: tuple[float, str] | None = None


def _database_label() -> str:
    """Return "dbname · PostgreSQL 18.1", asked of the server at most once a minute per process."""
    global _server_label
    now = time.monotonic()
    if _server_label is None or now - _server_label[0] > _SERVER_LABEL_TTL:
        try:
            info = server_info()
            label = f"{info.database} · PostgreSQL {info.version.split()[0]}"
        except DatabaseError:
            label = "database unreachable"
        _server_label = (now, label)
    return _server_label[1]


def layout(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not has_any_role(user):
        return {"nav_items": [], "database_label": ""}
    return {"nav_items": navigation_for(user), "database_label": _database_label()}
