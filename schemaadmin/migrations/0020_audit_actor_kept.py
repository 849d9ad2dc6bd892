"""An audit event keeps the id of who acted when their account is deleted: the foreign key's constraint goes (deleting
an account rewrote every event it had made), and with it the (actor, -at) index that served it and nothing else."""

import django.db.models.deletion
from django.conf import settings
from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Non-atomic: the index goes CONCURRENTLY, so page views keep writing their audit events meanwhile.
    atomic = False

    dependencies = [
        ("schemaadmin", "0019_audit_filter_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Dropping a foreign key's constraint takes a brief lock and reads nothing.
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        RemoveIndexConcurrently(
            model_name="auditevent",
            name="audit_actor_at",
        ),
    ]
