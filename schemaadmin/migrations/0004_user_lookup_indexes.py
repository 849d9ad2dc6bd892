"""Index the ways support staff find a user: email in any case, start of name, newest first. Built CONCURRENTLY."""

from django.contrib.postgres.indexes import OpClass
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.models.functions import Upper


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("schemaadmin", "0003_conversation_counts_and_sort_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="chatuser",
            index=models.Index(Upper("email"), name="users_email_upper"),
        ),
        AddIndexConcurrently(
            model_name="chatuser",
            index=models.Index(OpClass(Upper("display_name"), name="text_pattern_ops"), name="users_name_upper_prefix"),
        ),
        AddIndexConcurrently(
            model_name="chatuser",
            index=models.Index(
                models.OrderBy(models.F("created_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="users_created_id",
            ),
        ),
    ]
