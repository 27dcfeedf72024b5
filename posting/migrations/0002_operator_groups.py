"""Groups "Operators" (can act) and "Viewers" (see everything, change nothing)."""

from django.db import migrations


def create_groups(apps, schema_editor):
    from posting.permissions import ensure_operator_groups

    ensure_operator_groups(apps)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Viewers", "Operators"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("posting", "0001_initial"),
        ("devices", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
