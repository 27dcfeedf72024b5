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
