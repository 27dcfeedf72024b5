"""The console tells the operator the truth: why each job waits (list, filter, job page), what
needs attention, the estimate, the fleet pause, search, import from the admin, who may do what."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from devices.models import DeviceHealth
from posting.dashboard import ATTENTION_SHOWN, dashboard_data
from posting.execution import run_attempt
from posting.models import (
    Account,
    AccountStatus,
    FleetControl,
    Job,
    JobStatus,
    PauseScope,
    Platform,
)
from posting.outcomes import settle_report
from posting.pauses import pause
from posting.waiting import WaitReason
from tests.factories import (
    claim,
    make_account,
    make_device,
    make_failed_job,
    make_job,
    make_review_job,
    refreshed,
)
from tests.test_operator_console import log_in_as

pytestmark = pytest.mark.django_db

JOBS = "/admin/posting/job/"


def run(job, outcome: str):
    """One attempt of `job` on its device through the runner's path (claim, run, settle)."""
    device = job.account.device
    device.capabilities = {"script": {job.job_id: [outcome]}}
    device.save()
    attempt = claim(job, device)
    report = run_attempt(refreshed(job), device, attempt)
    settle_report(attempt, report, timezone.now())
    return refreshed(job)


def listed(client, query: str = "") -> str:
    response = client.get(f"{JOBS}?{query}")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def fleet():
    device = make_device("phone-1", host="rack-a")
    other = make_device("phone-2", host="rack-b")
    job = make_job("W-1", account=make_account("@waiting", device=device))
    bystander = make_job("B-1", account=make_account("@bystander", device=other))
    return job, bystander


def set_up(reason: str, job: Job) -> str:
    """Bring `job` into the waiting state `reason` the way it happens in a run; return the
    words the list shows for it."""
    now = timezone.now()
    account, device = job.account, job.account.device
    if reason == WaitReason.FLEET_PAUSED:
        # The fleet pause stops every job: the bystander too. Checked apart below.
        FleetControl.set_paused(True, now=now)
        return "fleet paused"
    if reason == WaitReason.PLATFORM_PAUSED:
        Account.objects.filter(pk=account.pk).update(platform=Platform.INSTAGRAM)
        pause(PauseScope.PLATFORM, Platform.INSTAGRAM, now=now, reason="app update")
        return "platform instagram paused"
    if reason == WaitReason.NO_DEVICE:
        Account.objects.filter(pk=account.pk).update(device=None)
        return "no device bound to the account"
    if reason == WaitReason.HOST_PAUSED:
        pause(PauseScope.HOST, "rack-a", now=now, reason="usb hub")
        return "host rack-a paused"
    if reason == WaitReason.RATE_LIMITED:
        run(make_job("W-0", account=account), "rate_limited")
        return "account @waiting rate-limited until"
    if reason == WaitReason.ACCOUNT_HELD:
        other = make_job("W-0", account=account)
        assert run(other, "captcha").status == JobStatus.FAILED
        return "account @waiting held (captcha) since"
    if reason == WaitReason.DEVICE_DISABLED:
        device.enabled = False
        device.save()
        return "device phone-1 disabled"
    if reason == WaitReason.DEVICE_DRAINING:
        device.draining = True
        device.save()
        return "device phone-1 draining"
    if reason == WaitReason.DEVICE_QUARANTINED:
        for _ in range(3):
            device.record_infrastructure_failure(now, "adb timeouts")
        return "device phone-1 quarantined until"
    if reason == WaitReason.RETRY:
        assert run(job, "adb_timeout").status == JobStatus.PENDING
        return "(attempt 2 of 3)"
    if reason == WaitReason.SCHEDULED:
        Job.objects.filter(pk=job.pk).update(scheduled_at=now + timedelta(hours=2))
        return "scheduled for"
    if reason == WaitReason.PACING:
        Account.objects.filter(pk=account.pk).update(min_post_interval=timedelta(hours=1))
        other = make_job("W-0", account=refreshed(account))
        assert run(other, "success").status == JobStatus.SUCCESS
        return "pacing until"
    raise AssertionError(reason)


@pytest.mark.parametrize("reason", WaitReason.values)
def test_each_waiting_state_shows_in_the_list_and_its_filter(admin_client, fleet, reason):
    job, bystander = fleet
    words = set_up(reason, job)
    assert words in listed(admin_client)
    assert WaitReason(reason).label in listed(admin_client)  # the badge
    filtered = listed(admin_client, f"waiting={reason}")
    assert "W-1" in filtered
    if reason != WaitReason.FLEET_PAUSED:
        assert "B-1" not in filtered
        assert "B-1" in listed(admin_client, "waiting=due")
    else:
        assert "B-1" in filtered


def test_the_job_list_shows_the_last_error_and_the_attempt_to_come(admin_client, fleet):
    job, _ = fleet
    run(job, "adb_timeout")
    page = listed(admin_client)
    assert "infrastructure/adb_timeout" in page
    assert "timed out" in page
    assert "retry at" in page and "(attempt 2 of 3)" in page


def test_search_by_partial_handle_without_at_and_partial_job_id(admin_client, fleet):
    make_job("ZZ-77", account=make_account("@other-brand", device=make_device()))
    by_handle = listed(admin_client, "q=waiti")
    assert "W-1" in by_handle and "ZZ-77" not in by_handle
    by_at_handle = listed(admin_client, "q=%40bystan")
    assert "B-1" in by_at_handle and "W-1" not in by_at_handle
    by_id = listed(admin_client, "q=z-7")
    assert "ZZ-77" in by_id and "W-1" not in by_id
    accounts = admin_client.get("/admin/posting/account/?q=brand").content.decode()
    assert "@other-brand" in accounts and "@waiting" not in accounts


def test_the_device_filter_offers_the_devices_with_accounts_and_filters_by_them(
    admin_client, fleet
):
    make_device("phone-spare")
    page = listed(admin_client)
    assert "phone-1" in page and "phone-2" in page
    assert "phone-spare" not in page
    job, _ = fleet
    on_phone_1 = listed(admin_client, f"account__device__id__exact={job.account.device_id}")
    assert "W-1" in on_phone_1 and "B-1" not in on_phone_1


def test_a_held_jobs_page_says_what_to_do_with_links_and_its_actions(admin_client, fleet):
    job, _ = fleet
    set_up(WaitReason.ACCOUNT_HELD, job)
    page = admin_client.get(f"{JOBS}{job.pk}/change/").content.decode()
    assert 'id="next-steps"' in page
    assert "The account" in page and "release the account" in page
    assert f"/admin/posting/account/{job.account_id}/change/" in page
    assert 'id="release-account"' in page
    assert 'data-action="cancel"' in page
    # The button posts the account list's release for this account.
    response = admin_client.post(
        "/admin/posting/account/",
        {"action": "release", "_selected_action": [job.account_id], "index": "0"},
        follow=True,
    )
    assert "Released 1 account." in response.content.decode()
    assert refreshed(job.account).status == AccountStatus.ACTIVE


def test_a_needs_review_jobs_page_offers_the_review(admin_client, fleet):
    job, _ = fleet
    review = make_review_job("R-1", job.account)
    page = admin_client.get(f"{JOBS}{review.pk}/change/").content.decode()
    assert "it was posted" in page
    assert 'data-action="mark_posted"' in page and 'data-action="mark_not_posted"' in page


def test_a_quarantined_device_keeps_the_streak_that_quarantined_it(fleet):
    job, _ = fleet
    device = job.account.device
    for _ in range(3):
        device.record_infrastructure_failure(timezone.now(), "adb timeouts")
    device = refreshed(device)
    assert (device.health, device.failure_streak, device.streak_at_quarantine) == (
        DeviceHealth.QUARANTINED,
        0,
        3,
    )


def test_the_dashboards_current_pass_failures_include_a_job_waiting_for_its_retry(fleet):
    job, _ = fleet
    assert run(job, "adb_timeout").status == JobStatus.PENDING
    data = dashboard_data(timezone.now())
    [row] = data["failures"]
    assert (row["type"], row["count"], row["jobs"]) == ("adb_timeout", 1, 1)
    [card] = data["recent_failures"]
    assert (card["job"], card["attempt"], card["max_attempts"]) == ("W-1", 1, 3)
    assert card["finished"]
    retry = next(n for n in data["needs_attention"] if n["kind"] == "retry_waiting")
    assert retry["text"] == "1 job waiting for a retry"
    assert retry["items"][0]["until"] == refreshed(job).retry_at.isoformat()


def test_needs_attention_lists_reviews_held_accounts_and_quarantined_devices(fleet):
    job, bystander = fleet
    make_review_job("R-1", job.account)
    set_up(WaitReason.ACCOUNT_HELD, job)
    device = bystander.account.device
    for _ in range(3):
        device.record_infrastructure_failure(timezone.now(), "adb timeouts")
    attention = {n["kind"]: n for n in dashboard_data(timezone.now())["needs_attention"]}
    assert attention["needs_review"]["items"][0]["text"] == "R-1"
    held = attention["held_accounts"]["items"][0]
    assert held["text"].startswith("@waiting: ") and held["since"]
    quarantined = attention["quarantined_devices"]["items"][0]
    assert quarantined["text"] == "phone-2: adb timeouts (streak 3)"
    assert quarantined["until"]


def test_needs_attention_says_how_many_its_short_list_leaves_out(fleet):
    job, _ = fleet
    for n in range(ATTENTION_SHOWN + 2):
        make_review_job(f"R-{n}", job.account)
    attention = {n["kind"]: n for n in dashboard_data(timezone.now())["needs_attention"]}
    review = attention["needs_review"]
    assert review["text"].startswith(f"{ATTENTION_SHOWN + 2} jobs to review")
    assert (len(review["items"]), review["more"]) == (ATTENTION_SHOWN, 2)


def test_progress_segments_devices_and_failure_cards_link_to_filtered_lists(fleet):
    job, _ = fleet
    run(job, "adb_timeout")
    data = dashboard_data(timezone.now())
    links = data["passes"][0]["segment_links"]
    assert links["failed_infrastructure"].endswith(
        "pass_number__exact=1&status__exact=failed&error_category__exact=infrastructure"
    )
    assert links["held"].endswith("waiting__exact=account_held") or "waiting" in links["held"]
    device = next(d for d in data["devices"] if d["name"] == "phone-1")
    assert device["link"].endswith(f"account__device__id__exact={job.account.device_id}")
    card = data["recent_failures"][0]
    assert "error_type__exact=adb_timeout" in card["type_link"]


def test_the_estimate_says_its_basis_paused_and_when_it_finished(fleet, clock):
    job, bystander = fleet
    run(job, "success")
    clock.shift(timedelta(minutes=2))
    eta = dashboard_data(timezone.now())["eta"]
    assert eta["state"] == "running"
    assert eta["basis"] == "1 attempt finished by 1 device in the last 20 min"
    assert eta["remaining"] == 1 and eta["finish_at"]
    FleetControl.set_paused(True, now=timezone.now())
    assert dashboard_data(timezone.now())["eta"]["text"] == "paused"
    FleetControl.set_paused(False, now=timezone.now())
    clock.shift(timedelta(minutes=1))
    run(bystander, "success")
    clock.shift(timedelta(minutes=5))  # no sweep has stamped the pass yet
    eta = dashboard_data(timezone.now())["eta"]
    assert eta["state"] == "done"
    assert eta["finished_at"] == refreshed(bystander).completed_at.isoformat()


def test_a_pass_done_but_for_reviews_says_so(fleet):
    job, bystander = fleet
    run(job, "success")
    run(bystander, "success")
    assert dashboard_data(timezone.now())["eta"]["text"] == "done"
    make_review_job("R-1", job.account)
    make_review_job("R-2", job.account)
    eta = dashboard_data(timezone.now())["eta"]
    assert (eta["state"], eta["text"]) == ("done", "done but for 2 jobs to review")


def test_a_banner_on_every_admin_page_while_the_fleet_or_a_platform_is_paused(admin_client):
    assert 'id="pause-banner"' not in admin_client.get("/admin/").content.decode()
    FleetControl.set_paused(True, now=timezone.now())
    pause(PauseScope.PLATFORM, Platform.YOUTUBE, now=timezone.now(), reason="app update")
    for url in ("/admin/", JOBS, "/admin/devices/device/", "/admin/posting/pass/"):
        page = admin_client.get(url).content.decode()
        assert "The fleet is paused" in page, url
        assert "platform youtube paused" in page, url


def test_import_jobs_and_progress_say_what_is_paused(tmp_path):
    from io import StringIO

    from django.core.management import call_command

    FleetControl.set_paused(True, now=timezone.now())
    path = tmp_path / "jobs.csv"
    path.write_text("job_id,account,video_path,caption\nI-1,@new,clip.mp4,hello\n")
    out = StringIO()
    call_command("import_jobs", str(path), stdout=out)
    assert "The fleet is paused" in out.getvalue()


def test_the_requeue_confirmation_warns_of_held_accounts_and_releases_them_in_one_step(
    admin_client,
):
    account = make_account("@held", device=make_device())
    job = make_failed_job("F-1", account, "account", "captcha")
    account.hold(AccountStatus.CAPTCHA, "captcha on the phone", timezone.now())
    data = {"action": "requeue_selected", "_selected_action": [job.pk]}
    page = admin_client.post(JOBS, data).content.decode()
    assert 'id="held-warning"' in page and "@held" in page
    assert 'id="release-and-requeue"' in page
    response = admin_client.post(JOBS, {**data, "confirm": "yes", "release_held": "1"}, follow=True)
    assert "Released 1 account first." in response.content.decode()
    assert refreshed(account).status == AccountStatus.ACTIVE
    assert refreshed(job).status == JobStatus.PENDING


@pytest.mark.parametrize("group", ["Operators", "Viewers"])
def test_operators_and_viewers_have_no_delete_action_and_no_task_queue_pages(
    client, django_user_model, group
):
    log_in_as(client, django_user_model, group.lower(), group)
    make_failed_job("F-1", make_account(device=make_device()))
    for url in (
        JOBS,
        "/admin/posting/account/",
        "/admin/devices/device/",
        "/admin/posting/attempt/",
    ):
        page = client.get(url).content.decode()
        assert 'value="delete_selected"' not in page, url
    for model in ("ormq", "schedule", "success", "failure"):
        assert client.get(f"/admin/django_q/{model}/").status_code == 403, model
    assert "django_q" not in client.get("/admin/").content.decode()


def upload(client, content: str, **extra):
    csv_file = SimpleUploadedFile("jobs.csv", content.encode(), content_type="text/csv")
    return client.post(f"{JOBS}import/", {"csv_file": csv_file, **extra})


def test_an_admin_import_with_a_bad_row_shows_every_problem_and_writes_nothing(
    client, django_user_model
):
    log_in_as(client, django_user_model, "olga", "Operators")
    page = upload(
        client,
        "job_id,account,video_path,caption,priority\n"
        "I-1,@new,clip.mp4,hello,1\n"
        "I-2,@new,clip.mp4,hello,high\n"
        "I-3,,clip.mp4,hello,1\n",
    ).content.decode()
    assert 'id="import-problems"' in page
    assert "<td>3</td><td>priority</td>" in page
    assert "<td>4</td><td>account</td>" in page
    assert 'id="confirm-import"' not in page
    assert not Job.objects.exists() and not Account.objects.exists()


def test_an_admin_import_of_a_good_file_imports_after_confirmation(client, django_user_model):
    log_in_as(client, django_user_model, "olga", "Operators")
    response = upload(client, "job_id,account,video_path,caption\nI-1,@new,clip.mp4,hello\n")
    page = response.content.decode()
    assert 'id="confirm-import"' in page and "would import 1 row" in page
    assert not Job.objects.exists()
    token = response.context["token"]
    done = client.post(
        f"{JOBS}import/", {"confirm": "yes", "token": token, "update": "0"}, follow=True
    )
    assert "Imported 1 row" in done.content.decode()
    assert Job.objects.get().job_id == "I-1"
    again = client.post(f"{JOBS}import/", {"confirm": "yes", "token": token}, follow=True)
    assert "That upload is gone" in again.content.decode()
    assert Job.objects.count() == 1


def test_the_import_page_needs_its_own_permission(client, django_user_model):
    viewer = log_in_as(client, django_user_model, "victor", "Viewers")
    assert client.get(f"{JOBS}import/").status_code == 403
    assert "import-link" not in client.get(JOBS).content.decode()
    viewer.user_permissions.add(Permission.objects.get(codename="import_jobs"))
    assert client.get(f"{JOBS}import/").status_code == 200


def test_attempts_are_titled_by_the_job_id(admin_client, fleet):
    job, _ = fleet
    run(job, "adb_timeout")
    from posting.models import Attempt

    attempt = Attempt.objects.get(job=job)
    page = admin_client.get(f"/admin/posting/attempt/{attempt.pk}/change/").content.decode()
    assert "W-1 attempt 1 (pass 1)" in page
    assert "W-1 attempt 1 (pass 1)" in admin_client.get("/admin/posting/attempt/").content.decode()
    assert "W-1 attempt 1 (pass 1)" in admin_client.get(f"{JOBS}{job.pk}/change/").content.decode()


def test_a_favicon_is_served(client):
    for url in ("/favicon.ico", "/favicon.svg"):
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"


def test_the_run_console_drops_routine_access_lines():
    import logging

    from posting.log_filters import QuietAccessLog

    def line(request: str, status: int) -> logging.LogRecord:
        record = logging.LogRecord(
            "django.server", logging.INFO, "", 0, '"%s" %s', (request, status), None
        )
        record.status_code = status
        return record

    quiet = QuietAccessLog()
    assert not quiet.filter(line("GET /static/admin/css/base.css HTTP/1.1", 200))
    assert not quiet.filter(line("GET /dashboard/data.json HTTP/1.1", 200))
    assert quiet.filter(line("GET /admin/posting/job/ HTTP/1.1", 200))
    assert quiet.filter(line("GET /static/missing.css HTTP/1.1", 404))


def test_the_estimate_says_when_a_job_waiting_for_its_retry_ends_the_pass(fleet, clock):
    job, bystander = fleet
    run(bystander, "success")
    Job.objects.filter(pk=job.pk).update(retry_at=timezone.now() + timedelta(minutes=45))
    eta = dashboard_data(timezone.now())["eta"]
    assert eta["text"].endswith(
        "for 1 job to go, then 1 waiting for a retry or schedule until 12:45"
    )
    assert eta["minutes"] == 45


@pytest.mark.processes
def test_progress_into_a_closed_pipe_ends_without_a_traceback(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "FLEETPOST_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": ""}
    env.pop("DJANGO_SETTINGS_MODULE")
    manage = [sys.executable, str(root / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=root, check=True)
    # `progress | head -0`: the reader is gone before the first line is written.
    reader, writer = os.pipe()
    os.close(reader)
    done = subprocess.run(
        [*manage, "progress", "--json"], env=env, cwd=root, stdout=writer, stderr=subprocess.PIPE
    )
    os.close(writer)
    assert "Traceback" not in done.stderr.decode()
    assert "BrokenPipeError" not in done.stderr.decode()


def test_a_requeued_job_still_shows_the_error_that_sent_it_to_the_new_pass(admin_client):
    from posting import lifecycle

    job = make_failed_job("F-1", make_account("@brand", device=make_device()))
    lifecycle.requeue_as_new_pass(
        Job.objects.filter(pk=job.pk), now=timezone.now(), started_by=None
    )
    assert refreshed(job).error == ""
    page = listed(admin_client)
    assert "pass 1: adb_timeout" in page and "boom" in page
