"""The django-q2 schedules Fleetpost relies on, created idempotently at cluster start."""

from django.conf import settings
from django.db import transaction
from django_q.models import Schedule

SWEEP_TASK = "posting.tasks.sweep_host"
PRUNE_TASK = "posting.tasks.prune_history_task"


def ensure_schedule(name: str, **fields) -> Schedule:
    """Create or update the schedule called `name`, leaving exactly one.

    django-q2's Schedule.name is not unique, and two clusters starting at once on PostgreSQL
    can both create it: extra copies are removed here rather than making the next
    get-or-create fail.
    """
    with transaction.atomic():
        existing = list(Schedule.objects.filter(name=name).order_by("id"))
        if not existing:
            return Schedule.objects.create(name=name, **fields)
        keep, *extra = existing
        Schedule.objects.filter(pk__in=[s.pk for s in extra]).delete()
        Schedule.objects.filter(pk=keep.pk).update(**fields)
    keep.refresh_from_db()
    return keep


def ensure_sweep_schedule(host: str) -> Schedule:
    """A once-a-minute sweep of `host`, bound to that host's cluster.

    django-q2 runs a schedule only on the cluster it names, so each host gets its own; the
    sweep is idempotent, so a second cluster of the same name sweeping too does no harm.
    """
    return ensure_schedule(
        f"fleetpost-sweep-{host}",
        func=SWEEP_TASK,
        args=repr(host) + ",",
        schedule_type=Schedule.MINUTES,
        minutes=1,
        repeats=-1,
        cluster=host,
    )


def ensure_retention_schedule() -> Schedule:
    """The daily prune, on one cluster only (RETENTION_CLUSTER)."""
    return ensure_schedule(
        "fleetpost-prune-history",
        func=PRUNE_TASK,
        schedule_type=Schedule.DAILY,
        repeats=-1,
        cluster=settings.RETENTION_CLUSTER,
    )


def ensure_schedules(cluster_name: str) -> None:
    ensure_sweep_schedule(cluster_name)
    if cluster_name == settings.RETENTION_CLUSTER:
        ensure_retention_schedule()
