"""Drop the audit log's single-column actor index: (actor_id, at DESC) leads with the same column.

index_health's redundant_index finding on the demo database. Non-atomic, so the index goes CONCURRENTLY.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEX = "schemaadmin_auditevent_actor_id_d4cb7779"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("schemaadmin", "0005_explain_role"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"',
                    f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" ON "schemaadmin_auditevent" ("actor_id")',
                ),
            ],
        ),
    ]
