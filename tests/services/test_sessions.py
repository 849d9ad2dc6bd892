"""Expired sessions are cleared once a day by the worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from schemaadmin.tasks import clear_expired_sessions

pytestmark = pytest.mark.django_db


def _session(expires_in: timedelta) -> str:
    store = SessionStore()
    store["who"] = "someone"
    store.set_expiry(timezone.now() + expires_in)
    store.save()
    assert store.session_key is not None
    return store.session_key


def test_expired_sessions_go_and_live_ones_stay():
    expired = [_session(timedelta(hours=-1)), _session(timedelta(seconds=-1))]
    live = _session(timedelta(hours=8))
    clear_expired_sessions(0)
    assert set(Session.objects.values_list("session_key", flat=True)) == {live}
    assert SessionStore(session_key=live)["who"] == "someone"
    assert not Session.objects.filter(session_key__in=expired).exists()


def test_the_task_runs_daily():
    from procrastinate.contrib.django import app

    import schemaadmin.tasks  # noqa: F401 -- registers the tasks

    (periodic,) = [p for key, p in app.periodic_registry.periodic_tasks.items() if key[1] == "clear_expired_sessions"]
    assert periodic.task.name == "schemaadmin.clear_expired_sessions" and periodic.cron == "17 3 * * *"
