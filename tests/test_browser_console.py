"""The operator console in a real browser: Playwright driving Debian's Chromium.

Screenshots of the dashboard and the confirmation page go to test-artifacts/.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from django.apps import apps as django_apps

from posting.models import Job, JobStatus
from posting.permissions import ensure_operator_groups
from tests.conftest import require_component
from tests.factories import (
    add_failed_attempts,
    make_account,
    make_device,
    make_job,
    make_review_job,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# Chromium's own background traffic would be refused by this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    reason = None
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = reason or "the playwright package is missing: run scripts/setup"
    require_component(reason)
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # between browser steps are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def fleet_data():
    device = make_device("phone-1")
    account = make_account("@brand", device=device)
    for n in range(3):
        failed = make_job(
            f"F{n}",
            account=account,
            status=JobStatus.FAILED,
            attempts=3,
            error="TimeoutError: adb",
            error_category="infrastructure",
            error_type="adb_timeout",
        )
        add_failed_attempts(failed)
    captcha = make_job(
        "C1",
        account=account,
        status=JobStatus.FAILED,
        error="Captcha required",
        error_category="account",
        error_type="captcha",
    )
    add_failed_attempts(captcha)
    make_review_job("R1", account, error="died after the tap")
    make_job("P1", account=account)


def login(browser, live_server, group: str):
    from django.contrib.auth import get_user_model

    groups = ensure_operator_groups(django_apps)
    user = get_user_model().objects.create_user(group.lower(), password="pw-123456", is_staff=True)
    user.groups.add(groups[group])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{live_server.url}/admin/login/?next=/dashboard/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pw-123456")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/$"))
    return page


def test_an_operator_requeues_through_the_confirmation_and_sees_the_new_pass(
    browser, live_server, fleet_data
):
    page = login(browser, live_server, "Operators")
    pass_one = page.locator("[data-pass='1']")
    assert "failed: infrastructure 3" in pass_one.inner_text()
    assert "failed: account 1" in pass_one.inner_text()
    assert "needs review 1" in pass_one.inner_text()
    assert page.locator("#failures").inner_text().count("adb_timeout") == 1
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/posting/job/?status__exact=failed")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "requeue_infrastructure_failures")
    page.click("button[name=index]")
    confirmation = page.locator("#requeue-confirmation")
    assert "pass 2" in confirmation.inner_text()
    assert page.locator("#requeue-total").inner_text() == "3"
    page.screenshot(path=str(ARTIFACTS / "requeue-confirmation.png"), full_page=True)
    page.click("input[type=submit].default")
    assert "Moved 3 jobs into pass 2" in page.locator(".messagelist").inner_text()

    page.goto(f"{live_server.url}/dashboard/")
    first_refresh = page.locator("#dashboard").get_attribute("data-refreshed")
    page.wait_for_function(
        f"document.getElementById('dashboard').dataset.refreshed !== '{first_refresh}'",
        timeout=15000,
    )
    assert "waiting 3" in page.locator("[data-pass='2']").inner_text()
    assert Job.objects.filter(pass_number=2, status=JobStatus.PENDING).count() == 3
    page.screenshot(path=str(ARTIFACTS / "dashboard-after-requeue.png"), full_page=True)


def test_an_operator_resolves_a_needs_review_job(browser, live_server, fleet_data):
    page = login(browser, live_server, "Operators")
    review = Job.objects.get(job_id="R1")
    page.goto(f"{live_server.url}/admin/posting/job/?status__exact=needs_review")
    page.check(f"input[name=_selected_action][value='{review.pk}']")
    page.select_option("select[name=action]", "mark_posted")
    page.click("button[name=index]")
    page.fill(f"input[name=post_url_{review.pk}]", "https://video.example/@brand/1")
    page.click("input[type=submit].default")
    assert "1 job marked as posted" in page.locator(".messagelist").inner_text()
    review.refresh_from_db()
    assert (review.status, review.post_url) == ("success", "https://video.example/@brand/1")
    assert review.reviewed_by.username == "operators"


def test_a_viewer_finds_no_state_changing_action(browser, live_server, fleet_data):
    page = login(browser, live_server, "Viewers")
    assert page.locator("#pause-button").count() == 0
    page.goto(f"{live_server.url}/admin/posting/job/")
    assert page.locator("text=F0").count() >= 1
    options = page.locator("select[name=action] option").evaluate_all("os => os.map(o => o.value)")
    assert options == ["", "export_progress_csv"]  # exporting changes nothing
    page.screenshot(path=str(ARTIFACTS / "viewer-jobs.png"), full_page=True)


# --- the console at 1366 x 768, as an operator deciding what to do next -------------------

WIDE = {"width": 1366, "height": 768}


@pytest.fixture
def troubled_fleet():
    """A run with a bit of everything: failures, a retry waiting, a held account, a
    quarantined device, a review."""
    from datetime import timedelta

    from django.utils import timezone

    from posting.models import AccountStatus

    now = timezone.now()
    phone1, phone2 = make_device("phone-1"), make_device("phone-2")
    brand = make_account("@brand-main", device=phone1)
    held = make_account("@brand-promo", device=phone2)
    for n in range(3):
        failed = make_job(
            f"F{n}",
            account=brand,
            status=JobStatus.FAILED,
            attempts=3,
            error="TimeoutError: adb shell input tap timed out after 20 s",
            error_category="infrastructure",
            error_type="adb_timeout",
        )
        add_failed_attempts(failed)
    retrying = make_job(
        "RT1",
        account=brand,
        attempts=1,
        retry_at=now + timedelta(minutes=4),
        error="Connection to the device reset by peer",
        error_category="infrastructure",
        error_type="connection_dropped",
    )
    add_failed_attempts(retrying)
    make_review_job("R1", brand, error="Connection to the device reset by peer (after the tap)")
    held.hold(AccountStatus.CAPTCHA, "Captcha required: complete the puzzle", now)
    held_job = make_job("H1", account=held)
    make_job("H2", account=held)
    make_job("P1", account=brand)
    for _ in range(3):
        phone2.record_infrastructure_failure(now, "adb: device offline")
    return held_job


def wide_login(browser, live_server):
    from django.contrib.auth import get_user_model

    groups = ensure_operator_groups(django_apps)
    user = get_user_model().objects.create_user("olga", password="pw-123456", is_staff=True)
    user.groups.add(groups["Operators"])
    page = browser.new_page(viewport=WIDE)
    page.goto(f"{live_server.url}/admin/login/?next=/dashboard/")
    page.fill("#id_username", "olga")
    page.fill("#id_password", "pw-123456")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/$"))
    return page


def test_a_long_attention_list_says_how_many_it_leaves_out(browser, live_server):
    brand = make_account("@brand-main", device=make_device("phone-1"))
    for n in range(7):
        make_review_job(f"R{n}", brand)
    page = wide_login(browser, live_server)
    review = page.locator("[data-attention=needs_review]")
    assert review.inner_text().startswith("7 jobs to review")
    more = review.get_by_role("link", name="and 2 more")
    assert "status__exact=needs_review" in more.get_attribute("href")
    page.screenshot(path=str(ARTIFACTS / "console-attention-more-1366.png"))


def fits_the_width(page) -> bool:
    """No column cut off: neither the page nor the list's own scroll box scrolls sideways."""
    return page.evaluate(
        """() => document.documentElement.scrollWidth <= window.innerWidth &&
           [...document.querySelectorAll('.results')]
             .every((r) => r.scrollWidth <= r.clientWidth)"""
    )


def test_the_console_at_1366_tells_an_operator_what_to_do(browser, live_server, troubled_fleet):
    page = wide_login(browser, live_server)
    attention = page.locator("#needs-attention").inner_text()
    assert "1 job to review" in attention
    assert "1 held account" in attention and "@brand-promo" in attention
    assert "1 quarantined device" in attention and "streak 3" in attention
    assert "1 job waiting for a retry" in attention
    failures = page.locator("#failures").inner_text()
    assert "connection_dropped" in failures  # the job waiting for its retry counts
    assert "attempt 1 of 3" in page.locator("#recent-failures").inner_text()
    assert page.locator("#eta").inner_text()
    page.screenshot(path=str(ARTIFACTS / "console-dashboard-1366.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/posting/job/")
    assert fits_the_width(page)
    rows = page.locator("#result_list").inner_text()
    assert "account @brand-promo held (captcha)" in rows
    assert "retry at" in rows and "(attempt 2 of 3)" in rows
    assert "infrastructure/adb_timeout" in rows
    page.screenshot(path=str(ARTIFACTS / "console-jobs-1366.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/posting/job/?waiting=account_held")
    assert page.locator("#result_list tbody tr").count() == 2

    page.goto(f"{live_server.url}/admin/posting/job/{troubled_fleet.pk}/change/")
    steps = page.locator("#next-steps").inner_text()
    assert "@brand-promo is held" in steps and "release the account" in steps
    assert page.locator("#release-account").count() == 1
    page.screenshot(path=str(ARTIFACTS / "console-held-job-1366.png"), full_page=True)
    page.click("#release-account")
    assert "Released 1 account." in page.locator(".messagelist").inner_text()

    for url in ("/admin/devices/device/", "/admin/posting/attempt/"):
        page.goto(f"{live_server.url}{url}")
        assert fits_the_width(page), url
    page.screenshot(path=str(ARTIFACTS / "console-attempts-1366.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/posting/pass/")
    assert fits_the_width(page)
    page.screenshot(path=str(ARTIFACTS / "console-passes-1366.png"), full_page=True)


def test_the_fleet_pause_is_confirmed_and_bannered_everywhere(browser, live_server, fleet_data):
    page = wide_login(browser, live_server)
    page.click("#pause-button")
    assert "every new attempt on every device" in page.locator("#content").inner_text()
    page.click("#confirm-fleet-pause")
    page.wait_for_selector("#pause-banner")
    assert "paused by olga" in page.locator("#pause-banner").inner_text()
    assert page.locator("#eta").inner_text() == "paused"
    page.goto(f"{live_server.url}/admin/posting/job/")
    assert "The fleet is paused" in page.locator("#pause-banner").inner_text()
    page.screenshot(path=str(ARTIFACTS / "console-paused-jobs-1366.png"), full_page=True)
