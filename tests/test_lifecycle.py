"""The job lifecycle: every (state, transition) pair moves as the table says or is refused;
transitions that make work eligible wake the devices by themselves; passes keep their history."""

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone
from django_q.models import OrmQ

from posting import lifecycle
from posting.models import InvalidTransition, Job, JobStatus, PassEntry
from posting.pass_report import pass_reports
from tests.factories import claim, make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db


def job_in(status: str) -> tuple[Job, object]:
    """A job in `status` (and its attempt when running), as the lifecycle would leave it."""
    account = make_account(device=make_device())
    if status == JobStatus.RUNNING:
        job = make_job(account=account)
        attempt = claim(job)
        return refreshed(job), attempt
    fields = {"status": status}
    if status == JobStatus.PENDING:
        fields["retry_at"] = timezone.now() + timedelta(minutes=5)
    if status == JobStatus.FAILED:
        fields.update(error_category="infrastructure", error_type="adb_timeout")
    job = make_job(account=account, **fields)
    stranger = SimpleNamespace(job_id=job.pk, lease_token=uuid.uuid4(), pk=0)
    return job, stranger


def apply(transition: lifecycle.Transition, job: Job, attempt) -> bool:
    """Apply the transition to one job; True if it moved, False if it was refused."""
    now = timezone.now()
    one = Job.objects.filter(pk=job.pk)
    try:
        if transition is lifecycle.CLAIM:
            return lifecycle.claim(job, job.account.device, uuid.uuid4(), now)
        if transition.sources == {JobStatus.RUNNING} and transition is not lifecycle.CANCEL:
            lifecycle.end_run(attempt, transition.target, now, error_category="", error_type="")
            return True
        if transition is lifecycle.CANCEL:
            return lifecycle.cancel_job(job, now)
        if transition is lifecycle.RETRY_NOW:
            return lifecycle.retry_now(one, now) == 1
        if transition is lifecycle.REQUEUE:
            return lifecycle.requeue_as_new_pass(one, now=now)[0] is not None
        if transition is lifecycle.REVIEW_POSTED:
            return lifecycle.review_posted(one, user=None, now=now) == 1
        if transition is lifecycle.REVIEW_NOT_POSTED:
            return lifecycle.review_not_posted(one, user=None, now=now)[0] is not None
    except (InvalidTransition, lifecycle.FencedWriteRefused, IntegrityError):
        return False
    raise AssertionError(f"no test driver for {transition.name}")


@pytest.mark.parametrize("transition", lifecycle.TRANSITIONS, ids=lambda t: t.name)
@pytest.mark.parametrize("status", JobStatus.values)
def test_every_state_and_transition_moves_as_the_table_says_or_is_refused(status, transition):
    job, attempt = job_in(status)
    moved = apply(transition, job, attempt)
    now_status = refreshed(job).status
    if status in transition.sources:
        assert moved, f"{transition.name} refused a {status} job"
        assert now_status == transition.target
    else:
        assert not moved, f"{transition.name} moved a {status} job"
        assert now_status == status


def queued_devices() -> list:
    return [row.task["args"] for row in OrmQ.objects.order_by("id")]


@pytest.mark.parametrize(
    "transition", [t for t in lifecycle.TRANSITIONS if t.wakes], ids=lambda t: t.name
)
def test_a_transition_that_makes_work_eligible_wakes_the_device_by_itself(
    transition, django_capture_on_commit_callbacks
):
    source = next(iter(transition.sources))
    job, attempt = job_in(source)
    with django_capture_on_commit_callbacks(execute=True):
        assert apply(transition, job, attempt)
    assert queued_devices() == [(job.account.device_id,)]


def test_transitions_that_wake_are_the_ones_that_make_work_due_now():
    assert {t.name for t in lifecycle.TRANSITIONS if t.wakes} == {
        "retry_now",
        "requeue",
        "review_not_posted",
    }


def figures_of(number: int) -> dict:
    return pass_reports([number])[number]


def test_a_requeue_never_changes_the_figures_of_the_pass_it_leaves():
    account = make_account(device=make_device())
    for n in range(3):
        make_job(f"OK{n}", account=account, status=JobStatus.SUCCESS)
    job, attempt = job_in(JobStatus.RUNNING)
    lifecycle.end_run(
        attempt,
        JobStatus.FAILED,
        timezone.now(),
        error_category="infrastructure",
        error_type="adb_timeout",
    )
    review, attempt = job_in(JobStatus.RUNNING)
    lifecycle.end_run(attempt, JobStatus.NEEDS_REVIEW, timezone.now())
    before = figures_of(1)
    assert before["entered"] == 5
    assert before["by_status"] == {"success": 3, "failed": 1, "needs_review": 1}
    assert before["failures"] == {"infrastructure/adb_timeout": 1}

    lifecycle.requeue_as_new_pass(Job.objects.all(), now=timezone.now())
    lifecycle.review_not_posted(Job.objects.all(), user=None, now=timezone.now())

    after = figures_of(1)
    assert {k: v for k, v in after.items() if k != "moved_on"} == {
        k: v for k, v in before.items() if k != "moved_on"
    }
    assert after["moved_on"] == 2
    assert figures_of(2)["entered_by"] == {"requeue": 1}
    assert figures_of(3)["entered_by"] == {"review": 1}
    # every job has exactly its row in the pass it is in now
    assert (
        PassEntry.objects.filter(pass_number=F("job__pass_number")).count() == Job.objects.count()
    )


def test_a_requeue_leaves_the_rows_of_the_pass_it_leaves_as_they_were():
    account = make_account(device=make_device())
    failed = [
        make_job(f"F{n}", account=account, status=JobStatus.FAILED, error_category="infrastructure")
        for n in range(3)
    ]
    make_job("OK", account=account, status=JobStatus.SUCCESS)
    review = make_job("R", account=account, status=JobStatus.NEEDS_REVIEW)
    pass_one = list(PassEntry.objects.filter(pass_number=1).order_by("pk").values())
    assert len(pass_one) == 5

    second, _ = lifecycle.requeue_as_new_pass(Job.objects.all(), now=timezone.now())
    third, _ = lifecycle.review_not_posted(Job.objects.all(), user=None, now=timezone.now())

    assert list(PassEntry.objects.filter(pass_number=1).order_by("pk").values()) == pass_one
    assert set(
        PassEntry.objects.filter(pass_number=second.number).values_list(
            "job_id", "entered_by", "from_pass", "outcome", "ended_at"
        )
    ) == {(job.pk, "requeue", 1, "", None) for job in failed}
    assert list(
        PassEntry.objects.filter(pass_number=third.number).values_list(
            "job_id", "entered_by", "from_pass"
        )
    ) == [(review.pk, "review", 1)]
    assert figures_of(1)["moved_on"] == 4
    assert figures_of(second.number)["moved_on"] == 0


def test_a_job_taken_out_of_a_requeue_by_a_concurrent_writer_stays_and_leaves_no_row(
    monkeypatch,
):
    """Where writers interleave (PostgreSQL), a job cancelled between the new pass's rows and
    the jobs' move stays cancelled in its pass, without a row in the new one."""
    account = make_account(device=make_device())
    kept, taken = (make_job(f"F{n}", account=account, status=JobStatus.FAILED) for n in range(2))
    write_rows = lifecycle.open_pass_entries

    def rows_then_a_concurrent_cancel(*args, **kwargs):
        written = write_rows(*args, **kwargs)
        Job.objects.filter(pk=taken.pk).update(status=JobStatus.CANCELLED)
        return written

    monkeypatch.setattr(lifecycle, "open_pass_entries", rows_then_a_concurrent_cancel)
    monkeypatch.setattr(lifecycle, "_writers_interleave", lambda: True)
    new_pass, _ = lifecycle.requeue_as_new_pass(Job.objects.all(), now=timezone.now())

    assert refreshed(taken).pass_number == 1
    assert refreshed(kept).pass_number == new_pass.number
    assert new_pass.job_count == 1
    assert list(
        PassEntry.objects.filter(pass_number=new_pass.number).values_list("job_id", flat=True)
    ) == [kept.pk]
