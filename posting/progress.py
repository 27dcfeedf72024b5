"""Counts of the run: by pass (its recorded history), status, category and type."""

from django.db.models import Count

from posting.models import Job, Pass
from posting.pass_report import pass_reports


def progress_counts() -> dict:
    """Totals by the jobs' status now, and each pass's figures as recorded (pass_report)."""
    totals = dict(Job.objects.values_list("status").annotate(n=Count("id")).order_by())
    passes = pass_reports(Pass.objects.values_list("number", flat=True))
    for report in passes.values():
        report["total"] = report["entered"]
    return {"total": sum(totals.values()), "by_status": totals, "passes": passes}
