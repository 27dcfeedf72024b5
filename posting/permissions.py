"""The groups operators are put in: "Operators" act, "Viewers" see everything, change nothing."""

from django.contrib.auth.management import create_permissions

VIEW_MODELS = {
    "posting": [
        "job",
        "account",
        "attempt",
        "pass",
        "clusterheartbeat",
        "fleetcontrol",
        "pauseswitch",
    ],
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
        "import_jobs",
        "pause_scope",
    ],
    "devices": ["add_device", "change_device", "manage_devices"],
}


def ensure_operator_groups(apps) -> dict:
    """Create (or reset) both groups with their permissions; `apps` may be a migration's."""
    # Permissions are normally created after all migrations ran; the groups need them now.
    # create_permissions skips app configs without a models module, which a migration's
    # app-config stubs never have: lend them one for the call.
    for app_config in apps.get_app_configs():
        stub = getattr(app_config, "models_module", None) is None
        if stub:
            app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        if stub:
            app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    views = {app: [f"view_{m}" for m in models] for app, models in VIEW_MODELS.items()}
    viewers, _ = Group.objects.get_or_create(name="Viewers")
    viewers.permissions.set(_permissions(apps, views))
    operators, _ = Group.objects.get_or_create(name="Operators")
    operator_perms = {app: views[app] + OPERATOR_PERMISSIONS[app] for app in views}
    operators.permissions.set(_permissions(apps, operator_perms))
    return {"Viewers": viewers, "Operators": operators}


def _permissions(apps, wanted: dict[str, list[str]]) -> list:
    Permission = apps.get_model("auth", "Permission")
    found = []
    for app_label, codenames in wanted.items():
        found += list(
            Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )
    return found
