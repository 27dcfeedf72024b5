"""System checks that refuse a django-q2 configuration Fleetpost cannot run safely on."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError
from django.db.models import Count


@register()
def check_q_cluster(app_configs, **kwargs) -> list:
    conf = getattr(settings, "Q_CLUSTER", {})
    errors = []

    def refuse(msg: str, hint: str, code: int) -> None:
        errors.append(Error(msg, hint=hint, obj="settings.Q_CLUSTER", id=f"posting.E00{code}"))

    if conf.get("max_attempts") != 1:
        refuse(
            "Q_CLUSTER['max_attempts'] must be 1.",
            "Fleetpost counts attempts itself; django-q retries would run a device task again.",
            1,
        )
    if conf.get("ack_failures") is not True:
        refuse(
            "Q_CLUSTER['ack_failures'] must be True.",
            "A failed device task must leave the broker; the sweep restarts the device.",
            2,
        )
    timeout, retry = conf.get("timeout"), conf.get("retry")
    if not isinstance(timeout, int | float) or not isinstance(retry, int | float):
        refuse("Q_CLUSTER needs numeric 'timeout' and 'retry'.", "Set both, in seconds.", 3)
        return errors
    if retry < 2 * timeout:
        refuse(
            f"Q_CLUSTER['retry'] ({retry}) must be at least twice 'timeout' ({timeout}).",
            "A smaller retry makes the broker deliver a running device task a second time.",
            4,
        )
    needed = settings.DEVICE_TASK_BUDGET + settings.JOB_TIMEOUT
    if timeout <= needed:
        refuse(
            f"Q_CLUSTER['timeout'] ({timeout}) must be above DEVICE_TASK_BUDGET + JOB_TIMEOUT "
            f"({needed:g}).",
            "django-q's timeout kills the worker; Fleetpost's own deadline must fire first.",
            5,
        )
    return errors


@register(Tags.database)
def check_workers_per_host(app_configs, **kwargs) -> list:
    """Warn when a host has more enabled devices than its cluster has workers."""
    workers = workers_for_host_default()
    try:
        short = hosts_short_of_workers(workers)
    except DatabaseError:
        return []  # not migrated yet
    return [
        Warning(
            f"Host {host!r} has {devices} enabled devices but its cluster has "
            f"{workers} workers: some devices will wait for a worker.",
            hint="Set Q_WORKERS on that host to at least the number of its devices, plus one.",
            id="posting.W001",
        )
        for host, devices in short.items()
    ]


def hosts_short_of_workers(workers: int) -> dict[str, int]:
    """Hosts with more enabled devices than `workers`, and how many devices they have."""
    from devices.models import Device

    rows = Device.objects.filter(enabled=True).values("host").annotate(n=Count("id")).order_by()
    return {row["host"]: row["n"] for row in rows if row["n"] > workers}


def workers_for_host_default() -> int:
    from django_q.conf import Conf

    return int(Conf.WORKERS)


@register(Tags.database)
def check_flows_for_platforms(app_configs, **kwargs) -> list:
    """Every account on an Appium device has a flow file for its platform."""
    from devices.backends.flows import flow_path
    from posting.models import Account

    try:
        rows = list(
            Account.objects.filter(device__backend="appium")
            .values_list("platform", "device__capabilities")
            .distinct()
        )
    except DatabaseError:
        return []  # not migrated yet
    platforms = {(caps or {}).get("fleetpost:platform") or platform for platform, caps in rows}
    return [
        Error(
            f"Accounts on Appium devices post to {platform!r}, which has no flow file.",
            hint=f"Add {platform}.json to one of APPIUM_FLOW_DIRS (devices/flows/ has examples).",
            id="posting.E006",
        )
        for platform in sorted(platforms)
        if flow_path(platform) is None
    ]
