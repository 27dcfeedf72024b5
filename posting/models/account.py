"""An account on a platform, logged in on exactly one device."""

import zoneinfo
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from posting import statements
from posting.models.choices import AccountStatus, Platform


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a time zone name such as Europe/Berlin") from None


class AccountQuerySet(models.QuerySet):
    def postable(self, now: datetime) -> "AccountQuerySet":
        """Not held, or held only by a rate limit whose cooldown has ended."""
        return self.filter(
            Q(status=AccountStatus.ACTIVE)
            | Q(status=AccountStatus.RATE_LIMITED, held_until__lte=now)
        )


class Account(models.Model):
    handle = models.CharField(max_length=200, unique=True)
    platform = models.CharField(max_length=50, choices=Platform.choices, default=Platform.TIKTOK)
    device = models.ForeignKey(
        "devices.Device",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accounts",
        help_text="The phone this account is logged in on; its jobs run only there.",
    )
    status = models.CharField(
        max_length=20, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    held_at = models.DateTimeField(null=True, blank=True)
    held_reason = models.CharField(max_length=500, blank=True)
    held_until = models.DateTimeField(
        null=True, blank=True, help_text="End of a rate-limit cooldown."
    )

    min_post_interval = models.DurationField(default=timedelta(0))
    daily_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Posts per day in the account's time zone; empty: no cap."
    )
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    last_posted_at = models.DateTimeField(null=True, blank=True)
    # Posts on `posts_day` (the account's local date): the daily cap without a count query.
    posts_day = models.DateField(null=True, blank=True)
    posts_on_day = models.PositiveIntegerField(default=0)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["handle"]
        indexes = [
            # eligibility: the accounts of one device; admin filter by device
            models.Index(fields=["device", "status"], name="posting_account_device_status"),
            # admin filter on status
            models.Index(fields=["status"], name="posting_account_status"),
            # the circuit breaker: accounts of one platform held since a moment
            # (posting.breaker.recent_holds); admin filter on platform
            models.Index(
                fields=["platform", "status", "held_at"], name="posting_account_plat_held"
            ),
        ]

    def __str__(self) -> str:
        return self.handle

    def clean(self) -> None:
        if (self.window_start is None) != (self.window_end is None):
            raise ValidationError(
                {"window_end": "Give both ends of the posting window, or neither."}
            )
        if self.window_start is not None and self.window_start == self.window_end:
            raise ValidationError(
                {
                    "window_end": "The posting window opens and closes at the same time, so "
                    "it never opens. Leave both ends empty to post at any time."
                }
            )

    # --- pacing ----------------------------------------------------------------------------

    def local_now(self, now: datetime) -> datetime:
        return now.astimezone(zoneinfo.ZoneInfo(self.timezone))

    def next_post_allowed_at(self, now: datetime) -> datetime:
        """The earliest moment pacing lets this account post (`now` if it may post now)."""
        candidates = [now]
        if self.last_posted_at and self.min_post_interval:
            candidates.append(self.last_posted_at + self.min_post_interval)
        local = self.local_now(now)
        posted_today = self.posts_on_day if self.posts_day == local.date() else 0
        if self.daily_cap is not None and posted_today >= self.daily_cap:
            candidates.append(_next_local_midnight(local))  # a cap of 0: no post on any day
        allowed = max(candidates)
        return self._next_window_opening(allowed)

    def _next_window_opening(self, moment: datetime) -> datetime:
        if self.window_start is None or self.window_end is None:
            return moment
        local = self.local_now(moment)
        start, end, t = self.window_start, self.window_end, local.time()
        inside = start <= t < end if start <= end else (t >= start or t < end)
        if inside:
            return moment
        opening = local.replace(
            hour=start.hour, minute=start.minute, second=start.second, microsecond=0
        )
        if opening <= local:
            opening += timedelta(days=1)
        return opening.astimezone(moment.tzinfo)

    def record_post(self, now: datetime) -> None:
        """Count a published post toward pacing."""
        # Once per published post: the statement is written once (posting.statements).
        statements.update(Account, self._posted(now), "id = %s", [self.pk])

    def post_recording(self, now: datetime) -> tuple[str, list]:
        """record_post's UPDATE, for a caller that sends it within a larger statement."""
        return statements.update_statement(Account, self._posted(now), "id = %s", [self.pk])

    def _posted(self, now: datetime) -> dict:
        today = self.local_now(now).date()
        same_day = self.posts_day == today
        return {
            "last_posted_at": now,
            "posts_day": today,
            "posts_on_day": (self.posts_on_day + 1) if same_day else 1,
        }

    # --- holds -----------------------------------------------------------------------------

    @property
    def is_held(self) -> bool:
        return self.status != AccountStatus.ACTIVE

    def hold(self, status: str, reason: str, now: datetime, until: datetime | None = None) -> bool:
        """Hold the account. An account already held keeps its first reason; one whose
        rate-limit cooldown has ended posts again, so a new failure holds it anew (else a
        captcha after a cooldown would leave it posting into the captcha)."""
        if status == AccountStatus.ACTIVE:
            raise ValueError("hold() needs a held status; use release() to reactivate")
        held = (
            Account.objects.filter(pk=self.pk)
            .postable(now)
            .update(status=status, held_at=now, held_reason=reason[:500], held_until=until)
        )
        self.refresh_from_db(fields=["status", "held_at", "held_reason", "held_until"])
        return held == 1

    def release(self) -> bool:
        """Make a held account active again and wake its device after commit (its jobs may
        run now, whoever calls this). False if it was not held."""
        from posting.wakeups import wake_devices  # wakeups imports the models package

        released = (
            Account.objects.filter(pk=self.pk)
            .exclude(status=AccountStatus.ACTIVE)
            .update(status=AccountStatus.ACTIVE, held_at=None, held_reason="", held_until=None)
        )
        self.refresh_from_db(fields=["status", "held_at", "held_reason", "held_until"])
        if released:
            wake_devices([self.device_id])
        return released == 1


def _next_local_midnight(local: datetime) -> datetime:
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=local.tzinfo)
