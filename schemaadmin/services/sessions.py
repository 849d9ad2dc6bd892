"""Signed-in sessions that are no use to anyone: past their expiry, never to be read again."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.utils import timezone

__all__ = ["clear_expired"]


def clear_expired() -> int:
    """Delete the sessions whose expiry has passed (through django_session's expire_date index); return how many."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
