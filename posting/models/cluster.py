"""Heartbeats of the qcluster processes, so a host whose cluster is down is visible."""

import os
import socket
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models


class ClusterHeartbeat(models.Model):
    name = models.CharField(max_length=100, unique=True, help_text="Cluster (device host) name.")
    hostname = models.CharField(max_length=200, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    workers = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    last_beat_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    watchdog_alert = models.CharField(max_length=500, blank=True)
    watchdog_alert_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def stale_after() -> timedelta:
        return timedelta(seconds=3 * settings.CLUSTER_HEARTBEAT_SECONDS + 5)

    def is_alive(self, now: datetime) -> bool:
        return self.stopped_at is None and self.last_beat_at >= now - self.stale_after()

    @classmethod
    def beat(cls, name: str, now: datetime, *, workers: int, starting: bool = False) -> None:
        values = {
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "workers": workers,
            "last_beat_at": now,
            "stopped_at": None,
        }
        if starting:
            values["started_at"] = now
        cls.objects.update_or_create(
            name=name, defaults=values, create_defaults={**values, "started_at": now}
        )

    @classmethod
    def is_stopping(cls, name: str) -> bool:
        """Its master asked the cluster to stop: device tasks end after the current job."""
        return bool(name) and cls.objects.filter(name=name, stopped_at__isnull=False).exists()

    @classmethod
    def mark_stopped(cls, name: str, now: datetime) -> None:
        cls.objects.filter(name=name, pid=os.getpid()).update(stopped_at=now)

    @classmethod
    def live_names(cls, now: datetime) -> set[str]:
        return set(
            cls.objects.filter(
                stopped_at__isnull=True, last_beat_at__gte=now - cls.stale_after()
            ).values_list("name", flat=True)
        )
