"""A field the lint fixtures need: Django's JSONField stored as json (no equality operator), not jsonb."""

from __future__ import annotations

from typing import Any

from django.db import models


class PlainJsonField(models.JSONField):
    def db_type(self, connection: Any) -> str:
        return "json"
