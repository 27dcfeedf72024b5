"""Which jobs a device may run now, and the claim that hands exactly one of them to a worker."""

import os
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from devices.models import Device
from posting import claim_statement, lifecycle, statements
from posting.models import (
    Account,
    AccountStatus,
    Attempt,
    FleetControl,
    InvalidTransition,
    Job,
    JobStatus,
    PauseSwitch,
)


def device_may_start(device: Device, now: datetime) -> bool:
    """Enabled, not draining, not quarantined, and neither the fleet nor the device's host is
    paused (one query)."""
    return startable_device(device, now) is not None


def fleet_paused() -> Exists:
    return Exists(FleetControl.objects.filter(paused=True))


def host_paused(host) -> Exists:
    """`host`: a name or an OuterRef to one."""
    return Exists(PauseSwitch.objects.hosts().paused().filter(name=host))


def platform_paused(platform) -> Exists:
    """`platform`: a name or an OuterRef to one."""
    return Exists(PauseSwitch.objects.platforms().paused().filter(name=platform))


def startable_device(device: Device, now: datetime) -> Device | None:
    """The device, freshly read, if it may start an attempt now."""
    return (
        Device.objects.available(now)
        .filter(pk=device.pk)
        .exclude(fleet_paused())
        .exclude(host_paused(OuterRef("host")))
        .first()
    )


def _paced_accounts(device: Device, now: datetime) -> list[Account]:
    """The device's accounts that are not held and whose pacing lets them post now, each with
    the device freshly read. Pauses, the device's availability and running jobs are left to
    the claim's own statement, which decides them from the rows as they are."""
    accounts = [a for a in accounts_read(device).fetch() if _may_post(a, now)]
    for account in accounts[1:]:
        account.device = accounts[0].device  # one device, read once with the accounts
    return accounts


def _may_post(account: Account, now: datetime) -> bool:
    """Not held (or its cooldown ended), and its pacing lets it post now."""
    released = account.status == AccountStatus.ACTIVE or (
        account.held_until is not None and account.held_until <= now
    )
    return released and account.next_post_allowed_at(now) <= now


def accounts_read(device: Device) -> statements.Read:
    """The claim's read of the device's accounts, each with the device."""
    return statements.Read(_accounts_with_device, device.pk)


def _accounts_with_device(device_pk: int) -> QuerySet:
    """The claim's read before every job: the device's accounts that may be postable, each
    with the device, in one query compiled once (posting.statements). The time-dependent part
    of "postable" (a cooldown's end) is checked in Python."""
    return (
        Account.objects.select_related("device")
        .filter(device_id=device_pk, status__in=[AccountStatus.ACTIVE, AccountStatus.RATE_LIMITED])
        .order_by()
    )


def claim_next_job(device: Device, *, now: datetime, cluster: str = "") -> Attempt | None:
    """Claim the device's next eligible job and open its attempt, or return None.

    The claim is one conditional UPDATE whose row count decides the winner; the attempt
    insert in the same transaction is refused by the database if the device or the job
    already has a running attempt, so duplicate device tasks are harmless.
    """
    accounts = {a.pk: a for a in _paced_accounts(device, now)}
    if not accounts:
        return None
    try:
        with transaction.atomic():
            # Stamp the claim after taking the device's lock, so it never predates the finish
            # of the device's previous attempt written by another process meanwhile.
            device = next(iter(accounts.values())).device
            device.lock_for_update()
            return _claim_next(device, accounts, max(now, timezone.now()), cluster)
    except IntegrityError:
        return None


def claim_next_job_in_transaction(
    device: Device, *, now: datetime, cluster: str = ""
) -> Attempt | None:
    """claim_next_job inside the caller's transaction, which already holds the device's lock
    (taken before `now` was read): for a runner that records its device's last attempt and
    claims the next in one transaction. A refused attempt raises IntegrityError, which rolls
    back the caller's transaction."""
    accounts = {a.pk: a for a in _paced_accounts(device, now)}
    if not accounts:
        return None
    device = next(iter(accounts.values())).device
    return _claim_next(device, accounts, max(now, timezone.now()), cluster)


class ClaimNotConfirmed(Exception):
    """A claim sent in a message took a job that the read after it does not confirm: its
    account is gone from the device's postable accounts, or its own pacing does not let it
    post (PostgreSQL read the account's time zone otherwise: it takes CET, EET, MET and WET
    for fixed-offset abbreviations). The caller rolls the claim back."""


class ClaimInMessage:
    """The device's next claim with its attempt, then a read of the device's accounts, sent
    in the message of the success recorded before it (a statements.MessageTail, PostgreSQL):
    both see that success's writes, and the claim paces the accounts itself (no read can
    come between). `attempt()` once `loaded`; kept only if the caller's transaction commits
    what it was sent after. The account's own pacing has the last word: the read after the
    claim must confirm it (else ClaimNotConfirmed)."""

    def __init__(self, device: Device, cluster: str = "") -> None:
        self.device, self.cluster, self.token = device, cluster, uuid.uuid4()
        self.accounts = accounts_read(device)
        self._row: tuple | None = None

    @property
    def loaded(self) -> bool:
        return self.accounts.instances is not None

    def statements(self, now: datetime) -> list[tuple[str, list]]:
        self.now = now
        self.opening = _attempt(self.device, self.token, now, self.cluster)
        claim = lifecycle.claim_next_statement(self.device.pk, self.token, now, self.opening)
        return [claim, self.accounts.statement]

    def load(self, results: list[list[tuple]]) -> None:
        claimed, accounts = results
        self._row = claimed[0] if claimed else None
        self.accounts.load(accounts)

    def attempt(self) -> Attempt | None:
        """The claimed job's running attempt, with the device and the job's account as the
        message left them; None when nothing was claimable."""
        if self._row is None:
            return None
        accounts = {a.pk: a for a in self.accounts.instances}
        account_id = self._row[claim_statement.RETURNED.index("account_id")]
        account = accounts.get(account_id)
        if account is None or not _may_post(account, self.now):
            raise ClaimNotConfirmed(
                f"the claim for account {account_id} on device {self.device.name} is not "
                "confirmed by the account as read after it"
            )
        self.opening.device = account.device
        job = lifecycle.claimed_next(self._row, account.device, self.token, self.now, self.opening)
        job.account = account
        return self.opening


def _claim_next(device: Device, accounts: dict, now: datetime, cluster: str) -> Attempt | None:
    """The claim and its attempt, in the caller's transaction holding the device's lock."""
    token = uuid.uuid4()
    opening = _attempt(device, token, now, cluster)
    job = lifecycle.claim_next(device, list(accounts), token, now, opening)
    if job is None:
        return None
    job.account = accounts[job.account_id]
    if opening.pk is not None:  # inserted with the claim (PostgreSQL)
        return opening
    return _new_attempt(job, opening)


def open_attempt(
    job: Job, device: Device, *, now: datetime, cluster: str = "", savepoint: bool = True
) -> Attempt | None:
    """Claim this pending job on the device (None if someone else got it first).

    Raises InvalidTransition for a device that is not the account's: an account posts only
    from the phone it is logged in on, and a failure must not count against another phone.
    `savepoint=False` inside a caller's transaction spares two round trips; a None then leaves
    that transaction marked for rollback (the caller must give up, as update_job_status does).
    """
    if job.account.device_id != device.pk:
        bound = job.account.device.name if job.account.device else "no device"
        raise InvalidTransition(
            f"job {job.job_id}: device {device.name} is not the device of account "
            f"{job.account.handle} ({bound})"
        )
    try:
        with transaction.atomic(savepoint=savepoint):
            device.lock_for_update()
            return _open(job, device, uuid.uuid4(), max(now, timezone.now()), cluster)
    except IntegrityError:
        return None


def _open(job: Job, device: Device, token, now: datetime, cluster: str) -> Attempt | None:
    """The conditional UPDATE and the attempt, in the caller's transaction. The claim leaves
    on `job` the attempt count and pass it wrote, whenever `job` was read."""
    opening = _attempt(device, token, now, cluster)
    if not lifecycle.claim(job, device, token, now, opening):
        return None
    job.status, job.lease_token, job.device, job.claimed_at = JobStatus.RUNNING, token, device, now
    job.cancel_requested = False
    if opening.pk is not None:  # inserted with the claim (PostgreSQL)
        return opening
    return _new_attempt(job, opening)


def _attempt(device: Device, token, now: datetime, cluster: str) -> Attempt:
    """A claim's running attempt, not yet saved nor given its job (nor its number and pass,
    which the claim writes)."""
    return Attempt(
        device=device,
        started_at=now,
        lease_token=token,
        lease_expires_at=now + timedelta(seconds=settings.LEASE_SECONDS),
        cluster=cluster,
        worker_pid=os.getpid(),
    )


def _new_attempt(job: Job, attempt: Attempt) -> Attempt:
    """Insert the running attempt of a job just claimed (its attempt count incremented)."""
    attempt.job, attempt.pass_number, attempt.number = job, job.pass_number, job.attempts
    # Once per job: inserted by a statement written once (posting.statements).
    return statements.insert(attempt)


def next_due_at(device: Device, now: datetime) -> datetime | None:
    """When the device's next pending job becomes runnable (`now` if one is), or None."""
    if not device_may_start(device, now):
        return None
    accounts = (
        Account.objects.filter(device=device)
        .filter(Q(status=AccountStatus.ACTIVE) | Q(status=AccountStatus.RATE_LIMITED))
        .exclude(platform_paused(OuterRef("platform")))
    )
    soonest = None
    for account in accounts:
        moment = _account_next_due(account, now)
        if moment is not None and (soonest is None or moment < soonest):
            soonest = moment
    return soonest


def _account_next_due(account: Account, now: datetime) -> datetime | None:
    pending = Job.objects.filter(account=account, status=JobStatus.PENDING)
    if pending.due(now).exists():
        job_due = now
    else:
        # A job waits on its retry delay or its schedule; the rare job that waits on both is
        # found by the periodic sweep instead.
        waits = pending.aggregate(
            retry=Min("retry_at", filter=Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now)),
            scheduled=Min("scheduled_at", filter=Q(retry_at__isnull=True) | Q(retry_at__lte=now)),
        )
        known = [t for t in waits.values() if t is not None]
        if not known:
            return None
        job_due = min(known)
    allowed = account.next_post_allowed_at(job_due)
    if account.status == AccountStatus.RATE_LIMITED and account.held_until:
        allowed = max(allowed, account.held_until)
    return allowed
