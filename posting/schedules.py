"""The django-q2 schedules Fleetpost relies on, created idempotently."""

from django_q.models import Schedule

SWEEP_TASK = "posting.tasks.sweep_host"


def ensure_sweep_schedule(host: str) -> Schedule:
    """A once-a-minute sweep of `host`, bound to that host's cluster.

    django-q2 runs a schedule only on the cluster it names, so each host gets its own.
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
