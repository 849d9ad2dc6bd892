from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import migrations, models


class Migration(migrations.Migration):
    """Safe look-alike of 0013: the constraint is declared with its new, empty table."""

    dependencies = [("schema_fixtures", "0013_exclusion_constraint")]
    operations = [
        migrations.CreateModel(
            name="Booking",
            fields=[("id", models.BigAutoField(primary_key=True)), ("during", DateTimeRangeField())],
            options={
                "constraints": [
                    ExclusionConstraint(name="booking_no_overlap", expressions=[("during", RangeOperators.OVERLAPS)])
                ]
            },
        ),
    ]
