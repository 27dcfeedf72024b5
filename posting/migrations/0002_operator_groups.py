"""Groups "Operators" (can act) and "Viewers" (see everything, change nothing).

The permission lists are frozen here, as they were when the groups were made: a migration
holds its own data and never imports the live code, which changes after it.
"""

from django.db import migrations

VIEW_MODELS = {
    "posting": ["job", "account", "attempt", "pass", "clusterheartbeat", "fleetcontrol"],
    "devices": ["device", "publishrecord"],
}
OPERATOR_PERMISSIONS = {
    "posting": [
        "add_job",
        "change_job",
        "change_account",
        "requeue_job",
        "review_job",
        "cancel_job",
    ],
    "devices": ["add_device", "change_device", "manage_devices"],
}
# (app, model, codename, name) of every permission the groups use, default ones included:
# Django creates permissions after all migrations, the groups need them now.
CUSTOM = [
    ("posting", "job", "requeue_job", "Can requeue infrastructure failures and retry jobs now"),
    ("posting", "job", "requeue_any_job", "Can requeue failed jobs of any category"),
    ("posting", "job", "review_job", "Can decide whether a needs_review job was posted"),
    ("posting", "job", "cancel_job", "Can cancel jobs"),
    ("devices", "device", "manage_devices", "Can enable, drain, quarantine and probe devices"),
]


VERBOSE = {
    "clusterheartbeat": "cluster heartbeat",
    "fleetcontrol": "fleet control",
    "publishrecord": "publish record",
}


def _all_permissions():
    for app, models in VIEW_MODELS.items():
        for model in models:
            yield app, model, f"view_{model}", f"Can view {VERBOSE.get(model, model)}"
    for app, codenames in OPERATOR_PERMISSIONS.items():
        for codename in codenames:
            action, model = codename.split("_", 1)
            if action in ("add", "change"):
                yield app, model, codename, f"Can {action} {model}"
    yield from CUSTOM


def create_groups(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    found = {}
    for app, model, codename, name in _all_permissions():
        content_type, _ = ContentType.objects.get_or_create(app_label=app, model=model)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        found[(app, codename)] = permission
    views = [found[(app, f"view_{m}")] for app, models in VIEW_MODELS.items() for m in models]
    acts = [found[(app, c)] for app, codes in OPERATOR_PERMISSIONS.items() for c in codes]
    Group.objects.get_or_create(name="Viewers")[0].permissions.set(views)
    Group.objects.get_or_create(name="Operators")[0].permissions.set(views + acts)


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
