"""The console's and the commands' edges: evidence served inertly, views need permissions,
forms and reviews refuse what the import refuses, devices checked honestly, evidence cleaned."""

import errno
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from posting.execution import AttemptHooks
from posting.models import InvalidTransition, Job, JobStatus
from posting.retention import prune_orphaned_evidence
from posting.tracking import update_job_status
from tests.factories import claim, make_account, make_device, make_job, make_review_job, refreshed
from tests.test_operator_console import act, log_in_as

pytestmark = pytest.mark.django_db

XHTML = b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(document.cookie)</script></html>'


@pytest.fixture
def operator(client, django_user_model):
    return log_in_as(client, django_user_model, "olga", "Operators")


def attempt_with_page_source(content: bytes):
    job = make_job("J1", account=make_account(device=make_device("phone-1")))
    attempt = claim(job)
    attempt.page_source = default_storage.save("evidence/x/page.xml", ContentFile(content))
    attempt.save()
    return attempt


def test_a_page_source_is_served_as_inert_text_in_a_sandbox(client, operator):
    attempt = attempt_with_page_source(XHTML)
    response = client.get(f"/evidence/{attempt.pk}/page_source")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    download = client.get(f"/evidence/{attempt.pk}/page_source?download=1")
    assert download["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("url", ["/", "/dashboard/data.json"])
def test_the_dashboard_needs_a_view_permission_not_only_a_login(client, django_user_model, url):
    staff = django_user_model.objects.create_user("sam", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302  # to the login page
    log_in_as(client, django_user_model, "vic", "Viewers")
    assert client.get(url).status_code == 200


def job_form_data(**fields):
    account = make_account("@a", device=make_device("phone-1"))
    data = {
        "job_id": "J9",
        "account": account.pk,
        "caption": "hello",
        "video_path": "clip.mp4",
        "scheduled_at_0": "",
        "scheduled_at_1": "",
        "priority": "0",
        "max_attempts": "3",
        "attempt_set-TOTAL_FORMS": "0",
        "attempt_set-INITIAL_FORMS": "0",
        "_save": "Save",
    }
    data.update(fields)
    return data


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"video_path": "../../../etc/shadow"}, "leaves the video root"),
        ({"scheduled_at_0": "9999-12-31", "scheduled_at_1": "23:59:00"}, "supported range"),
        ({"caption": "nul\x00byte"}, "Null characters are not allowed"),
        ({"priority": "2147483648"}, "at most 2147483647"),
    ],
)
def test_the_job_form_refuses_what_the_import_refuses(client, operator, fields, message):
    response = client.post("/admin/posting/job/add/", job_form_data(**fields))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_the_job_form_stores_a_relative_video_path_inside_the_video_root(
    client, operator, settings
):
    response = client.post("/admin/posting/job/add/", job_form_data())
    assert response.status_code == 302
    assert Job.objects.get().video_path == str(Path(settings.VIDEO_ROOT).resolve() / "clip.mp4")


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "https://x.example/" + "a" * 600, "ftp://x"]
)
def test_a_review_refuses_a_post_url_that_is_not_a_plain_http_address(client, operator, url):
    job = make_review_job("R1", make_account("@a", device=make_device("phone-1")))
    response = act(client, "mark_posted", [job], confirm="1", **{f"post_url_{job.pk}": url})
    assert "nothing was marked" in response.content.decode()
    assert refreshed(job).status == JobStatus.NEEDS_REVIEW


def test_a_review_keeps_an_https_post_url(client, operator):
    job = make_review_job("R1", make_account("@a", device=make_device("phone-1")))
    act(
        client, "mark_posted", [job], confirm="1", **{f"post_url_{job.pk}": "https://t.example/v/1"}
    )
    assert (refreshed(job).status, job.post_url) == (JobStatus.SUCCESS, "https://t.example/v/1")


def test_check_devices_refuses_unknown_names():
    make_device("phone-1")
    with pytest.raises(CommandError, match="no device named 'phone-404'"):
        call_command("check_devices", "phone-1", "phone-404", "--here")


def test_check_devices_exits_non_zero_when_a_device_is_unhealthy():
    make_device("phone-ok")
    make_device("phone-sick", capabilities={"probe": "fail"})
    with pytest.raises(CommandError, match="1 of 2 devices healthy"):
        call_command("check_devices", "--here")


def test_a_full_disk_leaves_no_empty_evidence_file(monkeypatch, settings):
    job = make_job("J1", account=make_account(device=make_device()))
    hooks = AttemptHooks(claim(job))

    def full_disk(self, name, content):
        Path(self.path(name)).parent.mkdir(parents=True, exist_ok=True)
        Path(self.path(name)).write_bytes(b"")  # what a full disk leaves behind
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", full_disk)
    with pytest.raises(OSError):
        hooks.save_evidence("screenshot", "png", b"\x89PNG" * 100)
    evidence = Path(settings.MEDIA_ROOT) / "evidence"
    assert [p for p in evidence.rglob("*") if p.is_file()] == []


def test_retention_removes_orphaned_and_empty_evidence_but_keeps_linked_files(settings):
    attempt = attempt_with_page_source(b"<app/>")
    attempt.page_source = default_storage.save(
        f"evidence/attempt-{attempt.pk}/page.xml", ContentFile(b"<app/>")
    )
    attempt.save()
    orphan = default_storage.save(f"evidence/attempt-{attempt.pk}/old.png", ContentFile(b"x"))
    empty = default_storage.save("evidence/attempt-999999/screenshot.png", ContentFile(b""))
    # Written now on the test's clock: the file system stamps the real time, which the
    # travelling clock leaves a day or more behind.
    written = timezone.now().timestamp()
    for path in (Path(settings.MEDIA_ROOT) / "evidence").rglob("*"):
        os.utime(path, (written, written))
    later = timezone.now() + timedelta(days=1)  # past the age a writer may still need
    assert prune_orphaned_evidence(timezone.now()) == 0  # too young to judge
    assert prune_orphaned_evidence(later) == 3  # the orphan, the empty file, the x/ file
    assert default_storage.exists(attempt.page_source.name)
    assert not default_storage.exists(orphan) and not default_storage.exists(empty)


def test_update_job_status_refuses_a_device_that_is_not_the_accounts():
    mine, other = make_device("mine"), make_device("other")
    job = make_job("J1", account=make_account(device=mine))
    with pytest.raises(InvalidTransition, match="device other is not the device of account"):
        update_job_status("J1", "failed", "other", error="boom")
    assert refreshed(job).attempts == 0
    assert refreshed(other).failure_streak == 0


def test_a_legacy_worker_index_equal_to_another_devices_key_uses_the_accounts_device():
    other, mine = make_device("other"), make_device("mine")
    make_job("J1", account=make_account(device=mine))
    update_job_status("J1", "failed", str(other.pk), error="adb timeout")
    assert Job.objects.get(job_id="J1").attempt_set.get().device == mine


@pytest.mark.parametrize(
    "url",
    ["https://x.test@javascript:alert(1)", "https://x.test/a b", "https://x.test:99999999/p"],
)
def test_a_review_refuses_urls_that_only_look_like_http(client, operator, url):
    job = make_review_job("R1", make_account("@a", device=make_device("phone-1")))
    response = act(client, "mark_posted", [job], confirm="1", **{f"post_url_{job.pk}": url})
    assert "nothing was marked" in response.content.decode()


def test_the_job_form_refuses_an_invisible_job_id(client, operator):
    response = client.post("/admin/posting/job/add/", job_form_data(job_id="\u200b"))
    assert "contains an invisible or control character" in response.content.decode()
    assert not Job.objects.exists()
