"""Create the support, operator and dba groups with the permissions each role holds."""

from django.db import migrations

from schemaadmin.models.operations import PERMISSIONS
from schemaadmin.permissions import ROLES


def create_roles(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    # Permissions are normally made after migrate (post_migrate); the groups need them now.
    content_type, _ = ContentType.objects.get_or_create(app_label="schemaadmin", model="accessrule")
    by_codename = {}
    for codename, name in PERMISSIONS:
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        by_codename[codename] = permission
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*(by_codename[c] for c in codenames))


def remove_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.filter(name__in=list(ROLES)).delete()
    Permission.objects.filter(content_type__app_label="schemaadmin", codename__in=[c for c, _ in PERMISSIONS]).delete()


class Migration(migrations.Migration):
    lint_exemptions = {
        "run_python_unread": "Creates the three roles' groups and their permissions: a few rows of auth's tables."
    }
    dependencies = [
        ("schemaadmin", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
