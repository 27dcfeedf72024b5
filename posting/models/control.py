"""Switches an operator flips from the admin: the whole fleet, one platform, one host."""

from datetime import datetime

from django.conf import settings
from django.db import connection, models

from posting.models.choices import PauseScope


class FleetControl(models.Model):
    """A single row: the global pause (no new attempts start; running ones finish)."""

    paused = models.BooleanField(default=False)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = "fleet control"

    def __str__(self) -> str:
        return "Paused" if self.paused else "Running"

    @classmethod
    def is_paused(cls) -> bool:
        return cls.objects.filter(pk=1, paused=True).exists()

    @classmethod
    def set_paused(cls, paused: bool, *, now: datetime, user=None) -> bool:
        """Pause or resume the fleet. False when it already was in that state."""
        control, _ = cls.objects.get_or_create(pk=1)
        if control.paused == paused:
            return False
        control.paused, control.changed_at, control.changed_by = paused, now, user
        control.save()
        return True


class PauseSwitchQuerySet(models.QuerySet):
    def paused(self) -> "PauseSwitchQuerySet":
        return self.filter(paused=True)

    def platforms(self) -> "PauseSwitchQuerySet":
        return self.filter(scope=PauseScope.PLATFORM)

    def hosts(self) -> "PauseSwitchQuerySet":
        return self.filter(scope=PauseScope.HOST)


class PauseSwitch(models.Model):
    """The pause of one platform (its accounts) or one host (its devices).

    While paused no new attempt starts for that platform's accounts or on that host's devices;
    running attempts finish. The row stays after a resume, so it always tells who paused it
    last, when and why, and who resumed it. The circuit breaker (posting.breaker) pauses a
    platform itself: `by_breaker` and the accounts whose holds tripped it.
    """

    scope = models.CharField(max_length=20, choices=PauseScope.choices)
    name = models.CharField(max_length=100, help_text="The platform, or the host's cluster name.")
    paused = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when the circuit breaker paused it.",
    )
    reason = models.CharField(max_length=500, blank=True)
    by_breaker = models.BooleanField(
        default=False, help_text="Paused by the circuit breaker, not by an operator."
    )
    accounts = models.JSONField(
        default=list, blank=True, help_text="The held accounts that tripped the breaker."
    )
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The breaker counts only holds after this moment (the last resume), so a resume is not
    # tripped again at once by the holds that tripped it before.
    holds_count_since = models.DateTimeField(null=True, blank=True, editable=False)

    objects = PauseSwitchQuerySet.as_manager()

    class Meta:
        ordering = ["scope", "name"]
        verbose_name = "platform or host pause"
        verbose_name_plural = "platform and host pauses"
        permissions = [("pause_scope", "Can pause and resume platforms and hosts")]
        constraints = [
            # one switch per platform or host: the conditional UPDATEs below rely on it
            models.UniqueConstraint(fields=["scope", "name"], name="%(app_label)s_%(class)s_one"),
        ]

    def __str__(self) -> str:
        return f"{PauseScope(self.scope).label.lower()} {self.name}"

    @property
    def state(self) -> str:
        if not self.paused:
            return "running"
        return "tripped" if self.by_breaker else "paused"

    @classmethod
    def ensure(cls, scope: str, names) -> None:
        """Create the switches that do not exist yet (safe inside a transaction, and when
        several processes race: ON CONFLICT DO NOTHING)."""
        cls.objects.bulk_create(
            [cls(scope=scope, name=name) for name in names], ignore_conflicts=True
        )

    @classmethod
    def pause(
        cls,
        scope: str,
        name: str,
        *,
        now: datetime,
        reason: str,
        user=None,
        by_breaker: bool = False,
        accounts: list[str] | None = None,
    ) -> bool:
        """Pause one platform or host. False when it already was paused (nothing changes):
        the row count of the conditional UPDATE decides, so a pause happens exactly once."""
        cls.ensure(scope, [name])
        return (
            cls.objects.filter(scope=scope, name=name, paused=False).update(
                paused=True,
                paused_at=now,
                paused_by=user,
                reason=reason[:500],
                by_breaker=by_breaker,
                accounts=list(accounts or []),
            )
            == 1
        )

    @classmethod
    def resume(cls, scope: str, name: str, *, now: datetime, user=None) -> bool:
        """Resume one platform or host. False when it was not paused."""
        return (
            cls.objects.filter(scope=scope, name=name, paused=True).update(
                paused=False, resumed_at=now, resumed_by=user, holds_count_since=now
            )
            == 1
        )

    @classmethod
    def is_paused(cls, scope: str, name: str) -> bool:
        return cls.objects.filter(scope=scope, name=name, paused=True).exists()

    @classmethod
    def locked(cls, scope: str, name: str) -> "PauseSwitch":
        """The switch (created if missing), read under a row lock held until the caller's
        transaction ends (PostgreSQL); SQLite's IMMEDIATE transaction already serialises
        writers."""
        cls.ensure(scope, [name])
        rows = cls.objects.filter(scope=scope, name=name)
        if connection.features.has_select_for_update:
            rows = rows.select_for_update()
        return rows.get()
