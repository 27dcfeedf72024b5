"""Each pass's figures, as the Passes page, the dashboard and `progress` show them.

How jobs entered a pass and how they ended there come from the pass history, recorded when it
happened; only the jobs still in a pass (pending or running there now) are read from their
current state, which is where they are.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count

from posting.models import AccountStatus, Job, JobStatus, PassEntry


def pass_reports(numbers: Iterable[int]) -> dict[int, dict]:
    """Per pass: entered (and how), by_status (endings, then who is still in it), failures by
    category/type, failed by category, held (waiting on a held account), moved on."""
    numbers = list(numbers)
    reports = PassEntry.objects.figures(numbers)
    in_pass = Job.objects.filter(
        pass_number__in=numbers, status__in=[JobStatus.PENDING, JobStatus.RUNNING]
    )
    # Counted from the (pass_number, status, ...) index alone; only pending jobs need their
    # account (held or not), so only they are joined.
    still_in = in_pass.values("pass_number", "status").annotate(n=Count("id")).order_by()
    held = (
        in_pass.filter(status=JobStatus.PENDING)
        .exclude(account__status=AccountStatus.ACTIVE)
        .values("pass_number")
        .annotate(n=Count("id"))
        .order_by()
    )
    for report in reports.values():
        report["by_status"] = dict(report["outcomes"])
        report["held"] = 0
    for row in still_in:
        reports[row["pass_number"]]["by_status"][row["status"]] = row["n"]
    for row in held:
        reports[row["pass_number"]]["held"] = row["n"]
    return reports
