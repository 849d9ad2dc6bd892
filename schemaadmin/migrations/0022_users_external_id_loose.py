"""Support finds a user by the id as they were told it: any case, with or without spaces, dots, dashes, parentheses.

"+44 7700 900111" read out as "+447700900111", "acct-9T8EDZ" typed "ACCT-9t8edz": both found nothing. An expression
index on the spelling they are matched in (models.chat.loose_external_id), built without blocking writes to users:
CREATE INDEX CONCURRENTLY, so this migration runs outside a transaction.
"""

import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("schemaadmin", "0021_messages_fts_list_limit"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="chatuser",
            index=models.Index(
                django.db.models.functions.text.Upper(
                    models.Func(
                        models.F("external_id"),
                        models.Value("[\\s\u00a0\u2007\u2009\u202f().\u2010-\u2015-]+"),
                        models.Value(""),
                        models.Value("g"),
                        function="regexp_replace",
                        output_field=models.CharField(),
                    )
                ),
                name="users_external_id_loose",
            ),
        ),
    ]
