"""A runner's next claim, sent in the message of the success before it (PostgreSQL), paces the
device's accounts in its own SQL; that pacing is Account.next_post_allowed_at's, and a claim
sent with a record that is then not kept is undone with it.

The runner-level tests run on both databases (tests/test_writes_on_postgresql.py runs this
module on PostgreSQL); the property test needs PostgreSQL's SQL pacing.
"""

import functools
import zoneinfo
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from posting import statements
from posting.claiming import ClaimInMessage, ClaimNotConfirmed, claim_next_job
from posting.execution import run_attempt
from posting.models import Account, Attempt, Job, JobStatus
from posting.runner import settle_then_claim
from tests.factories import NOW, make_account, make_device, make_job

pytestmark = pytest.mark.django_db(transaction=True)


def first_post_then_next_claim(paced: dict, other: dict | None = None):
    """J0 and J1 on one account, O0 on another if `other` (its fields) is given, in the order
    J0, O0, J1; the device seen lately, so J0's success writes nothing after its message. J0
    runs; what the claim sent with its record takes."""
    device = make_device(last_seen_at=NOW)
    account = make_account(device=device, **paced)
    make_job("J0", account=account, priority=3)
    make_job("J1", account=account, priority=1)
    if other is not None:
        make_job("O0", account=make_account(device=device, **other), priority=2)
    claimed = claim_next_job(device, now=timezone.now())
    assert claimed.job.job_id == "J0"
    report = run_attempt(claimed.job, claimed.device, claimed)
    return settle_then_claim(claimed, report, timezone.now())


@pytest.mark.parametrize(
    "pacing",
    [{"min_post_interval": timedelta(hours=1)}, {"daily_cap": 1}],
    ids=["interval", "daily-cap"],
)
def test_the_claim_sent_with_a_record_passes_over_the_account_the_record_paced(pacing):
    following = first_post_then_next_claim(pacing, other={})
    assert following.job.job_id == "O0"
    assert Job.objects.get(job_id="J1").status == JobStatus.PENDING


def test_the_claim_sent_with_a_record_passes_over_an_account_outside_its_window():
    # NOW is 17:30 in Kolkata: the other account's window is closed.
    closed = {"timezone": "Asia/Kolkata", "window_start": time(0), "window_end": time(1)}
    following = first_post_then_next_claim({}, other=closed)
    assert following.job.job_id == "J1"
    assert Job.objects.get(job_id="O0").status == JobStatus.PENDING


def test_the_claim_sent_with_a_record_takes_the_same_accounts_next_job_when_pacing_allows():
    following = first_post_then_next_claim({"daily_cap": 2})
    assert following.job.job_id == "J1"
    assert following.job.account.posts_on_day == 1  # the account as the record left it


def test_a_claim_its_accounts_pacing_does_not_confirm_is_undone_and_the_record_kept(clock):
    # PostgreSQL reads "CET" as the fixed +01:00 abbreviation; Python's zone keeps summer
    # time. At 22:10 UTC in July it is already the next day in CET: the cap of one is spent.
    clock.move_to(datetime(2026, 7, 1, 22, 10, tzinfo=UTC))
    device = make_device(last_seen_at=timezone.now())
    account = make_account(device=device, timezone="CET", daily_cap=1)
    make_job("J0", account=account, priority=1)
    make_job("J1", account=account)
    claimed = claim_next_job(device, now=timezone.now())
    report = run_attempt(claimed.job, claimed.device, claimed)
    assert settle_then_claim(claimed, report, timezone.now()) is None
    assert Job.objects.get(job_id="J0").status == JobStatus.SUCCESS
    waiting = Job.objects.get(job_id="J1")
    assert (waiting.status, waiting.attempts) == (JobStatus.PENDING, 0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the claim in a message")
def test_a_claim_whose_account_the_read_after_it_does_not_find_is_not_confirmed():
    # Held or moved by someone else between the two statements: the read leaves it out.
    device = make_device()
    make_job("J0", account=make_account(device=device))
    with transaction.atomic():
        claim = ClaimInMessage(device)
        claim.load(statements.in_one_message(claim.statements(timezone.now())))
        claim.accounts.instances = []
        with pytest.raises(ClaimNotConfirmed):
            claim.attempt()
        transaction.set_rollback(True)


def test_a_claim_sent_with_a_record_whose_lease_was_taken_over_is_undone():
    device = make_device(last_seen_at=NOW)
    make_job("J0", account=make_account(device=device), priority=1)
    make_job("J1", account=make_account(device=device))  # claimable while J0 runs
    claimed = claim_next_job(device, now=timezone.now())
    report = run_attempt(claimed.job, claimed.device, claimed)
    # The sweep ended the attempt as lost while it posted, and sent its job to review: the
    # record finds nothing of its own to write.
    Attempt.objects.filter(pk=claimed.pk).update(outcome="lost", finished_at=timezone.now())
    Job.objects.filter(pk=claimed.job.pk).update(status=JobStatus.NEEDS_REVIEW)
    assert settle_then_claim(claimed, report, timezone.now()) is None
    waiting = Job.objects.get(job_id="J1")
    assert (waiting.status, waiting.attempts) == (JobStatus.PENDING, 0)
    assert not Attempt.objects.filter(job=waiting).exists()


# --- the SQL pacing is the account's own ----------------------------------------------------

# Every zone Python knows, and a few with unusual offsets or daylight-saving rules drawn more
# often. Left out: the names PostgreSQL reads as its fixed-offset abbreviations (CET's
# summer time is lost: the read after the claim has the last word there, tested above) and
# the `right/` zones, which count leap seconds.
ALL_ZONES = sorted(zoneinfo.available_timezones())
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
]
# Moments around daylight-saving changes, where local dates and times are easiest to get wrong.
SHIFTS = [
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Europe springs forward
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # and falls back
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # New York
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Lord Howe's half hour
]
moments = st.one_of(
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    st.builds(
        lambda shift, offset: shift + offset,
        st.sampled_from(SHIFTS),
        st.timedeltas(min_value=-timedelta(hours=30), max_value=timedelta(hours=30)),
    ),
)
times = st.times() | st.sampled_from([time(0), time(8), time(23, 59, 59, 999999)])


@st.composite
def pacings(draw, now: datetime) -> dict:
    """An account's pacing fields, drawn near `now`'s edges: the interval ending at `now`, the
    count on `now`'s local day, a window opening or closing at `now`'s local time."""
    zone = draw(st.sampled_from(ZONES) | st.sampled_from(ALL_ZONES))
    local = Account(timezone=zone).local_now(now)
    interval = draw(
        st.just(timedelta(0))
        | st.timedeltas(min_value=-timedelta(hours=2), max_value=timedelta(days=2))
    )
    ago = st.timedeltas(min_value=-timedelta(hours=3), max_value=timedelta(days=3))
    edge = times | st.just(local.time())
    return {
        "timezone": zone,
        "min_post_interval": interval,
        "last_posted_at": draw(st.none() | st.just(now - interval) | ago.map(lambda a: now - a)),
        "daily_cap": draw(st.none() | st.integers(0, 4)),
        "posts_on_day": draw(st.integers(0, 5)),
        "posts_day": draw(
            st.none() | st.sampled_from([local.date() - timedelta(days=1)] + [local.date()] * 2)
        ),
        "window_start": draw(st.none() | edge),
        "window_end": draw(st.none() | edge),
    }


@functools.cache
def abbreviations() -> frozenset[str]:
    """The time zone abbreviations PostgreSQL reads before its zone names."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT abbrev FROM pg_timezone_abbrevs")
        return frozenset(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pacing in SQL: PostgreSQL's")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), now=moments)
def test_the_claims_pacing_in_sql_lets_an_account_post_exactly_when_its_own_pacing_does(data, now):
    pacing = data.draw(pacings(now))
    assume(
        pacing["timezone"] not in abbreviations() and not pacing["timezone"].startswith("right/")
    )
    with transaction.atomic():
        device = make_device()
        account = make_account(device=device, **pacing)
        make_job(account=account)
        account.refresh_from_db()  # the values as stored, as the claim's SQL reads them
        expected = account.next_post_allowed_at(now) <= now
        claim = ClaimInMessage(device)
        claim.load(statements.in_one_message(claim.statements(now)))
        assert (claim.attempt() is not None) == expected, pacing
        transaction.set_rollback(True)
