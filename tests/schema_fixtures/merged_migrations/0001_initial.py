"""A model whose column two branches alter differently (a merge's start state depends on the replay order)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            "Gauge", [("id", models.BigAutoField(primary_key=True)), ("level", models.IntegerField())]
        )
    ]
