from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import migrations


class Migration(migrations.Migration):
    """Dangerous: an exclusion constraint on an existing table (it cannot be added NOT VALID)."""

    dependencies = [("schema_fixtures", "0012_plain_vacuum")]
    operations = [
        migrations.AddField("widget", "booked", DateTimeRangeField(null=True)),
        migrations.AddConstraint(
            "widget",
            ExclusionConstraint(name="widget_booked_no_overlap", expressions=[("booked", RangeOperators.OVERLAPS)]),
        ),
    ]
