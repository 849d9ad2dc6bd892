from django.db import migrations, models


def if_the_role_exists(statement: str) -> str:
    """Return a DO block running the statement only where the console's role exists (as migration 0007 does)."""
    # Constant text of this fixture, no input: the statement is one of the two below.
    return f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'schemaadmin_explain') THEN {statement}; END IF; END $$;"  # noqa: E501, S608


GRANT = if_the_role_exists("GRANT SELECT ON TABLE schema_fixtures_gizmo TO schemaadmin_explain")
REVOKE = if_the_role_exists("REVOKE SELECT ON TABLE schema_fixtures_gizmo FROM schemaadmin_explain")


class Migration(migrations.Migration):
    """Safe look-alike of 0015: the new table is granted to the console's role in the same migration."""

    dependencies = [("schema_fixtures", "0015_product_table_without_grant")]
    operations = [
        migrations.CreateModel("Gizmo", [("id", models.BigAutoField(primary_key=True)), ("label", models.TextField())]),
        migrations.RunSQL(GRANT, REVOKE),
    ]
