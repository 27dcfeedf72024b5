"""Migration 0017: the pass a job came from is recorded on its entry in the new pass
(from_pass), backfilled from the job's previous entry, with every pass's figures as they were."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from posting.models import Job, JobStatus, Pass, PassEntry
from tests.factories import make_account, make_device

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("posting", "0016_pass_figures_count_moved_on_from_the_index")]
AFTER = [("posting", "0017_pass_entry_records_where_it_came_from")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_the_backfill_records_the_pass_each_requeued_entry_came_from_and_back():
    account = make_account(device=make_device())
    now = timezone.now()
    for number in (1, 2, 3):
        Pass.objects.create(number=number, started_at=now)
    # twice requeued (1 -> 2 -> 3), reviewed not posted (1 -> 3), never moved (1)
    twice = Job.objects.create(job_id="T", account=account, pass_number=3, caption="c")
    reviewed = Job.objects.create(job_id="R", account=account, pass_number=3, caption="c")
    stayed = Job.objects.create(
        job_id="S", account=account, pass_number=1, status=JobStatus.SUCCESS, caption="c"
    )
    old = migrate(BEFORE).get_model("posting", "PassEntry")
    rows = [
        (twice, 1, "import", "failed", True, False),
        (twice, 2, "requeue", "failed", True, False),
        (twice, 3, "requeue", "", False, True),
        (reviewed, 1, "import", "needs_review", True, False),
        (reviewed, 3, "review", "", False, True),
        (stayed, 1, "import", "success", False, True),
    ]
    for job, number, by, outcome, moved_on, current in rows:
        old.objects.create(
            job_id=job.pk,
            pass_number=number,
            entered_by=by,
            entered_at=now,
            outcome=outcome,
            moved_on=moved_on,
            current=current,
        )

    migrate(AFTER)
    came_from = {
        (e.job.job_id, e.pass_number): e.from_pass for e in PassEntry.objects.select_related("job")
    }
    assert came_from == {
        ("T", 1): None,
        ("T", 2): 1,
        ("T", 3): 2,
        ("R", 1): None,
        ("R", 3): 1,
        ("S", 1): None,
    }
    figures = PassEntry.objects.figures([1, 2, 3])
    assert [figures[n]["moved_on"] for n in (1, 2, 3)] == [2, 1, 0]
    assert [figures[n]["entered"] for n in (1, 2, 3)] == [3, 1, 2]

    restored = migrate(BEFORE).get_model("posting", "PassEntry")
    assert sorted(
        restored.objects.values_list("job_id", "pass_number", "moved_on", "current")
    ) == sorted((job.pk, number, moved, current) for job, number, _, _, moved, current in rows)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # as it began
