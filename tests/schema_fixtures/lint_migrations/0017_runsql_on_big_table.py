from django.db import migrations


class Migration(migrations.Migration):
    """Dangerous: raw SQL our size rules read with pglast (a plain index, SET NOT NULL)."""

    dependencies = [("schema_fixtures", "0016_product_table_with_grant")]
    operations = [
        migrations.RunSQL(
            "CREATE INDEX widget_name_upper ON schema_fixtures_widget (upper(name));"
            " ALTER TABLE schema_fixtures_widget ALTER COLUMN colour SET NOT NULL;",
            migrations.RunSQL.noop,
        ),
    ]
