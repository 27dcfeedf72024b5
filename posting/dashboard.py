"""What the dashboard shows, computed in a fixed number of grouped queries whatever the size."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.urls import reverse
from django.utils import timezone

from devices.models import Device, DeviceHealth
from posting.fleet_state import cluster_alive, with_live_state
from posting.models import (
    Account,
    AccountStatus,
    Attempt,
    AttemptOutcome,
    ClusterHeartbeat,
    ErrorCategory,
    FleetControl,
    HourlyOutcome,
    Job,
    JobStatus,
    Pass,
    PassEntry,
    PassFailure,
)
from posting.models.hourly_outcomes import hour_of
from posting.pass_report import pass_reports
from posting.progress import active_pauses

RECENT_PASSES = 5
THROUGHPUT_HOURS = 12
# The time-to-finish estimate reads the devices' throughput over this recent window.
ETA_WINDOW = timedelta(minutes=20)
# Items listed per kind under "Needs attention" (the count says how many there are).
ATTENTION_SHOWN = 5
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


def _segment_filters(segment: str) -> dict:
    """The job list's filters that show a progress bar segment's jobs."""
    if segment.startswith("failed_"):
        return {"status": JobStatus.FAILED, "error_category": segment.removeprefix("failed_")}
    if segment == "waiting":
        return {"status": JobStatus.PENDING}
    if segment == "held":
        return {"waiting": "account_held"}
    return {"status": segment}


def dashboard_data(now: datetime) -> dict:
    passes = pass_progress()
    current = max(passes, key=lambda p: p["number"]) if passes else None
    pauses = active_pauses()
    fleet = fleet_pause()
    breaker_trips = [
        {
            "kind": "breaker",
            "text": f"Platform {p['name']} paused by the {p['reason']}",
            "accounts": p["accounts"],
            "since": p["paused_at"],
            "link": reverse("admin:posting_pauseswitch_changelist") + "?by_breaker__exact=1",
        }
        for p in pauses
        if p["by_breaker"]
    ]
    return {
        "now": now.isoformat(),
        "time_zone": settings.TIME_ZONE,
        "paused": fleet["paused"],
        "fleet": fleet,
        # Paused platforms and hosts; a breaker trip also goes under "needs attention".
        "pauses": pauses,
        "needs_attention": breaker_trips + needs_attention(now),
        "passes": passes,
        "segment_labels": SEGMENT_LABELS,
        "current_pass": current["number"] if current else None,
        "eta": estimate_finish(current, now, paused=fleet["paused"]) if current else None,
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
                "segment_links": {
                    name: _jobs_link(pass_number=number, **_segment_filters(name))
                    for name in SEGMENTS
                },
                "figures": report,
                "link": _jobs_link(pass_number=number),
            }
        )
    return result


def failure_breakdown(pass_number: int) -> list[dict]:
    """Failed attempts of the pass by category and type, those of jobs waiting for their
    retry included: an operator sees a failing type before its jobs run out of attempts.

    Read from the counters `Attempt.finish` keeps as attempts fail (one small row per type),
    not counted from the attempts: that took most of a second at a million attempts.
    """
    rows = (
        PassFailure.objects.filter(pass_number=pass_number)
        .values("error_category", "error_type", "attempts", "jobs")
        .order_by("-attempts", "error_category", "error_type")
    )
    return [
        {
            "category": r["error_category"] or "unknown",
            "type": r["error_type"] or "(unrecognised)",
            "count": r["attempts"],
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
            "streak_at_quarantine": d.streak_at_quarantine,
            # Shown only while it holds: a device back online has no "quarantined until".
            "quarantined_until": d.quarantined_until.isoformat()
            if d.health == DeviceHealth.QUARANTINED and d.quarantined_until
            else "",
            "health_detail": d.health_detail,
            "last_seen": d.last_seen_at.isoformat() if d.last_seen_at else "",
            "cluster_alive": cluster_alive(d),
            "link": _jobs_link(account__device__id=d.pk),
            "admin_link": reverse("admin:devices_device_change", args=[d.pk]),
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
            "job_link": reverse("admin:posting_job_change", args=[a.job_id]),
            "device": a.device.name,
            "device_link": _jobs_link(account__device__id=a.device_id),
            "category": a.error_category or "unknown",
            "type": a.error_type,
            "type_link": _jobs_link(
                pass_number=a.pass_number,
                error_category=a.error_category,
                error_type=a.error_type,
            ),
            "attempt": a.number,
            "max_attempts": a.job.max_attempts,
            "pass_number": a.pass_number,
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

    Read from the hourly counts `Attempt.finish` keeps (a few rows per hour), in one query:
    counting the attempts themselves read every one of the last twelve hours on each refresh,
    most of the dashboard's time at a million attempts.
    """
    since = hour_of(now - timedelta(hours=THROUGHPUT_HOURS - 1))
    hours = [since + timedelta(hours=offset) for offset in range(THROUGHPUT_HOURS)]
    counts = {hour: {"success": 0, "failed": 0} for hour in hours}
    rows = HourlyOutcome.objects.filter(hour__gte=since, hour__lte=hours[-1]).values_list(
        "hour", "outcome", "attempts"
    )
    for hour, outcome, attempts in rows:
        counts[hour]["success" if outcome == AttemptOutcome.SUCCESS else "failed"] += attempts
    return [{"hour": hour.isoformat(), **counts[hour]} for hour in hours]


def estimate_finish(current: dict, now: datetime, *, paused: bool) -> dict:
    """When the current pass finishes, from its devices' recent throughput.

    Each device that finished attempts of the pass in the last ETA_WINDOW contributes its own
    rate (attempts over the time since its first one in the window, at least a few minutes),
    so a device that just joined or just went quiet does not swing the figure. Jobs held on
    their account do not finish by themselves and are not counted as remaining work.
    """
    segments = current["segments"]
    remaining = segments["waiting"] + segments["running"]
    if remaining == 0:
        finished = (
            Pass.objects.filter(number=current["number"])
            .values_list("finished_at", flat=True)
            .first()
        )
        if finished is None:  # not yet stamped (for a moment, or a sweep): its last job's end
            finished = PassEntry.objects.filter(pass_number=current["number"]).aggregate(
                last=Max("ended_at")
            )["last"]
        return {
            "state": "done",
            "finished_at": finished.isoformat() if finished else "",
            "held": segments["held"],
            "text": _done_but_for(segments),
        }
    if paused:
        return {"state": "paused", "remaining": remaining, "text": "paused"}
    since = now - ETA_WINDOW
    rows = (
        Attempt.objects.filter(pass_number=current["number"], finished_at__gte=since)
        .values("device")
        .annotate(n=Count("id"), first=Min("finished_at"))
        .order_by()
    )
    floor = timedelta(minutes=3)
    rate = 0.0  # attempts per minute, summed over the devices
    attempts = devices = 0
    for row in rows:
        span = max(now - row["first"], floor).total_seconds() / 60
        rate += row["n"] / span
        attempts += row["n"]
        devices += 1
    window = int(ETA_WINDOW.total_seconds() // 60)
    if not rate:
        return {
            "state": "unknown",
            "remaining": remaining,
            "text": f"unknown: no attempt of this pass finished in the last {window} min",
        }
    minutes = remaining / rate
    basis = (
        f"{attempts} attempt{'s' if attempts != 1 else ''} finished by {devices} "
        f"device{'s' if devices != 1 else ''} in the last {window} min"
    )
    text = f"{_duration(minutes)} for {remaining} job{'s' if remaining != 1 else ''} to go"
    # A job waiting for its retry (a rate limit's cooldown, say) or its schedule finishes no
    # sooner than that: the pass ends then, though the rest is done sooner.
    throughput_end = now + timedelta(minutes=minutes)
    pending = Job.objects.filter(pass_number=current["number"], status=JobStatus.PENDING)
    later = pending.filter(
        Q(retry_at__gt=throughput_end) | Q(scheduled_at__gt=throughput_end)
    ).aggregate(n=Count("id"), retry=Max("retry_at"), scheduled=Max("scheduled_at"))
    finish = throughput_end
    if later["n"]:
        finish = max(t for t in (later["retry"], later["scheduled"]) if t is not None)
        text += (
            f", then {later['n']} waiting for a retry or schedule until "
            f"{timezone.localtime(finish):%H:%M}"
        )
    return {
        "state": "running",
        "minutes": round((finish - now).total_seconds() / 60),
        "finish_at": finish.isoformat(),
        "remaining": remaining,
        "basis": basis,
        "text": text,
    }


def _done_but_for(segments: dict) -> str:
    """'done', naming what still waits on an operator: nothing runs by itself, but a job to
    review may have posted and a held account's jobs wait for it."""
    waiting = []
    if review := segments[JobStatus.NEEDS_REVIEW]:
        waiting.append(f"{review} job{'s' if review != 1 else ''} to review")
    if segments["held"]:
        waiting.append("held accounts")
    return "done but for " + " and ".join(waiting) if waiting else "done"


def _duration(minutes: float) -> str:
    if minutes < 1:
        return "under a minute"
    if minutes < 90:
        return f"about {round(minutes)} min"
    return f"about {minutes / 60:.1f} h"


def fleet_pause() -> dict:
    """The global pause with who flipped it and when."""
    control = FleetControl.objects.select_related("changed_by").filter(pk=1).first()
    if control is None:
        return {"paused": False, "since": "", "by": "", "text": ""}
    by = control.changed_by.get_username() if control.changed_by else ""
    text = ""
    if control.paused:
        at = timezone.localtime(control.changed_at).strftime("%Y-%m-%d %H:%M %Z")
        text = f"paused by {by or 'an operator'} at {at}" if control.changed_at else "paused"
    return {
        "paused": control.paused,
        "since": control.changed_at.isoformat() if control.changed_at else "",
        "by": by,
        "text": text,
    }


def needs_attention(now: datetime) -> list[dict]:
    """What waits on an operator: reviews, held accounts, quarantined devices, retries.

    A fixed number of small queries: each kind's count and its first few rows; `more` says
    how many the list leaves out (the link lists them all).
    """
    items = []
    review = Job.objects.filter(status=JobStatus.NEEDS_REVIEW)
    review_count = review.count()
    if review_count:
        items.append(
            {
                "kind": "needs_review",
                "text": f"{review_count} job{'s' if review_count != 1 else ''} to review "
                "(may have posted)",
                "link": _jobs_link(status=JobStatus.NEEDS_REVIEW),
                "more": max(review_count - ATTENTION_SHOWN, 0),
                "items": [
                    {"text": j.job_id, "link": reverse("admin:posting_job_change", args=[j.pk])}
                    for j in review.order_by("updated_at")[:ATTENTION_SHOWN]
                ],
            }
        )
    held = Account.objects.exclude(status=AccountStatus.ACTIVE)
    held_count = held.count()
    if held_count:
        items.append(
            {
                "kind": "held_accounts",
                "text": f"{held_count} held account{'s' if held_count != 1 else ''}",
                "link": reverse("admin:posting_account_changelist") + "?held=yes",
                "more": max(held_count - ATTENTION_SHOWN, 0),
                "items": [
                    {
                        "text": f"{a.handle}: {a.held_reason or a.get_status_display()}",
                        "since": a.held_at.isoformat() if a.held_at else "",
                        "until": a.held_until.isoformat() if a.held_until else "",
                        "until_label": "cooldown ends",
                        "link": reverse("admin:posting_account_change", args=[a.pk]),
                    }
                    for a in held.order_by("held_at")[:ATTENTION_SHOWN]
                ],
            }
        )
    quarantined = Device.objects.filter(health=DeviceHealth.QUARANTINED, quarantined_until__gt=now)
    quarantined_count = quarantined.count()
    if quarantined_count:
        items.append(
            {
                "kind": "quarantined_devices",
                "text": f"{quarantined_count} quarantined device"
                f"{'s' if quarantined_count != 1 else ''}",
                "link": reverse("admin:devices_device_changelist") + "?health__exact=quarantined",
                "more": max(quarantined_count - ATTENTION_SHOWN, 0),
                "items": [
                    {
                        "text": f"{d.name}: {d.health_detail or 'infrastructure failures'} "
                        f"(streak {d.streak_at_quarantine})",
                        "until": d.quarantined_until.isoformat(),
                        "until_label": "quarantine ends",
                        "link": reverse("admin:devices_device_change", args=[d.pk]),
                    }
                    for d in quarantined.order_by("quarantined_until")[:ATTENTION_SHOWN]
                ],
            }
        )
    retrying = Job.objects.filter(status=JobStatus.PENDING, retry_at__gt=now)
    retry = retrying.aggregate(n=Count("id"), next=Min("retry_at"))
    if retry["n"]:
        items.append(
            {
                "kind": "retry_waiting",
                "text": f"{retry['n']} job{'s' if retry['n'] != 1 else ''} waiting for a retry",
                "link": reverse("admin:posting_job_changelist") + "?waiting=retry",
                "more": max(retry["n"] - ATTENTION_SHOWN, 0),
                "items": [
                    {
                        "text": f"{j.job_id}: attempt {j.attempts + 1} of {j.max_attempts} "
                        f"after {j.error_type or 'an error'}",
                        "until": j.retry_at.isoformat(),
                        "until_label": "retries",
                        "link": reverse("admin:posting_job_change", args=[j.pk]),
                    }
                    for j in retrying.order_by("retry_at")[:ATTENTION_SHOWN]
                ],
            }
        )
    return items


def _jobs_link(**filters) -> str:
    query = urlencode({f"{k}__exact": v for k, v in filters.items() if v is not None})
    return f"{reverse('admin:posting_job_changelist')}?{query}"
