"""The message search index keeps at most 256 kB of pending entries, not the server's 4 MB.

With fastupdate (GIN's default) a new message's words wait in a pending list that every search scans in full before
the index proper, until an insert finds the list over its limit and merges it. At 4 MB a search for a rare word read
~460 pending pages (~2 ms) on top of ~4; at 256 kB it reads a few. Inserting 3,000 answers cost no more on average
(0.71 ms each against 0.63, plus the 4 MB list's own merge, ~575 ms, that the 3,000 never reached), and the slowest
insert, the one that merges, took 35 ms instead of 575 ms (bench database, 2026-12-05).

Only the setting changes: the index is not rebuilt (Django would drop and build it again for a changed GinIndex).
ALTER INDEX … SET takes the index's ACCESS EXCLUSIVE lock for an instant, under the apply job's lock_timeout.
"""

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

INDEX = "messages_content_fts"


class Migration(migrations.Migration):
    dependencies = [
        ("schemaadmin", "0020_audit_actor_kept"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f"ALTER INDEX {INDEX} SET (gin_pending_list_limit = 256)",
                    reverse_sql=f"ALTER INDEX {INDEX} RESET (gin_pending_list_limit)",
                ),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="message", name=INDEX),
                migrations.AddIndex(
                    model_name="message",
                    index=GinIndex(fields=["search_vector"], name=INDEX, gin_pending_list_limit=256),
                ),
            ],
        ),
    ]
