"""Passes (with their counts), cluster heartbeats and the fleet switch."""

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from posting.models import ClusterHeartbeat, Job, JobStatus, Pass


def _count_in_pass(status: str) -> Coalesce:
    jobs = (
        Job.objects.filter(pass_number=OuterRef("number"), status=status)
        .order_by()
        .values("pass_number")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(jobs, output_field=IntegerField()), 0)


@admin.register(Pass)
class PassAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "started_at",
        "started_by",
        "job_count",
        "succeeded",
        "failed",
        "waiting",
        "needs_review",
        "filter",
        "finished_at",
    ]
    list_select_related = ["started_by"]
    readonly_fields = ["number", "started_at", "started_by", "filter", "job_count", "finished_at"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_success=_count_in_pass(JobStatus.SUCCESS),
                n_failed=_count_in_pass(JobStatus.FAILED),
                n_pending=_count_in_pass(JobStatus.PENDING),
                n_review=_count_in_pass(JobStatus.NEEDS_REVIEW),
            )
        )

    @admin.display(description="success")
    def succeeded(self, obj: Pass) -> int:
        return obj.n_success

    @admin.display(description="failed")
    def failed(self, obj: Pass) -> int:
        return obj.n_failed

    @admin.display(description="waiting")
    def waiting(self, obj: Pass) -> int:
        return obj.n_pending

    @admin.display(description="needs review")
    def needs_review(self, obj: Pass) -> int:
        return obj.n_review

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ClusterHeartbeat)
class ClusterHeartbeatAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "hostname",
        "pid",
        "workers",
        "last_beat_at",
        "stopped_at",
        "watchdog_alert",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
