"""Passes (with their counts), cluster heartbeats and the fleet switch."""

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.utils.html import format_html

from posting.admin.display import when
from posting.models import ClusterHeartbeat, JobStatus, Pass, PassEntry


class PassChangeList(ChangeList):
    """Attaches each listed pass's recorded figures, read in one grouped query over the entries'
    covering index (one scan for the page, instead of a count subquery per column)."""

    def get_results(self, request) -> None:
        super().get_results(request)
        figures = PassEntry.objects.figures([p.number for p in self.result_list])
        for listed in self.result_list:
            listed.figures = figures[listed.number]


def describe_filter(description: dict) -> str:
    """A pass's filter in plain words: where it was started and which jobs it took."""
    if not description:
        return "first import"
    source = description.get("source", "")
    words = {
        "admin": "from the admin",
        "requeue_failures": "manage.py requeue_failures",
        "review: not posted": "reviewed as not posted",
    }.get(source, source)
    parts = [words] if words else []
    for key, label in (("error_category", "category"), ("error_type", "type"), ("what", "")):
        if description.get(key):
            parts.append(f"{label} {description[key]}".strip())
    if description.get("admin_filters"):
        parts.append(f"list filter {description['admin_filters']}")
    return ", ".join(parts)


@admin.register(Pass)
class PassAdmin(admin.ModelAdmin):
    """A pass's figures are history (recorded as it ran): a later requeue never changes them."""

    # Readable at 1366 x 768: short headers, who and when in one column, relative times.
    list_display = [
        "number",
        "started",
        "filter_in_words",
        "entered",
        "succeeded",
        "failed",
        "needs_review",
        "cancelled",
        "still_in_pass",
        "moved_on",
        "finished",
    ]
    list_select_related = ["started_by"]
    readonly_fields = ["number", "started_at", "started_by", "filter", "job_count", "finished_at"]
    show_full_result_count = False

    def get_changelist(self, request, **kwargs):
        return PassChangeList

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: Pass) -> str:
        by = obj.started_by.get_username() if obj.started_by else "import"
        return format_html("{} by {}", when(obj.started_at), by)

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, obj: Pass) -> str:
        return when(obj.finished_at) if obj.finished_at else "not yet"

    @admin.display(description="filter")
    def filter_in_words(self, obj: Pass) -> str:
        return describe_filter(obj.filter)

    @admin.display(description="entered")
    def entered(self, obj: Pass) -> int:
        return obj.figures["entered"]

    @admin.display(description="success")
    def succeeded(self, obj: Pass) -> int:
        return obj.figures["outcomes"].get(JobStatus.SUCCESS, 0)

    @admin.display(description="failed")
    def failed(self, obj: Pass) -> int:
        return obj.figures["outcomes"].get(JobStatus.FAILED, 0)

    @admin.display(description="review")
    def needs_review(self, obj: Pass) -> int:
        return obj.figures["outcomes"].get(JobStatus.NEEDS_REVIEW, 0)

    @admin.display(description="cancelled")
    def cancelled(self, obj: Pass) -> int:
        return obj.figures["outcomes"].get(JobStatus.CANCELLED, 0)

    @admin.display(description="in pass")
    def still_in_pass(self, obj: Pass) -> int:
        return obj.figures["in_pass"]

    @admin.display(description="moved on")
    def moved_on(self, obj: Pass) -> int:
        return obj.figures["moved_on"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ClusterHeartbeat)
class ClusterHeartbeatAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "hostname",
        "pid",
        "workers",
        "last_beat",
        "stopped",
        "watchdog_alert",
    ]

    @admin.display(description="last beat", ordering="last_beat_at")
    def last_beat(self, beat: ClusterHeartbeat) -> str:
        return when(beat.last_beat_at)

    @admin.display(description="stopped", ordering="stopped_at")
    def stopped(self, beat: ClusterHeartbeat) -> str:
        return when(beat.stopped_at) if beat.stopped_at else "running"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
