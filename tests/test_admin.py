"""The admin: every page loads, big changelists stay at a fixed query count, the requeue action."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from posting.models import JobStatus
from tests.factories import claim, make_account, make_device, make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated():
    device = make_device("phone-1")
    account = make_account("@a", device=device)
    job = make_job("J1", account=account)
    claim(job, device)
    make_job(
        "J2",
        account=account,
        status=JobStatus.FAILED,
        error_category="infrastructure",
        error_type="adb_timeout",
        error="TimeoutError: x",
    )
    return job


def test_every_changelist_add_and_change_page_loads(admin_client, populated):
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert admin_client.get(changelist).status_code == 200, changelist
        if model_admin.has_add_permission(_request(admin_client)):
            add = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
            assert admin_client.get(add).status_code == 200, add
        obj = model.objects.first()
        if obj is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert admin_client.get(change).status_code == 200, change


def _request(client):
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(username="admin")
    return request


@pytest.mark.parametrize("model", ["job", "attempt", "account"])
def test_changelists_run_the_same_number_of_queries_at_10_and_100_rows(admin_client, model):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(reverse(f"admin:posting_{model}_changelist")).status_code == 200
        return len(queries)

    def add_jobs(n):
        for _ in range(n):
            device = make_device()
            job = make_job(account=make_account(device=device))
            claim(job, device)

    add_jobs(10)
    small = count_queries()
    add_jobs(90)
    assert count_queries() == small


def test_the_changelist_count_stops_at_the_cap(monkeypatch):
    from posting.admin import paginator
    from posting.models import Job

    monkeypatch.setattr(paginator, "COUNT_CAP", 3)
    account = make_account(device=make_device())
    for _ in range(6):
        make_job(account=account)
    capped = paginator.CappedCountPaginator(Job.objects.order_by("id"), 2)
    assert capped.count == 4  # the cap plus one: "more than 3"
    assert capped.num_pages == 2
    assert paginator.CappedCountPaginator(Job.objects.order_by("id")[:2], 2).count == 2


def test_the_first_job_added_in_the_admin_opens_pass_1_and_the_pass_filter_lists_it(admin_client):
    from posting.models import Job, Pass

    account = make_account("@first", device=make_device("phone-first"))
    added = admin_client.post(
        reverse("admin:posting_job_add"),
        {
            "job_id": "FIRST-1",
            "account": account.pk,
            "caption": "hello",
            "video_path": "/videos/a.mp4",
            "priority": 0,
            "max_attempts": 3,
            "attempt_set-TOTAL_FORMS": 0,
            "attempt_set-INITIAL_FORMS": 0,
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    assert Job.objects.get(job_id="FIRST-1").pass_number == 1
    assert list(Pass.objects.values_list("number", flat=True)) == [1]
    page = admin_client.get(reverse("admin:posting_job_changelist")).content.decode()
    assert "?pass_number=1" in page
