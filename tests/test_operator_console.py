"""The operator console: actions with their confirmations, reviews, permissions, query counts."""

from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from posting.models import Attempt, FleetControl, Job, JobStatus, Pass
from posting.permissions import ensure_operator_groups
from tests.factories import claim, make_account, make_device, make_job, make_review_job, refreshed
from tests.factories import make_failed_job as failed

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/posting/job/"


def operator_groups():
    # Transactional tests flush the groups the data migration made; make them again.
    return ensure_operator_groups(django_apps)


def act(client, action, jobs, **extra):
    data = {"action": action, "_selected_action": [j.pk for j in jobs], **extra}
    return client.post(CHANGELIST, data, follow=True)


def log_in_as(client, django_user_model, username: str, group: str):
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(operator_groups()[group])
    client.force_login(user)
    return user


@pytest.fixture
def operator(client, django_user_model):
    return log_in_as(client, django_user_model, "olga", "Operators")


@pytest.fixture
def viewer(client, django_user_model):
    return log_in_as(client, django_user_model, "victor", "Viewers")


@pytest.fixture
def account():
    return make_account("@a", device=make_device("phone-1"))


@pytest.mark.django_db(transaction=True)
def test_requeue_shows_counts_per_type_and_the_new_pass_before_moving_anything(
    client, operator, account
):
    jobs = [
        failed("A", account),
        failed("B", account),
        failed("C", account, error_type="connection_dropped"),
        failed("D", account, category="account", error_type="captcha"),
    ]
    page = act(client, "requeue_infrastructure_failures", jobs).content.decode()
    assert "<strong>pass 2</strong>" in page
    assert "adb_timeout" in page and "connection_dropped" in page
    assert 'id="requeue-total">3<' in page
    assert Job.objects.filter(status=JobStatus.FAILED).count() == 4  # nothing moved yet

    act(client, "requeue_infrastructure_failures", jobs, confirm="yes")
    assert set(Job.objects.filter(pass_number=2).values_list("job_id", flat=True)) == {
        "A",
        "B",
        "C",
    }
    assert refreshed(jobs[3]).status == JobStatus.FAILED
    new_pass = Pass.objects.get(number=2)
    assert (new_pass.started_by, new_pass.job_count) == (operator, 3)
    assert OrmQ.objects.count() == 1  # the device was woken


def test_requeue_keeps_every_earlier_attempt(client, operator, account):
    job = make_job("A", account=account)
    attempt = claim(job, account.device)
    Attempt.objects.filter(pk=attempt.pk).update(outcome="failed")
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED,
        error_category="infrastructure",
        error_type="adb_timeout",
        lease_token=None,
    )
    act(client, "requeue_infrastructure_failures", [job], confirm="yes")
    assert refreshed(job).attempt_set.count() == 1


def test_requeue_selected_of_any_category_needs_the_stronger_permission(
    client, operator, account, django_user_model
):
    job = failed("D", account, category="account", error_type="captcha")
    response = act(client, "requeue_selected", [job], confirm="yes")
    assert response.status_code == 403  # operators lack requeue_any_job
    assert refreshed(job).status == JobStatus.FAILED
    from django.contrib.auth.models import Permission

    operator.user_permissions.add(Permission.objects.get(codename="requeue_any_job"))
    act(client, "requeue_selected", [job], confirm="yes")
    assert refreshed(job).status == JobStatus.PENDING


def test_needs_review_jobs_never_move_with_a_requeue(client, operator, account):
    review = make_review_job("R", account)
    act(client, "requeue_infrastructure_failures", [review], confirm="yes")
    assert refreshed(review).status == JobStatus.NEEDS_REVIEW


def test_retry_now_makes_a_waiting_retry_due(client, operator, account):
    job = make_job("W", account=account, retry_at=timezone.now() + timedelta(hours=1))
    act(client, "retry_now", [job])
    assert refreshed(job).retry_at <= timezone.now()


def test_cancel_stops_waiting_jobs_and_asks_running_ones_to_stop(client, operator, account):
    waiting = make_job("W", account=account)
    running = make_job("R", account=make_account(device=make_device()))
    claim(running)
    act(client, "cancel", [waiting, running])
    assert refreshed(waiting).status == JobStatus.CANCELLED
    running = refreshed(running)
    assert (running.status, running.cancel_requested) == (JobStatus.RUNNING, True)


def test_review_it_was_posted_records_who_decided_and_the_url(client, operator, account):
    job = make_review_job("R", account, error="?")
    page = act(client, "mark_posted", [job]).content.decode()
    assert f'name="post_url_{job.pk}"' in page
    act(
        client, "mark_posted", [job], confirm="yes", **{f"post_url_{job.pk}": "https://x.example/1"}
    )
    job = refreshed(job)
    assert (job.status, job.post_url, job.reviewed_by) == (
        JobStatus.SUCCESS,
        "https://x.example/1",
        operator,
    )
    assert (job.error_category, job.error_type) == ("", "")


def test_review_it_was_not_posted_moves_the_job_into_a_new_pass(client, operator, account):
    job = make_review_job("R", account)
    act(client, "mark_not_posted", [job])
    job = refreshed(job)
    assert (job.status, job.pass_number, job.reviewed_by) == (JobStatus.PENDING, 2, operator)


def test_export_as_progress_csv(client, operator, account):
    job = make_job("E", account=account, caption="=SUM(1)")
    response = act(client, "export_progress_csv", [job])
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0].startswith("job_id,account,video_path,caption,status")
    assert "'=SUM(1)" in body


def test_only_content_fields_of_waiting_jobs_are_editable(client, operator, account):
    job = make_job("E", account=account, caption="old")
    url = reverse("admin:posting_job_change", args=[job.pk])
    form = client.get(url).content.decode()
    assert 'name="caption"' in form and 'name="status"' not in form
    client.post(
        url,
        {
            "caption": "new",
            "video_path": "/v.mp4",
            "scheduled_at_0": "",
            "scheduled_at_1": "",
            "attempt_set-TOTAL_FORMS": "0",
            "attempt_set-INITIAL_FORMS": "0",
        },
    )
    assert refreshed(job).caption == "new"
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCESS)
    assert 'name="caption"' not in client.get(url).content.decode()


def test_a_viewer_sees_everything_and_no_state_changing_action(client, viewer, account):
    job = failed("A", account)
    page = client.get(CHANGELIST).content.decode()
    assert "A" in page
    for action in ("requeue_infrastructure_failures", "cancel", "mark_posted", "retry_now"):
        assert f'value="{action}"' not in page
    response = act(client, "requeue_infrastructure_failures", [job], confirm="yes")
    assert response.status_code == 403
    assert refreshed(job).status == JobStatus.FAILED
    assert act(client, "cancel", [job]).status_code == 403
    device = account.device
    assert client.post("/dashboard/pause", {"paused": "1"}).status_code == 403
    assert not FleetControl.is_paused()
    response = client.post(f"/admin/devices/device/{device.pk}/change/", {"name": "x"})
    assert response.status_code == 403


def test_an_operator_can_pause_and_resume_the_fleet(client, operator):
    client.post("/dashboard/pause", {"paused": "1", "confirm": "yes"})
    assert FleetControl.is_paused()
    client.post("/dashboard/pause", {"paused": "0", "confirm": "yes"})
    assert not FleetControl.is_paused()


def test_the_fleet_pause_asks_for_confirmation_and_records_who_and_when(client, operator):
    page = client.get("/dashboard/pause").content.decode()
    assert "every new attempt on every device" in page
    client.post("/dashboard/pause", {"paused": "1"})  # not confirmed: the page again
    assert not FleetControl.is_paused()
    client.post("/dashboard/pause", {"paused": "1", "confirm": "yes"})
    control = FleetControl.objects.get(pk=1)
    assert control.paused and control.changed_by.username == operator.username
    assert control.changed_at is not None
    page = client.get("/dashboard/pause").content.decode()
    assert f"paused by <strong>{operator.username}</strong>" in page


def test_device_actions_drain_quarantine_release_and_health_check(client, operator, account):
    device = account.device
    url = "/admin/devices/device/"
    client.post(url, {"action": "drain", "_selected_action": [device.pk]})
    assert refreshed(device).draining
    client.post(url, {"action": "quarantine", "_selected_action": [device.pk]})
    assert refreshed(device).health == "quarantined"
    client.post(url, {"action": "release_quarantine", "_selected_action": [device.pk]})
    assert refreshed(device).health == "online"
    client.post(url, {"action": "run_health_check", "_selected_action": [device.pk]})
    assert [row.task["func"] for row in OrmQ.objects.all()][-1] == "posting.tasks.probe_device_task"


@pytest.mark.django_db(transaction=True)
def test_releasing_an_account_from_the_admin_wakes_its_device(client, operator, account):
    account.hold("captcha", "captcha", timezone.now())
    client.post("/admin/posting/account/", {"action": "release", "_selected_action": [account.pk]})
    assert refreshed(account).status == "active"
    assert OrmQ.objects.count() == 1


def test_the_dashboard_shows_the_numbers_the_database_holds(client, operator, account):
    from posting.tracking import update_job_status

    make_job("A", account=account, max_attempts=1)
    update_job_status("A", "failed", account.device, error="adb: timeout", error_type="adb_timeout")
    make_job("B", account=account)
    data = client.get("/dashboard/data.json").json()
    assert data["passes"][0]["segments"]["failed_infrastructure"] == 1
    assert data["passes"][0]["segments"]["waiting"] == 1
    assert data["failures"][0]["type"] == "adb_timeout"
    assert data["devices"][0]["name"] == "phone-1"
    assert client.get("/dashboard/").status_code == 200


def populate(n):
    for index in range(n):
        device = make_device()
        acct = make_account(device=device)
        job = make_job(
            account=acct,
            status=JobStatus.FAILED if index % 2 else JobStatus.PENDING,
            error_category="infrastructure" if index % 2 else "",
            error_type="adb_timeout" if index % 2 else "",
        )
        if index % 5 == 0:
            Job.objects.filter(pk=job.pk).update(
                status=JobStatus.PENDING, error_category="", error_type=""
            )
            claim(refreshed(job), device)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/posting/job/",
        "/admin/posting/attempt/",
        "/admin/posting/account/",
        "/admin/devices/device/",
        "/admin/posting/pass/",
        "/dashboard/data.json",
        "/dashboard/",
    ],
)
def test_pages_run_the_same_number_of_queries_at_10_and_1000_rows(admin_client, url):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    populate(10)
    small = queries()
    populate(990)
    assert queries() == small
