"""The Appium backend against a real Appium server with the fake driver.

Each fake app (tests/appium/apps) is one screen; the flow is tests/appium/flows/fakeapp.json.
"""

import json
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from devices.backends import PostRequest
from devices.backends.appium import AppiumBackend
from devices.probe import probe_device
from posting.execution import run_attempt
from posting.models import AccountStatus, JobStatus
from posting.outcomes import settle_report
from tests.factories import claim, make_account, make_device, make_job, refreshed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.appium]

APPS = Path(__file__).parent / "appium" / "apps"
FLOWS = Path(__file__).parent / "appium" / "flows"
CAPTION = "hello from the fleet"


@pytest.fixture(autouse=True)
def _fake_flows(settings):
    settings.APPIUM_FLOW_DIRS = [str(FLOWS)]


def appium_device(server, app: str, **caps):
    return make_device(
        backend="appium",
        appium_url=server.url,
        capabilities={
            "platformName": "Fake",
            "appium:automationName": "Fake",
            "appium:deviceName": "Fake",
            "appium:app": str(APPS / app),
            "fleetpost:platform": "fakeapp",
            **caps,
        },
    )


def attempt_on(server, app: str, **job_fields):
    device = appium_device(server, app)
    job = make_job(
        account=make_account("@fleet-tester", device=device), caption=CAPTION, **job_fields
    )
    attempt = claim(job, device)
    report = run_attempt(refreshed(job), device, attempt)
    status = settle_report(attempt, report, timezone.now())
    return status, refreshed(job), refreshed(attempt)


def assert_evidence(attempt):
    assert attempt.screenshot.name and attempt.page_source.name
    with default_storage.open(attempt.screenshot.name) as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"
    with default_storage.open(attempt.page_source.name) as xml:
        assert xml.read().startswith(b"<")


def test_a_successful_post_passes_the_checkpoint_and_stores_the_post_url(appium_server):
    status, job, attempt = attempt_on(appium_server, "post_ok.xml")
    assert status == JobStatus.SUCCESS, attempt.error
    assert job.post_url == "https://video.example/@fleet-tester/123"
    assert attempt.checkpoint_at is not None
    assert "step 3 publish accessibility id='post': ok in" in attempt.log
    assert "session started in" in attempt.log
    assert appium_server.sessions() == []  # the session was quit


@pytest.mark.parametrize(
    ("app", "category", "error_type"),
    [
        ("suspended.xml", "account", "suspended"),
        ("captcha.xml", "account", "captcha"),
        ("loggedout.xml", "account", "loggedout"),
        ("other_account.xml", "infrastructure", "verification_race"),
        ("no_post_button.xml", "infrastructure", "claude_stuck"),
    ],
)
def test_each_failure_screen_is_classified_and_leaves_evidence(
    appium_server, app, category, error_type
):
    status, job, attempt = attempt_on(appium_server, app)
    assert (attempt.error_category, attempt.error_type) == (category, error_type), attempt.error
    assert (job.error_category, job.error_type) == (category, error_type)
    assert attempt.checkpoint_at is None
    assert_evidence(attempt)
    assert appium_server.sessions() == []
    if category == "account":
        assert job.account.status == AccountStatus(error_type)


def test_verification_finds_a_post_that_is_there_and_not_one_that_is_missing(appium_server):
    request = PostRequest("J1", "@fleet-tester", "/v.mp4", CAPTION, platform="fakeapp")
    present = AppiumBackend(appium_device(appium_server, "profile_with_post.xml"))
    absent = AppiumBackend(appium_device(appium_server, "profile_without_post.xml"))
    assert present.was_published(request) is True
    assert absent.was_published(request) is False
    assert appium_server.sessions() == []


def test_a_flow_without_verification_steps_cannot_tell(appium_server, settings, tmp_path):
    data = json.loads((FLOWS / "fakeapp.json").read_text())
    data.pop("verify_post")
    (tmp_path / "fakeapp.json").write_text(json.dumps(data))
    settings.APPIUM_FLOW_DIRS = [str(tmp_path)]
    backend = AppiumBackend(appium_device(appium_server, "profile_with_post.xml"))
    assert backend.was_published(PostRequest("J1", "@x", "/v.mp4", CAPTION)) is None


def test_evidence_that_cannot_be_saved_never_hides_the_original_failure(appium_server):
    class BrokenEvidenceHooks:
        lines: list = []

        def checkpoint(self):
            pass

        def log(self, message):
            self.lines.append(message)

        def save_evidence(self, kind, extension, content):
            raise OSError("disk full")

    backend = AppiumBackend(appium_device(appium_server, "suspended.xml"))
    hooks = BrokenEvidenceHooks()
    request = PostRequest("J1", "@fleet-tester", "/v.mp4", CAPTION)
    assert backend.post(request, hooks) is False
    assert backend.last_error_message.startswith("Account suspended")
    assert any(
        "capturing the screenshot failed: OSError: disk full" in line for line in hooks.lines
    )


def stop_before_step(monkeypatch, server, at: int, method: str = "run_step") -> None:
    """Stop the server right before step `at` runs: the step then meets a server that is
    gone, at a known point (no timer racing a wait)."""
    original = getattr(AppiumBackend, method)

    def stop_then_run(self, number, step, *args, **kwargs):
        if number == at:
            server.stop()
        return original(self, number, step, *args, **kwargs)

    monkeypatch.setattr(AppiumBackend, method, stop_then_run)


def test_the_appium_server_stopping_mid_run_is_connection_dropped_and_marks_the_device(
    own_appium_server, monkeypatch
):
    device = appium_device(own_appium_server, "post_ok.xml")
    job = make_job(account=make_account("@fleet-tester", device=device), caption=CAPTION)
    attempt = claim(job, device)
    stop_before_step(monkeypatch, own_appium_server, at=2)
    report = run_attempt(refreshed(job), device, attempt)
    settle_report(attempt, report, timezone.now())
    attempt.refresh_from_db()
    assert (attempt.error_category, attempt.error_type) == ("infrastructure", "connection_dropped")
    assert attempt.checkpoint_at is None
    assert refreshed(device).failure_streak == 1
    assert not probe_device(device, timezone.now())
    device.refresh_from_db()
    assert device.health == "offline"
    assert "Appium server unreachable" in device.health_detail


def test_check_devices_prints_a_table_and_updates_health(appium_server, capsys):
    appium_device(appium_server, "post_ok.xml").__class__.objects.update(health="offline")
    call_command("check_devices")
    out = capsys.readouterr().out
    assert "Appium ready" in out
    assert "1 of 1 devices healthy" in out


def test_the_admin_shows_an_attempts_evidence(appium_server, admin_client):
    _, _, attempt = attempt_on(appium_server, "suspended.xml")
    page = admin_client.get(f"/admin/posting/attempt/{attempt.pk}/change/").content.decode()
    assert f"/evidence/{attempt.pk}/screenshot" in page
    assert f"/evidence/{attempt.pk}/page_source" in page
    image = admin_client.get(f"/evidence/{attempt.pk}/screenshot")
    assert image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content).startswith(b"\x89PNG")


def test_evidence_needs_permission_to_see_attempts(appium_server, client, django_user_model):
    _, _, attempt = attempt_on(appium_server, "suspended.xml")
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(f"/evidence/{attempt.pk}/screenshot").status_code == 403
