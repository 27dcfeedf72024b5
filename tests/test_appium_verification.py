"""Verification before a retry: only "looked and did not find it" means not posted.

Against a real Appium server with the fake driver. A caption with both quote kinds must reach
the XPath as one string literal, and an error during the check (a broken locator, the server
gone) is "cannot tell", which sends the job to review instead of posting it again.
"""

import json

import pytest
from django.utils import timezone

from devices.backends import PostRequest
from devices.backends.appium import AppiumBackend
from devices.backends.placeholders import render_locator, values_for, xpath_literal
from posting.execution import run_attempt
from posting.models import JobStatus
from posting.outcomes import settle_report
from tests.factories import claim, make_account, make_job, refreshed
from tests.test_appium_backend import FLOWS, appium_device

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.appium]

QUOTED = 'she said "ship it" and it\'s out'


@pytest.fixture(autouse=True)
def _fake_flows(settings):
    settings.APPIUM_FLOW_DIRS = [str(FLOWS)]


def request_for(caption: str) -> PostRequest:
    return PostRequest("J1", "@fleet-tester", "/v.mp4", caption, platform="fakeapp")


def stop_server_before_the_check(monkeypatch, server) -> None:
    """The server goes away at the start of the verification's first step."""
    original = AppiumBackend.run_step

    def stop_then_run(self, number, step, *args, **kwargs):
        server.stop()
        return original(self, number, step, *args, **kwargs)

    monkeypatch.setattr(AppiumBackend, "run_step", stop_then_run)


def test_xpath_literals_hold_any_quote():
    assert xpath_literal("plain") == '"plain"'
    assert xpath_literal('say "hi"') == "'say \"hi\"'"
    assert xpath_literal("it's") == '"it\'s"'
    assert xpath_literal(QUOTED) == 'concat("she said ", \'"\', "ship it", \'"\', " and it\'s out")'
    values = values_for("J1", "@a", "/v.mp4", QUOTED)
    rendered = render_locator("xpath", '//*[contains(@text, "{caption}")]', values)
    assert rendered == f"//*[contains(@text, {xpath_literal(QUOTED)})]"
    assert render_locator("id", "{caption}", values) == QUOTED


def test_a_caption_with_both_quote_kinds_is_found(appium_server):
    backend = AppiumBackend(appium_device(appium_server, "profile_with_quoted_post.xml"))
    assert backend.was_published(request_for(QUOTED)) is True
    assert appium_server.sessions() == []


def test_a_missing_post_is_not_posted_only_after_looking(appium_server):
    backend = AppiumBackend(appium_device(appium_server, "profile_without_post.xml"))
    assert backend.was_published(request_for(QUOTED)) is False


def test_a_broken_locator_cannot_tell(appium_server, settings, tmp_path):
    flow = json.loads((FLOWS / "fakeapp.json").read_text())
    flow["verify_post"] = [{"action": "exists", "locator": {"by": "xpath", "value": "//*["}}]
    (tmp_path / "fakeapp.json").write_text(json.dumps(flow))
    settings.APPIUM_FLOW_DIRS = [str(tmp_path)]
    backend = AppiumBackend(appium_device(appium_server, "profile_without_post.xml"))
    assert backend.was_published(request_for("x")) is None


def test_the_server_going_away_during_the_check_cannot_tell(own_appium_server, monkeypatch):
    backend = AppiumBackend(appium_device(own_appium_server, "profile_without_post.xml"))
    stop_server_before_the_check(monkeypatch, own_appium_server)
    assert backend.was_published(request_for("x")) is None


def failed_after_checkpoint(server, app: str, caption: str):
    device = appium_device(server, app)
    job = make_job(account=make_account("@fleet-tester", device=device), caption=caption)
    attempt = claim(job, device)
    report = run_attempt(refreshed(job), device, attempt)
    assert report.checkpoint_passed and not report.success
    return job, attempt, report


def test_a_post_that_went_out_with_a_quoted_caption_is_verified_not_posted_again(appium_server):
    job, attempt, report = failed_after_checkpoint(appium_server, "post_then_error.xml", QUOTED)
    assert settle_report(attempt, report, timezone.now()) == JobStatus.SUCCESS
    assert refreshed(job).status == JobStatus.SUCCESS


def test_a_check_the_server_did_not_answer_sends_the_job_to_review(own_appium_server, monkeypatch):
    job, attempt, report = failed_after_checkpoint(own_appium_server, "post_then_error.xml", "x")
    stop_server_before_the_check(monkeypatch, own_appium_server)
    assert settle_report(attempt, report, timezone.now()) == JobStatus.NEEDS_REVIEW
    job = refreshed(job)
    assert (job.status, job.error_type) == (JobStatus.NEEDS_REVIEW, "unverified_publish")


def test_the_error_holds_the_message_and_the_log_holds_the_servers_stack_trace(
    appium_server, settings, tmp_path
):
    flow = json.loads((FLOWS / "fakeapp.json").read_text())
    flow["steps"].insert(0, {"action": "tap", "locator": {"by": "xpath", "value": "//*["}})
    (tmp_path / "fakeapp.json").write_text(json.dumps(flow))
    settings.APPIUM_FLOW_DIRS = [str(tmp_path)]
    device = appium_device(appium_server, "post_ok.xml")
    job = make_job(account=make_account("@fleet-tester", device=device), caption="x")
    attempt = claim(job, device)
    settle_report(attempt, run_attempt(refreshed(job), device, attempt), timezone.now())
    job, attempt = refreshed(job), refreshed(attempt)
    assert job.error == "WebDriverException: XPath parse error"
    assert attempt.error == job.error
    assert "the Appium server's stack trace:\nUnknownError: XPath parse error" in attempt.log
    assert "at getResponseForW3CError" in attempt.log
