"""The shipped flows (TikTok, Instagram Reels, YouTube Shorts) against fake apps with their
selectors, on a real Appium server with the fake driver.

Each fake app (tests/appium/apps/<platform>.xml) puts every screen of its flow on one page,
with the flow's ids, accessibility ids, xpath attributes and texts. The flow runs as shipped
except what the fake driver cannot do: it has no file system and no app launcher, so
`push_file` and `activate_app` steps are left out, and waits are capped at 2 s because
everything is on screen at once. The shipped cleanup (`mobile: deleteFile`) is unsupported by
the fake driver, which shows a failed cleanup is logged and changes nothing; a tap appended to
the cleanup shows it runs after success and after failure.
"""

import json
import re
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from devices.backends import PostRequest
from devices.backends.appium import AppiumBackend
from devices.backends.flows import parse_flow
from posting.execution import run_attempt
from posting.models import AccountStatus, JobStatus
from posting.outcomes import settle_report
from tests.factories import claim, make_account, make_device, make_job, refreshed
from tests.test_appium_backend import APPS, assert_evidence

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.appium]

PLATFORMS = ["tiktok", "instagram", "youtube"]
SHIPPED = Path(django_settings.BASE_DIR) / "devices" / "flows"
CAPTION = 'launch day: "v2" is here, it\'s live #fleet'
UNSUPPORTED_BY_FAKE = {"push_file", "activate_app"}
CLEANUP_PROBE = {"action": "tap", "name": "tidy up", "locator": {"by": "id", "value": "tidy"}}


def shipped(platform: str) -> dict:
    return json.loads((SHIPPED / f"{platform}.json").read_text())


@pytest.fixture
def flows(settings, tmp_path):
    """The shipped flows as the fake driver can run them (see the module docstring)."""
    folder = tmp_path / "flows"
    folder.mkdir()
    for platform in PLATFORMS:
        data = shipped(platform)
        for key in ("steps", "verify_post"):
            data[key] = [
                {**step, "timeout": min(step.get("timeout", 10), 2)}
                for step in data[key]
                if step["action"] not in UNSUPPORTED_BY_FAKE
            ]
        data["cleanup"] = [*data["cleanup"], CLEANUP_PROBE]
        (folder / f"{platform}.json").write_text(json.dumps(data))
    settings.APPIUM_FLOW_DIRS = [str(folder)]
    return folder


def fake_app(tmp_path, platform: str, add: tuple[str, ...] = (), remove: str = "") -> Path:
    """The platform's fake app, with elements added or the element holding `remove` taken out."""
    xml = (APPS / f"{platform}.xml").read_text()
    if remove:
        xml = re.sub(rf"\s*<[^>]*{re.escape(remove)}[^>]*/>", "", xml, count=1)
    extra = "".join(f"\n    {element}" for element in (*add, '<MockButton id="tidy"/>'))
    xml = xml.replace("\n  </MockListView>", f"{extra}\n  </MockListView>")
    path = tmp_path / f"{platform}-{abs(hash((add, remove)))}.xml"
    path.write_text(xml)
    return path


def phone(server, app: Path, platform: str):
    return make_device(
        backend="appium",
        appium_url=server.url,
        capabilities={
            "platformName": "Fake",
            "appium:automationName": "Fake",
            "appium:deviceName": "Fake",
            "appium:app": str(app),
            "fleetpost:platform": platform,
        },
    )


def post_on(server, app: Path, platform: str):
    device = phone(server, app, platform)
    account = make_account("@fleet-tester", device=device, platform=platform)
    job = make_job(account=account, caption=CAPTION)
    attempt = claim(job, device)
    status = settle_report(attempt, run_attempt(refreshed(job), device, attempt), timezone.now())
    return status, refreshed(job), refreshed(attempt)


def element_for(detector: dict) -> str:
    """An element the detector recognises."""
    if "text" in detector:
        return f"<MockText text={quoteattr(detector['text'])}/>"
    by, value = detector["locator"]["by"], detector["locator"]["value"]
    if by in ("id", "accessibility id"):
        return f"<MockView id={quoteattr(value)}/>"
    text = re.search(r"@text=['\"]([^'\"]*)['\"]", value).group(1)
    return f"<MockText text={quoteattr(text)}/>"


def detector_cases():
    return [
        pytest.param(platform, n, detector, id=f"{platform}-{n}-{detector['type']}")
        for platform in PLATFORMS
        for n, detector in enumerate(shipped(platform)["detectors"], 1)
    ]


def test_each_shipped_flow_covers_every_account_state_and_verifies():
    for platform in PLATFORMS:
        flow = parse_flow(SHIPPED / f"{platform}.json")
        assert {d.error_type for d in flow.detectors} == {
            "suspended",
            "captcha",
            "loggedout",
            "rate_limited",
        }, platform
        assert flow.verify_post and flow.cleanup, platform


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_happy_path_posts_and_cleans_up(appium_server, flows, tmp_path, platform):
    status, job, attempt = post_on(appium_server, fake_app(tmp_path, platform), platform)
    assert status == JobStatus.SUCCESS, attempt.error + "\n" + attempt.log
    assert attempt.checkpoint_at is not None
    assert "cleanup 1 remove the pushed video: failed" in attempt.log  # unsupported by the fake
    assert "cleanup 2 tidy up id='tidy': ok in" in attempt.log
    assert appium_server.sessions() == []


@pytest.mark.parametrize(("platform", "number", "detector"), detector_cases())
def test_each_detector_holds_the_account(
    appium_server, flows, tmp_path, platform, number, detector
):
    app = fake_app(tmp_path, platform, add=(element_for(detector),))
    status, job, attempt = post_on(appium_server, app, platform)
    assert (attempt.error_category, attempt.error_type) == ("account", detector["type"])
    assert job.account.status == AccountStatus(detector["type"])
    assert attempt.checkpoint_at is None
    assert_evidence(attempt)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_app_update_that_moves_the_caption_field_is_an_infrastructure_failure(
    appium_server, flows, tmp_path, platform
):
    caption_step = next(s for s in shipped(platform)["steps"] if s["action"] == "type")
    app = fake_app(tmp_path, platform, remove=caption_step["locator"]["value"])
    status, job, attempt = post_on(appium_server, app, platform)
    assert (attempt.error_category, attempt.error_type) == ("infrastructure", "claude_stuck")
    assert caption_step["locator"]["value"] in attempt.error
    assert attempt.checkpoint_at is None
    assert_evidence(attempt)
    assert "cleanup 2 tidy up id='tidy': ok in" in attempt.log  # cleanup after a failure too


@pytest.mark.parametrize("platform", PLATFORMS)
def test_verification_finds_the_post_by_the_start_of_its_caption(
    appium_server, flows, tmp_path, platform
):
    request = PostRequest("J1", "@fleet-tester", "/v.mp4", CAPTION, platform=platform)
    posted = fake_app(tmp_path, platform, add=(f"<MockText text={quoteattr(CAPTION)}/>",))
    assert AppiumBackend(phone(appium_server, posted, platform)).was_published(request) is True
    absent = fake_app(tmp_path, platform)
    assert AppiumBackend(phone(appium_server, absent, platform)).was_published(request) is False
