"""Our migrations apply from zero and reverse to zero on a real server."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection

from schemaadmin.permissions import ROLES

CHAT_TABLES = {
    "users",
    "conversations",
    "conversation_messages",
    "conversation_preferences",
    "knowledge_base_documents",
    "knowledge_base_chunks",
}


def _tables() -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in cur.fetchall()}


def _vector_installed() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        return cur.fetchone() is not None


@pytest.mark.django_db(transaction=True)
def test_migrate_to_zero_and_back():
    assert CHAT_TABLES <= _tables()
    call_command("migrate", "schemaadmin", "zero", verbosity=0)
    assert not (CHAT_TABLES & _tables())
    # pgvector was installed by the server's administrator (the app's role may not create it), so it stays.
    assert _vector_installed()
    assert not Group.objects.filter(name__in=list(ROLES)).exists()

    call_command("migrate", "schemaadmin", verbosity=0)
    assert CHAT_TABLES <= _tables()
    assert _vector_installed()
    assert set(Group.objects.filter(name__in=list(ROLES)).values_list("name", flat=True)) == set(ROLES)


@pytest.mark.django_db
def test_models_and_migrations_agree():
    # A model change without its migration would make the live schema drift from the code.
    call_command("makemigrations", "schemaadmin", "--check", "--dry-run", verbosity=0)
