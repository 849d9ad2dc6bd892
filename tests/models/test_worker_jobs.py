"""The database itself refuses a second active job on the same index or database."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from schemaadmin.models import IndexRebuild, JobState, MigrationApply

pytestmark = pytest.mark.django_db


def test_one_active_rebuild_per_index():
    IndexRebuild.objects.create(index_name="chunks_hnsw", method="hnsw", state=JobState.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        IndexRebuild.objects.create(index_name="chunks_hnsw", method="hnsw")
    # Finished rebuilds don't count, and other indexes are free.
    IndexRebuild.objects.create(index_name="chunks_hnsw", method="hnsw", state=JobState.FAILED)
    IndexRebuild.objects.create(index_name="users_pkey", method="btree")


def test_one_active_migration_apply_per_database():
    MigrationApply.objects.create(plan=["schemaadmin.0009_x"])
    with pytest.raises(IntegrityError), transaction.atomic():
        MigrationApply.objects.create(plan=["schemaadmin.0009_x"])
    MigrationApply.objects.create(plan=["schemaadmin.0009_x"], database_alias="replica")
