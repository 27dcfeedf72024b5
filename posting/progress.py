"""Counts of the run: by pass, status, category and type."""

from django.db.models import Count

from posting.models import Job


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
    return {"total": sum(totals.values()), "by_status": totals, "passes": passes}
