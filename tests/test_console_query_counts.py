"""Every list of the console and the dashboard run the same number of queries at 10 and 1,000
rows: nothing is queried per row (annotations, joins, capped counts)."""

from datetime import timedelta
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device, DeviceHealth, PublishRecord
from posting.lifecycle import open_pass_entries
from posting.models import (
    Account,
    AccountStatus,
    Attempt,
    ClusterHeartbeat,
    EntryReason,
    FleetControl,
    HourlyOutcome,
    Job,
    JobStatus,
    Pass,
    PassFailure,
    PauseScope,
    Platform,
)
from posting.pauses import pause
from tests.factories import NOW
from tests.test_operator_console import log_in_as

pytestmark = pytest.mark.django_db

_serial = count(1)

URLS = [
    "/admin/posting/job/",
    "/admin/posting/job/?waiting=retry",
    "/admin/posting/job/?waiting=account_held",
    "/admin/posting/job/?waiting=device_quarantined",
    "/admin/posting/job/?waiting=pacing",
    "/admin/posting/job/?status__exact=failed",
    "/admin/posting/job/?q=acct",
    "/admin/posting/attempt/",
    "/admin/posting/attempt/?q=Q-",
    "/admin/posting/account/",
    "/admin/posting/account/?q=acct",
    "/admin/devices/device/",
    "/admin/posting/pass/",
    "/admin/posting/pauseswitch/",
    "/admin/posting/clusterheartbeat/",
    "/admin/devices/publishrecord/",
    "/",
    "/dashboard/data.json",
]


def populate(n: int) -> None:
    """n devices, accounts and jobs in every state the console shows, in a few bulk inserts."""
    now = timezone.now()
    if not Pass.objects.filter(number=1).exists():
        Pass.objects.create(number=1, started_at=NOW)
    serials = [next(_serial) for _ in range(n)]
    devices = Device.objects.bulk_create(
        Device(
            name=f"bulk-{s}",
            host=f"host-{s % 7}",
            capabilities={},
            health=DeviceHealth.QUARANTINED if s % 5 == 0 else DeviceHealth.ONLINE,
            quarantined_until=now + timedelta(minutes=10) if s % 5 == 0 else None,
            streak_at_quarantine=3 if s % 5 == 0 else 0,
            last_seen_at=now,
        )
        for s in serials
    )
    accounts = Account.objects.bulk_create(
        Account(
            handle=f"@acct{s}",
            device=device,
            platform=Platform.INSTAGRAM if s % 2 else Platform.TIKTOK,
            status=AccountStatus.CAPTCHA if s % 4 == 0 else AccountStatus.ACTIVE,
            held_at=now if s % 4 == 0 else None,
            held_reason="captcha" if s % 4 == 0 else "",
            min_post_interval=timedelta(hours=1) if s % 6 == 0 else timedelta(0),
            last_posted_at=now if s % 6 == 0 else None,
        )
        for s, device in zip(serials, devices, strict=True)
    )
    states = [JobStatus.PENDING, JobStatus.FAILED, JobStatus.NEEDS_REVIEW, JobStatus.SUCCESS]
    jobs = Job.objects.bulk_create(
        Job(
            job_id=f"Q-{s}",
            account=account,
            video_path="clip.mp4",
            status=states[s % 4],
            device=account.device,
            attempts=1,
            retry_at=now + timedelta(minutes=5) if s % 3 == 0 else None,
            error="TimeoutError: adb" if s % 4 == 1 else "",
            error_category="infrastructure" if s % 4 == 1 else "",
            error_type="adb_timeout" if s % 4 == 1 else "",
        )
        for s, account in zip(serials, accounts, strict=True)
    )
    open_pass_entries(Job.objects.filter(pk__in=[j.pk for j in jobs]), EntryReason.IMPORT, now)
    Attempt.objects.bulk_create(
        Attempt(
            job=job,
            device=job.device,
            pass_number=1,
            number=1,
            started_at=now - timedelta(minutes=1),
            finished_at=now,
            outcome="failed",
            error="TimeoutError: adb",
            error_category="infrastructure",
            error_type="adb_timeout",
            lease_expires_at=now,
        )
        for job in jobs
    )
    # Bulk inserted past `Attempt.finish`: counted as it would have counted them.
    PassFailure.objects.recount([1])
    HourlyOutcome.objects.recount()
    PublishRecord.objects.bulk_create(
        PublishRecord(device_name=d.name, job_id=f"Q-{s}", account_handle="@a")
        for s, d in zip(serials, devices, strict=True)
    )
    ClusterHeartbeat.objects.bulk_create(
        ClusterHeartbeat(name=f"cluster-{s}", started_at=now, last_beat_at=now) for s in serials[:3]
    )


@pytest.fixture
def operator_client(client, django_user_model):
    log_in_as(client, django_user_model, "olga", "Operators")
    return client


@pytest.mark.parametrize("url", URLS)
def test_every_list_and_the_dashboard_run_the_same_queries_at_10_and_1000_rows(
    operator_client, url
):
    FleetControl.set_paused(True, now=timezone.now())  # the banner shows on every page
    pause(PauseScope.PLATFORM, Platform.INSTAGRAM, now=timezone.now(), reason="r")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert operator_client.get(url).status_code == 200
        return len(captured)

    populate(10)
    queries()  # the first visit of the switches page creates the hosts' switches
    small = queries()
    populate(990)
    queries()
    assert queries() == small
