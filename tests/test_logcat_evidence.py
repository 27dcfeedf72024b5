"""A failed attempt keeps the end of the phone's logcat beside its screenshot and page source.

UiAutomator2 offers logcat; the fake driver does not, so the driver below stands in for a
physical phone's (the one thing that cannot run here). The rest is real: the hooks write the
file, the attempt links it, the admin shows it.
"""

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from devices.backends.appium import AppiumBackend
from posting.execution import AttemptHooks
from posting.models import ErrorCategory, Outcome
from posting.outcomes import record_failure
from tests.factories import claim, make_device, make_job

pytestmark = pytest.mark.django_db


class PhoneDriver:
    """What UiAutomator2 answers for a phone: log types with logcat, and its entries."""

    log_types = ["logcat", "bugreport", "server"]
    page_source = "<hierarchy/>"

    def __init__(self, lines: int) -> None:
        self.entries = [
            {"timestamp": 1700000000000 + n, "level": "INFO", "message": f"line {n}"}
            for n in range(lines)
        ]

    def get_log(self, log_type: str) -> list[dict]:
        assert log_type == "logcat"
        return self.entries

    def get_screenshot_as_png(self) -> bytes:
        return b"\x89PNG\r\n\x1a\n"


def failed_attempt_with_evidence(driver, settings):
    settings.APPIUM_LOGCAT_LINES = 3
    device = make_device(backend="appium", appium_url="http://127.0.0.1:4723")
    attempt = claim(make_job(account=None), None)
    hooks = AttemptHooks(attempt)
    backend = AppiumBackend(device)
    backend.driver, backend.hooks = driver, hooks
    backend.capture_evidence()
    failure = Outcome.failed(
        "boom",
        ErrorCategory.INFRASTRUCTURE,
        "claude_stuck",
        "test",
        evidence=hooks.evidence,
        log="\n".join(hooks.lines),
    )
    record_failure(attempt, failure, timezone.now())
    attempt.refresh_from_db()
    return attempt


def test_the_last_logcat_lines_are_kept_with_a_failed_attempt(settings):
    attempt = failed_attempt_with_evidence(PhoneDriver(lines=10), settings)
    with default_storage.open(attempt.logcat.name) as saved:
        lines = saved.read().decode().splitlines()
    assert lines == [f"{1700000000000 + n} INFO line {n}" for n in (7, 8, 9)]
    assert attempt.screenshot.name and attempt.page_source.name


def test_a_driver_without_logcat_keeps_none_and_logs_no_error(settings):
    class NoLogcat(PhoneDriver):
        log_types = ["server"]

    attempt = failed_attempt_with_evidence(NoLogcat(lines=10), settings)
    assert not attempt.logcat
    assert "logcat" not in attempt.log


def test_the_admin_links_the_logcat_and_serves_it_as_text(settings, admin_client):
    attempt = failed_attempt_with_evidence(PhoneDriver(lines=2), settings)
    page = admin_client.get(f"/admin/posting/attempt/{attempt.pk}/change/").content.decode()
    assert f"/evidence/{attempt.pk}/logcat" in page
    response = admin_client.get(f"/evidence/{attempt.pk}/logcat")
    assert response["Content-Type"].startswith("text/plain")
    assert b"INFO line 1" in b"".join(response.streaming_content)
