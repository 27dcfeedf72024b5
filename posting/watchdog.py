"""The watchdog: eligible work that nobody claims, and device hosts whose cluster is down.

Runs from every cluster's heartbeat loop. An alert is logged as an error, stored on the
cluster's heartbeat row (the dashboard shows it) and sent as a notification once; it clears
itself when the condition ends.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max

from devices.models import Device
from posting.claiming import next_due_at
from posting.models import Attempt, ClusterHeartbeat
from posting.notifications import notify

logger = logging.getLogger("posting.watchdog")


def run_watchdog(host: str, *, now: datetime) -> list[str]:
    """Check one host (and the hosts with no live cluster); returns the alerts raised."""
    alerts = []
    stall = stalled_work(host, now)
    _set_alert(host, stall, now, alerts)
    live = ClusterHeartbeat.live_names(now)
    hosts = set(Device.objects.filter(enabled=True).values_list("host", flat=True).distinct())
    for dead in sorted(hosts - live - {host}):
        _set_alert(
            dead, f"no live cluster for host {dead!r}: its devices get no attempts", now, alerts
        )
    return alerts


def stalled_work(host: str, now: datetime) -> str:
    """A description of the stall on `host`, or '' when work is moving (or there is none)."""
    devices = list(Device.objects.filter(host=host).available(now))
    waiting = [d.name for d in devices if _has_due_work(d, now)]
    if not waiting:
        return ""
    if Attempt.objects.running().filter(device__host=host).exists():
        return ""
    last = Attempt.objects.filter(device__host=host).aggregate(t=Max("started_at"))["t"]
    cluster = ClusterHeartbeat.objects.filter(name=host).first()
    # Quiet since the last attempt, or since the cluster started if it has claimed nothing yet.
    moments = [t for t in (last, cluster.started_at if cluster else None) if t is not None]
    quiet_since = max(moments, default=now)
    if now - quiet_since < timedelta(seconds=settings.WATCHDOG_STALL_SECONDS):
        return ""
    return (
        f"eligible work on {len(waiting)} devices of host {host!r} ({', '.join(waiting[:5])}) "
        f"but nothing claimed for over {settings.WATCHDOG_STALL_SECONDS:g} s"
    )


def _has_due_work(device: Device, now: datetime) -> bool:
    try:
        due = next_due_at(device, now)
    except Exception:  # one bad row must not blind the watchdog to the others
        logger.exception("Watchdog: could not read the work due on %s", device.name)
        return False
    return due is not None and due <= now


def _set_alert(host: str, alert: str, now: datetime, raised: list[str]) -> None:
    row = ClusterHeartbeat.objects.filter(name=host).first()
    if row is None:
        row = ClusterHeartbeat(name=host, started_at=now, last_beat_at=now - timedelta(days=1))
        row.stopped_at = now
        if not alert:
            return
    if row.watchdog_alert == alert:
        return
    row.watchdog_alert, row.watchdog_alert_at = alert, (now if alert else None)
    row.save()
    if alert:
        logger.error("Watchdog: %s", alert)
        notify("watchdog", alert)
        raised.append(alert)
