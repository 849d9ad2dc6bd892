"""Index the rare roles' messages (system, tool): "Has a message from" and a search's "Message from" read them alone.

Non-atomic, so the indexes are built CONCURRENTLY: conversation_messages takes writes while they build. Partial,
so the user's and the assistant's messages (nearly all of them) add nothing to them.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

RARE_ROLES = models.Q(("role__in", ["system", "tool"]))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("schemaadmin", "0025_migrationapply_fingerprint"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="message",
            index=models.Index(condition=RARE_ROLES, fields=["conversation", "role"], name="messages_rare_role_conv"),
        ),
        AddIndexConcurrently(
            model_name="message",
            index=models.Index(
                models.F("role"),
                models.OrderBy(models.F("created_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                condition=RARE_ROLES,
                name="messages_rare_role_created",
            ),
        ),
    ]
