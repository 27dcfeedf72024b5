"""Counts of the run: by pass (its recorded history), status, category and type; and
what is paused."""

from django.db.models import Count
from django.utils import timezone

from posting.models import FleetControl, Job, Pass, PauseSwitch
from posting.pass_report import pass_reports


def progress_counts() -> dict:
    """Totals by the jobs' status now, each pass's figures as recorded (pass_report), and
    what is paused."""
    totals = dict(Job.objects.values_list("status").annotate(n=Count("id")).order_by())
    passes = pass_reports(Pass.objects.values_list("number", flat=True))
    for report in passes.values():
        report["total"] = report["entered"]
    return {
        "total": sum(totals.values()),
        "by_status": totals,
        "passes": passes,
        "fleet_paused": FleetControl.is_paused(),
        "pauses": active_pauses(),
    }


def active_pauses() -> list[dict]:
    """Every paused platform and host: who paused it (or the breaker), when, why."""
    switches = PauseSwitch.objects.paused().select_related("paused_by").order_by("scope", "name")
    return [
        {
            "scope": s.scope,
            "name": s.name,
            "paused_at": s.paused_at.isoformat() if s.paused_at else "",
            "paused_by": s.paused_by.get_username() if s.paused_by else "",
            "by_breaker": s.by_breaker,
            "reason": s.reason,
            "accounts": s.accounts,
            "text": describe_pause(s),
        }
        for s in switches
    ]


def describe_pause(switch: PauseSwitch) -> str:
    """One line: 'platform instagram paused at 2026-11-28 14:03 UTC by the circuit breaker:
    ...' or '... by olga: app update'."""
    when = timezone.localtime(switch.paused_at).strftime("%Y-%m-%d %H:%M %Z")
    line = f"{switch} paused at {when}"
    if switch.by_breaker:
        return f"{line} by the {switch.reason}"  # the reason starts with "circuit breaker: "
    who = switch.paused_by.get_username() if switch.paused_by else "an operator"
    return f"{line} by {who}: {switch.reason}" if switch.reason else f"{line} by {who}"
