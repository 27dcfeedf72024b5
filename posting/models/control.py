"""Fleet-wide switches an operator flips from the admin."""

from datetime import datetime

from django.conf import settings
from django.db import models


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
