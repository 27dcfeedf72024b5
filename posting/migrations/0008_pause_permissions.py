"""Operators may pause and resume platforms and hosts; Viewers see the switches.

Self-contained (no live code): the permissions are normally created after all migrations ran,
so they are made here with their content type.
"""

from django.db import migrations

PERMISSIONS = {
    "pause_scope": ("Can pause and resume platforms and hosts", ["Operators"]),
    "view_pauseswitch": ("Can view platform or host pause", ["Operators", "Viewers"]),
}


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="posting", model="pauseswitch")
    for codename, (name, groups) in PERMISSIONS.items():
        permission, _ = Permission.objects.get_or_create(
            codename=codename, content_type=content_type, defaults={"name": name}
        )
        for group in Group.objects.filter(name__in=groups):
            group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    permissions = Permission.objects.filter(
        content_type__app_label="posting", codename__in=list(PERMISSIONS)
    )
    for group in Group.objects.filter(name__in=["Operators", "Viewers"]):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("posting", "0007_platform_and_host_pauses"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
