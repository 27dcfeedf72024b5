"""Retention: old attempts and their files go, except needs_review jobs and the latest pass."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from posting.models import Attempt, Job, JobStatus, Pass
from posting.retention import prune_history
from tests.factories import claim, make_account, make_device, make_job

pytestmark = pytest.mark.django_db


def finished_attempt(job, days_ago, with_file=False):
    attempt = claim(job, job.account.device)
    name = (
        default_storage.save(f"evidence/t/{attempt.pk}.png", ContentFile(b"png"))
        if with_file
        else ""
    )
    Attempt.objects.filter(pk=attempt.pk).update(
        outcome="failed", finished_at=timezone.now() - timedelta(days=days_ago), screenshot=name
    )
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, lease_token=None)
    return name


def test_old_attempts_and_their_files_are_pruned_but_not_reviews_or_the_latest_pass():
    account = make_account(device=make_device())
    old_name = finished_attempt(make_job("OLD", account=account), 200, with_file=True)
    finished_attempt(make_job("RECENT", account=account), 5)
    finished_attempt(make_job("REVIEW", account=account), 200)
    Job.objects.filter(job_id="REVIEW").update(status=JobStatus.NEEDS_REVIEW)
    Pass.objects.create(number=2, started_at=timezone.now())
    finished_attempt(make_job("LATEST", account=account, pass_number=2), 200)
    Attempt.objects.filter(job__job_id="LATEST").update(pass_number=2)

    report = prune_history(timezone.now(), 90)
    assert (report.attempts, report.files) == (1, 1)
    assert not default_storage.exists(old_name)
    kept = set(Attempt.objects.values_list("job__job_id", flat=True))
    assert kept == {"RECENT", "REVIEW", "LATEST"}


def test_the_command_has_a_dry_run(capsys):
    account = make_account(device=make_device())
    finished_attempt(make_job("OLD", account=account), 200)
    Pass.objects.create(number=2, started_at=timezone.now())
    call_command("prune_history", "--dry-run")
    assert "would prune 1 attempts" in capsys.readouterr().out
    assert Attempt.objects.count() == 1


def test_old_flow_trials_and_their_files_are_pruned():
    from devices.models import FlowTrial

    device = make_device(backend="appium", appium_url="http://127.0.0.1:4723")
    shot = default_storage.save("flow-trials/t/step-01.png", ContentFile(b"png"))
    rows = [{"number": 1, "screenshot": shot, "page_source": ""}]
    old = FlowTrial.objects.create(device=device, platform="tiktok", steps=rows)
    FlowTrial.objects.filter(pk=old.pk).update(requested_at=timezone.now() - timedelta(days=200))
    recent = FlowTrial.objects.create(device=device, platform="tiktok")
    report = prune_history(timezone.now(), 90)
    assert report.trials == 1 and "1 flow trials" in str(report)
    assert list(FlowTrial.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not default_storage.exists(shot)
