"""The audit log is ordered by (at, id), and each of its filters has an index walking that order: who, action, and
the start of a target. The old (action, -at) index gave way to (action, at, id) once that one was built."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Non-atomic: the indexes build and go CONCURRENTLY, so every page view keeps writing its audit event meanwhile.
    atomic = False

    dependencies = [
        ("schemaadmin", "0018_long_migration_labels"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="auditevent",
            index=models.Index(fields=["action", "at", "id"], name="audit_action_at_id"),
        ),
        AddIndexConcurrently(
            model_name="auditevent",
            index=models.Index(fields=["actor_username", "at", "id"], name="audit_who_at_id"),
        ),
        AddIndexConcurrently(
            model_name="auditevent",
            index=models.Index(fields=["target"], name="audit_target_prefix", opclasses=["text_pattern_ops"]),
        ),
        RemoveIndexConcurrently(
            model_name="auditevent",
            name="audit_action_at",
        ),
    ]
