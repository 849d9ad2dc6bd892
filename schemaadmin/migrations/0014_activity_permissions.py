"""The live activity page's permissions: reading running queries' text, and cancelling or terminating sessions.

Both go to the dba group (databases whose groups migration 0002 made before these existed get them here).
"""

from django.db import migrations

NEW = {
    "view_query_text": "Read running queries' text, with the values in it",
    "signal_sessions": "Cancel queries and terminate database sessions",
}
GRANTED_TO = ("dba",)


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="schemaadmin", model="accessrule")
    permissions = [
        Permission.objects.get_or_create(content_type=content_type, codename=codename, defaults={"name": name})[0]
        for codename, name in NEW.items()
    ]
    for group in Group.objects.filter(name__in=GRANTED_TO):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="schemaadmin", codename__in=list(NEW)).delete()


class Migration(migrations.Migration):
    lint_exemptions = {"run_python_unread": "Grants two permissions to the groups: a few rows of auth's tables."}
    dependencies = [
        ("schemaadmin", "0013_query_stats"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="accessrule",
            options={
                "default_permissions": (),
                "managed": False,
                "permissions": (
                    ("view_conversations", "Browse and search users' conversations (read-only)"),
                    ("view_health", "See database, table and index health"),
                    ("view_rebuilds", "Watch index rebuilds"),
                    ("view_schema", "See migrations, lint and drift"),
                    ("run_explain", "Run EXPLAIN ANALYZE"),
                    ("rebuild_index", "Start and cancel index rebuilds"),
                    ("apply_migrations", "Apply pending migrations"),
                    ("view_audit", "Read the audit log"),
                    ("view_query_text", "Read running queries' text, with the values in it"),
                    ("signal_sessions", "Cancel queries and terminate database sessions"),
                ),
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
