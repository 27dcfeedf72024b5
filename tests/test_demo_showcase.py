"""The demo shows every feature within minutes: every failure category, evidence, a review."""

import csv

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from devices.backends.simulator import placeholder_png
from posting.demo import SHOWCASE, create_demo_devices, write_demo_csv
from posting.execution import run_attempt
from posting.models import JobStatus
from posting.outcomes import settle_report
from tests.factories import claim, make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db


def test_the_demo_csv_runs_every_showcased_outcome_first(tmp_path):
    devices = create_demo_devices(4)
    write_demo_csv(tmp_path / "jobs.csv", devices, 12)
    scripted = [
        outcomes
        for device in devices
        for outcomes in refreshed(device).capabilities["script"].values()
    ]
    assert sorted(map(tuple, scripted)) == sorted(tuple(o) for o, _ in SHOWCASE)
    outcomes = {o for outcomes, _ in SHOWCASE for o in outcomes}
    assert {"media_missing", "caption_rejected", "unknown", "fail_unverifiable"} <= outcomes
    with open(tmp_path / "jobs.csv", newline="") as source:
        rows = list(csv.DictReader(source))
    assert len(rows) == 48
    # Each device's showcased jobs are its first ones, so they run within the first minutes.
    for device in devices:
        numbers = sorted(int(job_id[-3:]) for job_id in refreshed(device).capabilities["script"])
        assert numbers == list(range(len(numbers)))


def run(outcome: str):
    device = make_device(capabilities={"script": {"J1": [outcome]}})
    job = make_job("J1", account=make_account(device=device))
    attempt = claim(job, device)
    report = run_attempt(refreshed(job), device, attempt)
    settle_report(attempt, report, timezone.now())
    return refreshed(job), refreshed(attempt)


@pytest.mark.parametrize("outcome", ["captcha", "media_missing", "unknown", "adb_timeout"])
def test_a_simulated_failure_leaves_a_screenshot_and_a_page_source(outcome):
    job, attempt = run(outcome)
    assert attempt.screenshot and attempt.page_source
    with default_storage.open(attempt.screenshot.name) as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"
    with default_storage.open(attempt.page_source.name) as xml:
        assert f"simulated failure: {outcome}" in xml.read().decode()


@pytest.mark.parametrize(
    ("outcome", "category"), [("caption_rejected", "content"), ("unknown", "unknown")]
)
def test_content_and_unknown_failures_are_classified_as_such(outcome, category):
    job, _ = run(outcome)
    assert (job.status, job.error_category) == (JobStatus.FAILED, category)


def test_a_failure_after_the_tap_that_cannot_be_verified_waits_for_review():
    job, attempt = run("fail_unverifiable")
    assert job.status == JobStatus.NEEDS_REVIEW
    assert attempt.screenshot


def test_the_placeholder_is_a_valid_png_of_the_given_size():
    png = placeholder_png((1, 2, 3), size=(10, 20))
    assert png.startswith(b"\x89PNG") and png[16:24] == (10).to_bytes(4, "big") + (20).to_bytes(
        4, "big"
    )
