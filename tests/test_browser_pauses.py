"""A breaker trip in a real browser: the dashboard's "Needs attention", then a resume through
the admin's confirmation. Screenshots go to test-artifacts/."""

import pytest
from django.utils import timezone

from posting.models import PauseScope, PauseSwitch, Platform
from tests.factories import make_account, make_device, make_job
from tests.test_browser_console import ARTIFACTS, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_operator_sees_a_breaker_trip_and_resumes_the_platform(browser, live_server):  # noqa: F811
    device = make_device("phone-1", host="rack-a")
    make_job("IG-1", account=make_account("@ig", device=device, platform=Platform.INSTAGRAM))
    PauseSwitch.pause(
        PauseScope.PLATFORM,
        Platform.INSTAGRAM,
        now=timezone.now(),
        reason="circuit breaker: 3 instagram accounts held (captcha, suspended or logged out)",
        by_breaker=True,
        accounts=["@ig-a", "@ig-b", "@ig-c"],
    )
    page = login(browser, live_server, "Operators")
    attention = page.locator("#needs-attention")
    assert "Platform instagram paused by the circuit breaker" in attention.inner_text()
    assert "@ig-a, @ig-b, @ig-c" in attention.inner_text()
    assert (
        "paused at 2026-11-28 12:00 UTC by the circuit breaker: 3"
        in page.locator("#pauses").inner_text()
    )
    page.screenshot(path=str(ARTIFACTS / "dashboard-breaker-trip.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/posting/job/")
    assert "platform instagram paused" in page.locator("#result_list").inner_text()

    page.goto(f"{live_server.url}/admin/posting/pauseswitch/?paused__exact=1")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "resume_selected")
    page.click("button[name=index]")
    assert "@ig-a, @ig-b, @ig-c" in page.locator("#pause-confirmation").inner_text()
    page.screenshot(path=str(ARTIFACTS / "resume-confirmation.png"), full_page=True)
    page.click("input[type=submit].default")
    assert "Resumed platform instagram" in page.locator(".messagelist").inner_text()
    assert not PauseSwitch.is_paused(PauseScope.PLATFORM, Platform.INSTAGRAM)

    page.goto(f"{live_server.url}/dashboard/")
    assert page.locator("#needs-attention-box").is_hidden()
