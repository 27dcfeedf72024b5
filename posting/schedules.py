"""The django-q2 schedules Fleetpost relies on, created idempotently at cluster start."""

from django.conf import settings
from django_q.models import Schedule

SWEEP_TASK = "posting.tasks.sweep_host"
PRUNE_TASK = "posting.tasks.prune_history_task"


def ensure_sweep_schedule(host: str) -> Schedule:
    """A once-a-minute sweep of `host`, bound to that host's cluster.

    django-q2 runs a schedule only on the cluster it names, so each host gets its own; the
    sweep is idempotent, so a second cluster of the same name sweeping too does no harm.
    """
    schedule, _ = Schedule.objects.update_or_create(
        name=f"fleetpost-sweep-{host}",
        defaults={
            "func": SWEEP_TASK,
            "args": repr(host) + ",",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "cluster": host,
        },
    )
    return schedule


def ensure_retention_schedule() -> Schedule:
    """The daily prune, on one cluster only (RETENTION_CLUSTER)."""
    schedule, _ = Schedule.objects.update_or_create(
        name="fleetpost-prune-history",
        defaults={
            "func": PRUNE_TASK,
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
            "cluster": settings.RETENTION_CLUSTER,
        },
    )
    return schedule


def ensure_schedules(cluster_name: str) -> None:
    ensure_sweep_schedule(cluster_name)
    if cluster_name == settings.RETENTION_CLUSTER:
        ensure_retention_schedule()
