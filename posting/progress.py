"""Counts of the run: by pass, status, category and type; and what is paused."""

from django.db.models import Count

from posting.models import FleetControl, Job, PauseSwitch


def progress_counts() -> dict:
    rows = (
        Job.objects.values("pass_number", "status", "error_category", "error_type")
        .annotate(n=Count("id"))
        .order_by("pass_number", "status", "error_category", "error_type")
    )
    passes: dict[int, dict] = {}
    totals: dict[str, int] = {}
    for row in rows:
        entry = passes.setdefault(row["pass_number"], {"total": 0, "by_status": {}, "failures": {}})
        entry["total"] += row["n"]
        entry["by_status"][row["status"]] = entry["by_status"].get(row["status"], 0) + row["n"]
        totals[row["status"]] = totals.get(row["status"], 0) + row["n"]
        if row["error_category"]:
            key = f"{row['error_category']}/{row['error_type'] or '-'}"
            entry["failures"][key] = entry["failures"].get(key, 0) + row["n"]
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
        }
        for s in switches
    ]


def describe_pause(pause: dict) -> str:
    """One line: 'platform instagram paused by the circuit breaker at ...: reason'."""
    who = "the circuit breaker" if pause["by_breaker"] else (pause["paused_by"] or "an operator")
    line = f"{pause['scope']} {pause['name']} paused by {who} at {pause['paused_at']}"
    return f"{line}: {pause['reason']}" if pause["reason"] else line
