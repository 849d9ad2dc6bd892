"""Index the words of users' names, so the user finder finds a user by any word's start: a surname, not only a name.

"smith" found no "Jane Smith" when a name matched from its start only. A GIN index of the name's words ('simple':
each word as written, lower case) answers a prefix search per word; the finder's other matches keep their indexes.

Non-atomic, so the index is built CONCURRENTLY: users takes sign-ups while it builds.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import AddIndexConcurrently
from django.contrib.postgres.search import SearchVector
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("schemaadmin", "0027_messages_rare_role_fts"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="chatuser",
            index=GinIndex(SearchVector("display_name", config="simple"), name="users_name_words"),
        ),
    ]
