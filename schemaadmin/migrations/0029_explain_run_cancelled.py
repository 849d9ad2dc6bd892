"""An EXPLAIN run that another session cancelled or ended (e.g. from the Activity page) is recorded as cancelled.

It was recorded as timed out: PostgreSQL gives a statement_timeout and a cancel request the same SQLSTATE.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("schemaadmin", "0028_users_name_words"),
    ]

    operations = [
        migrations.AlterField(
            model_name="explainrun",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("running", "Running"),
                    ("ok", "Completed"),
                    ("refused", "Refused"),
                    ("error", "Error"),
                    ("timeout", "Timed out"),
                    ("cancelled", "Cancelled"),
                ],
                max_length=16,
            ),
        ),
    ]
