"""Which jobs a device may claim: holds, pacing, schedules, retries, device state, pause."""

from datetime import time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from posting.claiming import claim_next_job, next_due_at
from posting.models import Account, AccountStatus, FleetControl
from tests.factories import make_account, make_device, make_job

pytestmark = pytest.mark.django_db


def claimable(device):
    attempt = claim_next_job(device, now=timezone.now())
    return attempt.job.job_id if attempt else None


@pytest.fixture
def device():
    return make_device()


def test_a_held_account_gets_no_attempts(device):
    make_job("J1", account=make_account(device=device, status=AccountStatus.CAPTCHA))
    assert claimable(device) is None


def test_a_rate_limited_account_waits_for_its_cooldown(device, clock):
    account = make_account(device=device)
    account.hold(
        AccountStatus.RATE_LIMITED,
        "slow down",
        timezone.now(),
        until=timezone.now() + timedelta(minutes=30),
    )
    make_job("J1", account=account)
    assert claimable(device) is None
    assert next_due_at(device, timezone.now()) == account.held_until
    clock.shift(timedelta(minutes=31))
    assert claimable(device) == "J1"


def test_an_account_without_a_device_gets_no_attempts(device):
    make_job("J1", account=make_account(device=None))
    assert claimable(device) is None


def test_jobs_run_only_on_their_accounts_device(device):
    make_job("J1", account=make_account(device=make_device()))
    assert claimable(device) is None


def test_a_scheduled_job_waits_for_its_time(device, clock):
    make_job(
        "J1", account=make_account(device=device), scheduled_at=timezone.now() + timedelta(hours=1)
    )
    assert claimable(device) is None
    clock.shift(timedelta(hours=1, seconds=1))
    assert claimable(device) == "J1"


def test_a_retry_waits_for_its_backoff(device, clock):
    retry_at = timezone.now() + timedelta(minutes=2)
    make_job("J1", account=make_account(device=device), retry_at=retry_at)
    assert claimable(device) is None
    assert next_due_at(device, timezone.now()) == retry_at
    clock.shift(timedelta(minutes=3))
    assert claimable(device) == "J1"


def test_minimum_interval_between_posts(device, clock):
    account = make_account(
        device=device,
        min_post_interval=timedelta(minutes=10),
        last_posted_at=timezone.now() - timedelta(minutes=4),
    )
    make_job("J1", account=account)
    assert claimable(device) is None
    clock.shift(timedelta(minutes=6, seconds=1))
    assert claimable(device) == "J1"


def test_daily_cap_in_the_accounts_time_zone(device, clock):
    account = make_account(device=device, daily_cap=2, timezone="Asia/Tokyo")
    local_today = account.local_now(timezone.now()).date()
    account.posts_day, account.posts_on_day = local_today, 2
    account.save()
    make_job("J1", account=account)
    assert claimable(device) is None
    due = next_due_at(device, timezone.now())
    assert account.local_now(due).time() == time(0, 0)  # local midnight in Tokyo
    clock.shift(due - timezone.now() + timedelta(seconds=1))
    assert claimable(device) == "J1"


def test_a_daily_cap_of_zero_lets_the_account_post_on_no_day(device, clock):
    # Not even the first post of a day the account has not posted on yet.
    account = make_account(device=device, daily_cap=0, posts_day=None, posts_on_day=0)
    make_job("J1", account=account)
    assert claimable(device) is None
    clock.shift(timedelta(days=3))
    assert claimable(device) is None


@pytest.mark.parametrize(
    ("start", "end", "refused"),
    [(time(8), None, "Give both ends"), (time(0), time(0), "never opens"), (None, None, None)],
)
def test_an_account_refuses_a_window_that_could_never_open_or_lacks_an_end(start, end, refused):
    account = Account(handle="@w", window_start=start, window_end=end)
    if refused is None:
        account.full_clean()
        return
    with pytest.raises(ValidationError) as error:
        account.full_clean()
    assert refused in " ".join(error.value.message_dict["window_end"])


def test_posting_window_in_the_accounts_time_zone(device, clock):
    # 12:00 UTC is 13:00 in Berlin (winter): outside a 14:00-16:00 window.
    account = make_account(
        device=device, timezone="Europe/Berlin", window_start=time(14, 0), window_end=time(16, 0)
    )
    make_job("J1", account=account)
    assert claimable(device) is None
    clock.shift(timedelta(hours=1, seconds=1))
    assert claimable(device) == "J1"


def test_a_quarantined_device_claims_nothing_until_the_quarantine_ends(device, clock):
    make_job("J1", account=make_account(device=device))
    device.quarantine(timezone.now(), reason="test")
    assert claimable(device) is None
    clock.shift(timedelta(minutes=11))
    assert claimable(device) == "J1"


def test_disabled_and_draining_devices_claim_nothing(device):
    make_job("J1", account=make_account(device=device))
    device.enabled = False
    device.save()
    assert claimable(device) is None
    device.enabled, device.draining = True, True
    device.save()
    assert claimable(device) is None


def test_the_global_pause_stops_new_claims(device):
    make_job("J1", account=make_account(device=device))
    FleetControl.set_paused(True, now=timezone.now())
    assert claimable(device) is None
    FleetControl.set_paused(False, now=timezone.now())
    assert claimable(device) == "J1"
