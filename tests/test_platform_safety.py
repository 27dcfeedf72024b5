"""Pauses per platform and per host, and the circuit breaker that stops a captcha wave."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from posting import breaker
from posting.claiming import claim_next_job, next_due_at
from posting.models import AccountStatus, JobStatus, Outcome, PauseScope, PauseSwitch, Platform
from posting.outcomes import record_success
from posting.pauses import pause, resume
from posting.tracking import update_job_status
from tests.factories import claim, make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db


def claimable(device):
    attempt = claim_next_job(device, now=timezone.now())
    return attempt.job.job_id if attempt else None


@pytest.fixture
def notified(monkeypatch):
    """Notifications the breaker sends (after commit)."""
    sent = []
    monkeypatch.setattr(breaker, "notify", lambda event, text: sent.append((event, text)))
    return sent


def hold_by_attempt(account, error_type="captcha"):
    """An attempt of the account fails with an account error, as a worker records it."""
    job = make_job(account=account)
    update_job_status(
        job.job_id,
        "failed",
        account.device,
        error=f"{error_type} shown",
        error_category="account",
        error_type=error_type,
    )
    return refreshed(account)


def instagram_accounts(n):
    return [
        make_account(f"@ig{i}", device=make_device(f"ig-phone-{i}"), platform=Platform.INSTAGRAM)
        for i in range(n)
    ]


# --- pauses ------------------------------------------------------------------------------------


def test_a_paused_platform_starts_no_attempt_for_its_accounts_and_others_go_on():
    device = make_device()
    make_job("IG", account=make_account(device=device, platform=Platform.INSTAGRAM), priority=5)
    make_job("TT", account=make_account(device=device, platform=Platform.TIKTOK))
    assert pause(PauseScope.PLATFORM, Platform.INSTAGRAM, now=timezone.now(), reason="app update")
    assert claimable(device) == "TT"
    assert claimable(device) is None  # IG waits; TT's account is busy anyway


def test_a_device_whose_accounts_are_all_paused_has_no_work_due():
    device = make_device()
    make_job("IG", account=make_account(device=device, platform=Platform.INSTAGRAM))
    pause(PauseScope.PLATFORM, Platform.INSTAGRAM, now=timezone.now(), reason="")
    assert next_due_at(device, timezone.now()) is None


def test_a_pause_records_who_when_and_why_and_happens_once(admin_user):
    now = timezone.now()
    assert pause(PauseScope.HOST, "rack-a", now=now, user=admin_user, reason="USB hub swap")
    assert not pause(PauseScope.HOST, "rack-a", now=now, user=None, reason="again")
    switch = PauseSwitch.objects.get(scope=PauseScope.HOST, name="rack-a")
    assert (switch.paused, switch.paused_by, switch.paused_at, switch.reason) == (
        True,
        admin_user,
        now,
        "USB hub swap",
    )
    assert not switch.by_breaker


def test_a_host_pause_stops_that_hosts_devices_only():
    a, b = make_device("a1", host="rack-a"), make_device("b1", host="rack-b")
    make_job("A", account=make_account(device=a))
    make_job("B", account=make_account(device=b))
    pause(PauseScope.HOST, "rack-a", now=timezone.now(), reason="maintenance")
    assert claimable(a) is None
    assert next_due_at(a, timezone.now()) is None
    assert claimable(b) == "B"


def test_a_running_attempt_finishes_when_its_platform_is_paused():
    account = make_account(device=make_device(), platform=Platform.YOUTUBE)
    attempt = claim(make_job("YT", account=account))
    pause(PauseScope.PLATFORM, Platform.YOUTUBE, now=timezone.now(), reason="")
    assert record_success(attempt, timezone.now(), Outcome(True)) == JobStatus.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_resume_wakes_the_devices_with_work_again_and_records_who(admin_user):
    device = make_device()
    make_job("IG", account=make_account(device=device, platform=Platform.INSTAGRAM))
    make_job("other", account=make_account(device=make_device(), platform=Platform.TIKTOK))
    pause(PauseScope.PLATFORM, Platform.INSTAGRAM, now=timezone.now(), reason="")
    assert not resume(PauseScope.PLATFORM, Platform.TIKTOK, now=timezone.now())
    assert resume(PauseScope.PLATFORM, Platform.INSTAGRAM, now=timezone.now(), user=admin_user)
    assert OrmQ.objects.count() == 1  # only the Instagram account's device
    switch = PauseSwitch.objects.get(name=Platform.INSTAGRAM)
    assert (switch.paused, switch.resumed_by) == (False, admin_user)
    assert claimable(device) == "IG"


# --- the circuit breaker -----------------------------------------------------------------------


def test_the_breaker_pauses_the_platform_at_the_kth_distinct_held_account(
    settings, notified, django_capture_on_commit_callbacks
):
    settings.PLATFORM_BREAKER_HOLDS = 3
    accounts = instagram_accounts(4)
    with django_capture_on_commit_callbacks(execute=True):
        hold_by_attempt(accounts[0])
        hold_by_attempt(accounts[1], "suspended")
        assert not PauseSwitch.is_paused(PauseScope.PLATFORM, Platform.INSTAGRAM)
        hold_by_attempt(accounts[2], "loggedout")
    switch = PauseSwitch.objects.get(scope=PauseScope.PLATFORM, name=Platform.INSTAGRAM)
    assert (switch.paused, switch.by_breaker, switch.paused_by) == (True, True, None)
    assert switch.accounts == ["@ig0", "@ig1", "@ig2"]
    assert "circuit breaker: 3 instagram accounts held" in switch.reason
    assert [event for event, _ in notified] == ["platform_paused"]
    assert "@ig0, @ig1, @ig2" in notified[0][1]
    make_job("next", account=accounts[3])
    assert claimable(accounts[3].device) is None


def test_one_account_held_twice_counts_once_and_other_platforms_do_not_count(settings, notified):
    settings.PLATFORM_BREAKER_HOLDS = 2
    account = instagram_accounts(1)[0]
    hold_by_attempt(account)
    hold_by_attempt(make_account(device=make_device(), platform=Platform.TIKTOK))
    make_job("again", account=account)  # the held account gets no attempt, so no second hold
    assert not PauseSwitch.objects.paused().exists()


def test_holds_older_than_the_window_do_not_count(settings, clock, notified):
    settings.PLATFORM_BREAKER_HOLDS, settings.PLATFORM_BREAKER_MINUTES = 2, 10
    first, second = instagram_accounts(2)
    hold_by_attempt(first)
    clock.shift(timedelta(minutes=11))
    hold_by_attempt(second)
    assert not PauseSwitch.objects.paused().exists()


def test_rate_limits_count_apart_with_their_own_threshold(settings, notified):
    settings.PLATFORM_BREAKER_HOLDS, settings.PLATFORM_BREAKER_RATE_LIMITS = 2, 3
    accounts = instagram_accounts(4)
    hold_by_attempt(accounts[0], "rate_limited")
    hold_by_attempt(accounts[1], "captcha")
    hold_by_attempt(accounts[2], "rate_limited")
    assert not PauseSwitch.objects.paused().exists()  # 1 account hold, 2 rate limits
    hold_by_attempt(accounts[3], "rate_limited")
    switch = PauseSwitch.objects.get(name=Platform.INSTAGRAM)
    assert switch.paused and "3 instagram accounts rate-limited" in switch.reason


def test_a_resume_is_not_tripped_again_by_the_holds_before_it(settings, notified):
    settings.PLATFORM_BREAKER_HOLDS = 2
    accounts = instagram_accounts(4)
    hold_by_attempt(accounts[0])
    hold_by_attempt(accounts[1])
    assert resume(PauseScope.PLATFORM, Platform.INSTAGRAM, now=timezone.now())
    hold_by_attempt(accounts[2])  # the old two no longer count: one hold since the resume
    assert not PauseSwitch.is_paused(PauseScope.PLATFORM, Platform.INSTAGRAM)
    hold_by_attempt(accounts[3])
    switch = PauseSwitch.objects.get(name=Platform.INSTAGRAM)
    assert switch.paused and switch.accounts == ["@ig2", "@ig3"]


def test_a_platform_an_operator_paused_is_not_tripped(settings, notified):
    settings.PLATFORM_BREAKER_HOLDS = 1
    pause(PauseScope.PLATFORM, Platform.INSTAGRAM, now=timezone.now(), reason="by hand")
    account = instagram_accounts(1)[0]
    hold_by_attempt(account)
    switch = PauseSwitch.objects.get(name=Platform.INSTAGRAM)
    assert (switch.reason, switch.by_breaker) == ("by hand", False)


def test_the_breaker_can_be_switched_off(settings, notified):
    settings.PLATFORM_BREAKER, settings.PLATFORM_BREAKER_HOLDS = False, 1
    hold_by_attempt(instagram_accounts(1)[0])
    assert not PauseSwitch.objects.paused().exists()


def test_an_admin_hold_counts_when_an_attempt_evaluates_the_breaker(settings, notified):
    settings.PLATFORM_BREAKER_HOLDS = 2
    first, second = instagram_accounts(2)
    first.hold(AccountStatus.CAPTCHA, "held by hand", timezone.now())
    assert not PauseSwitch.objects.paused().exists()  # an operator's hold trips nothing itself
    hold_by_attempt(second)
    assert PauseSwitch.objects.get(name=Platform.INSTAGRAM).accounts == ["@ig0", "@ig1"]


def test_a_captcha_after_a_rate_limit_cooldown_holds_the_account_and_counts(
    settings, clock, notified
):
    settings.PLATFORM_BREAKER_HOLDS, settings.RATE_LIMIT_COOLDOWN_MINUTES = 2, 10
    first, second = instagram_accounts(2)
    hold_by_attempt(first, "rate_limited")
    clock.shift(timedelta(minutes=11))  # the cooldown ended: the account posts again
    assert refreshed(hold_by_attempt(first, "captcha")).status == AccountStatus.CAPTCHA
    hold_by_attempt(second, "captcha")
    assert PauseSwitch.objects.get(name=Platform.INSTAGRAM).accounts == ["@ig0", "@ig1"]


def test_a_rate_limit_after_its_cooldown_starts_a_new_cooldown(settings, clock, notified):
    settings.RATE_LIMIT_COOLDOWN_MINUTES = 10
    account = instagram_accounts(1)[0]
    hold_by_attempt(account, "rate_limited")
    clock.shift(timedelta(minutes=11))
    account = hold_by_attempt(account, "rate_limited")
    assert account.held_until > timezone.now() + timedelta(minutes=9)


def test_a_breaker_that_cannot_count_keeps_the_hold_and_the_next_hold_trips_it(
    settings, monkeypatch, notified
):
    from django.db import DatabaseError

    settings.PLATFORM_BREAKER_HOLDS = 2
    first, second, third = instagram_accounts(3)
    hold_by_attempt(first)

    def broken(*args, **kwargs):
        raise DatabaseError("database is locked")

    real = breaker.recent_holds
    monkeypatch.setattr(breaker, "recent_holds", broken)
    assert refreshed(hold_by_attempt(second)).status == AccountStatus.CAPTCHA
    assert not PauseSwitch.objects.paused().exists()
    monkeypatch.setattr(breaker, "recent_holds", real)
    hold_by_attempt(third)
    assert PauseSwitch.objects.get(name=Platform.INSTAGRAM).accounts == ["@ig0", "@ig1", "@ig2"]
