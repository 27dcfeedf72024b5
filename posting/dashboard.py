"""What the dashboard shows, computed in a fixed number of grouped queries whatever the size."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse

from devices.models import Device
from posting.fleet_state import cluster_alive, with_live_state
from posting.models import (
    Attempt,
    AttemptOutcome,
    ClusterHeartbeat,
    ErrorCategory,
    FleetControl,
    Job,
    JobStatus,
    Pass,
)
from posting.pass_report import pass_reports
from posting.progress import active_pauses

RECENT_PASSES = 5
THROUGHPUT_HOURS = 12
# The progress bar's segments, failed ones derived from the taxonomy: the JavaScript reads
# names and labels from the JSON and lists none of its own.
SEGMENT_LABELS = {
    "success": "success",
    **{f"failed_{c.value}": f"failed: {c.label.lower()}" for c in ErrorCategory if c.value},
    "running": "running",
    "waiting": "waiting",
    "held": "held (account)",
    "needs_review": "needs review",
    "cancelled": "cancelled",
}
SEGMENTS = list(SEGMENT_LABELS)


def dashboard_data(now: datetime) -> dict:
    passes = pass_progress()
    current = max(passes, key=lambda p: p["number"]) if passes else None
    pauses = active_pauses()
    return {
        "now": now.isoformat(),
        "paused": FleetControl.is_paused(),
        # Paused platforms and hosts; a breaker trip also goes under "needs attention".
        "pauses": pauses,
        "needs_attention": [
            {
                "kind": "breaker",
                "text": f"Platform {p['name']} paused by the {p['reason']}",
                "accounts": p["accounts"],
                "since": p["paused_at"],
                "link": reverse("admin:posting_pauseswitch_changelist") + "?by_breaker__exact=1",
            }
            for p in pauses
            if p["by_breaker"]
        ],
        "passes": passes,
        "segment_labels": SEGMENT_LABELS,
        "current_pass": current["number"] if current else None,
        "eta_minutes": eta_minutes(current, now) if current else None,
        "failures": failure_breakdown(current["number"]) if current else [],
        "devices": device_grid(now),
        "recent_failures": recent_failures(),
        "throughput": throughput(now),
        "alerts": [
            {"cluster": row.name, "alert": row.watchdog_alert}
            for row in ClusterHeartbeat.objects.exclude(watchdog_alert="")
        ],
    }


def pass_progress() -> list[dict]:
    """Per pass: how its jobs ended there (recorded when it happened), and what the jobs still
    in it are doing now (running, waiting, held). A requeue never changes an earlier pass."""
    numbers = list(
        Pass.objects.order_by("-number").values_list("number", flat=True)[:RECENT_PASSES]
    )
    reports = pass_reports(numbers)
    result = []
    for number in sorted(numbers):
        report = reports[number]
        by_status = report["by_status"]
        segments = dict.fromkeys(SEGMENTS, 0)
        for category, n in report["failed_by_category"].items():
            segments[f"failed_{category}"] += n
        for status in (JobStatus.SUCCESS, JobStatus.NEEDS_REVIEW, JobStatus.CANCELLED):
            segments[status] = by_status.get(status, 0)
        segments["running"] = by_status.get(JobStatus.RUNNING, 0)
        segments["held"] = report["held"]
        segments["waiting"] = by_status.get(JobStatus.PENDING, 0) - report["held"]
        result.append(
            {
                "number": number,
                "total": report["entered"],
                "segments": segments,
                "figures": report,
                "link": _jobs_link(pass_number=number),
            }
        )
    return result


def failure_breakdown(pass_number: int) -> list[dict]:
    """Failed attempts of the pass by category and type, those of jobs waiting for their
    retry included: an operator sees a failing type before its jobs run out of attempts."""
    rows = (
        Attempt.objects.filter(
            pass_number=pass_number, outcome__in=[AttemptOutcome.FAILED, AttemptOutcome.LOST]
        )
        .values("error_category", "error_type")
        .annotate(n=Count("id"), jobs=Count("job", distinct=True))
        .order_by("-n")
    )
    return [
        {
            "category": r["error_category"] or "unknown",
            "type": r["error_type"] or "(unrecognised)",
            "count": r["n"],
            "jobs": r["jobs"],
            "link": _jobs_link(
                pass_number=pass_number,
                error_category=r["error_category"],
                error_type=r["error_type"],
            ),
        }
        for r in rows
    ]


def device_grid(now: datetime) -> list[dict]:
    return [
        {
            "name": d.name,
            "host": d.host,
            "health": d.health,
            "enabled": d.enabled,
            "draining": d.draining,
            "current_job": d.current_job or "",
            "failure_streak": d.failure_streak,
            "last_seen": d.last_seen_at.isoformat() if d.last_seen_at else "",
            "cluster_alive": cluster_alive(d),
        }
        for d in with_live_state(Device.objects.order_by("name"))
    ]


def recent_failures(limit: int = 8) -> list[dict]:
    # One index-ordered query per outcome: an IN over both would sort every failure ever.
    newest = [
        attempt
        for outcome in (AttemptOutcome.FAILED, AttemptOutcome.LOST)
        for attempt in Attempt.objects.filter(outcome=outcome)
        .select_related("job", "device")
        .order_by("-id")[:limit]
    ]
    failed = sorted(newest, key=lambda a: a.pk, reverse=True)[:limit]
    return [
        {
            "job": a.job.job_id,
            "device": a.device.name,
            "category": a.error_category,
            "type": a.error_type,
            "error": a.error[:200],
            "finished": a.finished_at.isoformat() if a.finished_at else "",
            "screenshot": reverse("attempt-evidence", args=[a.pk, "screenshot"])
            if a.screenshot
            else "",
            "link": reverse("admin:posting_attempt_change", args=[a.pk]),
        }
        for a in failed
    ]


def throughput(now: datetime) -> list[dict]:
    """Finished attempts per hour over the last hours, by outcome.

    One range count per hour on the (finished_at, outcome) index: truncating each row's time
    in SQL runs a function per attempt, seconds at a million attempts on SQLite.
    """
    since = (now - timedelta(hours=THROUGHPUT_HOURS - 1)).replace(minute=0, second=0, microsecond=0)
    points = []
    for offset in range(THROUGHPUT_HOURS):
        hour = since + timedelta(hours=offset)
        counts = Attempt.objects.filter(
            finished_at__gte=hour, finished_at__lt=hour + timedelta(hours=1)
        ).aggregate(
            success=Count("id", filter=Q(outcome=AttemptOutcome.SUCCESS)),
            failed=Count("id", filter=~Q(outcome=AttemptOutcome.SUCCESS)),
        )
        points.append({"hour": hour.isoformat(), **counts})
    return points


def eta_minutes(current: dict, now: datetime) -> float | None:
    """Time to finish the current pass at the last hour's rate of finished jobs."""
    remaining = current["segments"]["waiting"] + current["segments"]["running"]
    if remaining == 0:
        return 0.0
    finished = Job.objects.filter(
        pass_number=current["number"], completed_at__gte=now - timedelta(hours=1)
    ).count()
    if finished == 0:
        return None
    return round(remaining / finished * 60, 1)


def _jobs_link(**filters) -> str:
    query = urlencode({f"{k}__exact": v for k, v in filters.items() if v is not None})
    return f"{reverse('admin:posting_job_changelist')}?{query}"
