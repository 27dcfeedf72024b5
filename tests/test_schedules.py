"""The schedules a cluster relies on exist exactly once, whoever started first."""

import pytest
from django_q.models import Schedule

from posting.schedules import ensure_schedules, ensure_sweep_schedule

pytestmark = pytest.mark.django_db


def test_each_host_gets_one_sweep_bound_to_its_own_cluster(settings):
    settings.RETENTION_CLUSTER = "a"
    ensure_schedules("a")
    ensure_schedules("b")
    ensure_schedules("a")
    rows = sorted(Schedule.objects.values_list("name", "cluster", "func"))
    assert rows == [
        ("fleetpost-prune-history", "a", "posting.tasks.prune_history_task"),
        ("fleetpost-sweep-a", "a", "posting.tasks.sweep_host"),
        ("fleetpost-sweep-b", "b", "posting.tasks.sweep_host"),
    ]


def test_copies_made_by_two_clusters_starting_at_once_are_reduced_to_one():
    for _ in range(2):  # what a race between two starting clusters leaves behind
        Schedule.objects.create(name="fleetpost-sweep-local", func="x", cluster="local")
    schedule = ensure_sweep_schedule("local")
    assert Schedule.objects.filter(name="fleetpost-sweep-local").count() == 1
    assert (schedule.func, schedule.args) == ("posting.tasks.sweep_host", "'local',")
