"""State transitions refuse illegal moves instead of writing them."""

import pytest
from django.utils import timezone

from posting import lifecycle
from posting.models import AccountStatus, AttemptOutcome, InvalidTransition, JobStatus, Outcome
from posting.tracking import update_job_status
from tests.factories import claim, make_account, make_device, make_job

pytestmark = pytest.mark.django_db


def test_a_running_job_cannot_be_cancelled_directly_only_asked_to_stop():
    job = make_job(account=make_account(device=make_device()))
    claim(job)
    job.refresh_from_db()
    with pytest.raises(InvalidTransition, match="is running: cancel needs"):
        lifecycle.cancel_job(job, timezone.now())
    assert lifecycle.request_cancel(job)


def test_a_finished_job_gets_no_further_outcome():
    job = make_job(account=make_account(device=make_device()), status=JobStatus.SUCCESS)
    with pytest.raises(InvalidTransition, match="only pending or running"):
        update_job_status(job.job_id, "failed", job.account.device, error="late")


def test_an_attempt_cannot_finish_as_running():
    attempt = claim(make_job(account=make_account(device=make_device())))
    with pytest.raises(ValueError, match="cannot finish as running"):
        attempt.finish(ended=AttemptOutcome.RUNNING, now=timezone.now(), outcome=Outcome(True))


def test_holding_needs_a_held_status_and_a_second_hold_keeps_the_first_reason():
    account = make_account()
    with pytest.raises(ValueError, match="held status"):
        account.hold(AccountStatus.ACTIVE, "?", timezone.now())
    assert account.hold(AccountStatus.CAPTCHA, "first", timezone.now())
    assert not account.hold(AccountStatus.SUSPENDED, "second", timezone.now())
    assert (account.status, account.held_reason) == ("captcha", "first")
    assert account.release()
    assert not account.release()


def test_update_job_status_accepts_only_success_or_failed():
    job = make_job(account=make_account(device=make_device()))
    with pytest.raises(ValueError, match="'success' or 'failed'"):
        update_job_status(job.job_id, "running", job.account.device)
