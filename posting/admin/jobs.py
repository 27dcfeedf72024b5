"""The job admin: filters, badges, attempts inline, content edits, and the operator's actions."""

from django.contrib import admin, messages
from django.http import HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from posting import lifecycle
from posting.admin.base import GuardedActionsAdmin
from posting.admin.display import (
    logcat_link,
    page_source_link,
    screenshot_thumbnail,
    status_badge,
)
from posting.admin.filters import AccountStatusFilter, PausedFilter, WaitingFilter
from posting.admin.forms import JobForm
from posting.admin.paginator import CappedCountPaginator
from posting.csv_export import progress_csv_lines
from posting.lifecycle import InvalidPostUrl
from posting.models import Attempt, EntryReason, ErrorCategory, Job, JobStatus, Pass
from posting.models.choices import EDITABLE_JOB_STATUSES
from posting.waiting import waiting_because, with_wait_state

CONTENT_FIELDS = ["caption", "video_path", "scheduled_at"]
STATE_FIELDS = [
    "job_id",
    "account",
    "status",
    "waiting_because",
    "pass_number",
    "device",
    "attempts",
    "max_attempts",
    "priority",
    "claimed_at",
    "completed_at",
    "retry_at",
    "error",
    "error_category",
    "error_type",
    "post_url",
    "reviewed_by",
    "reviewed_at",
]


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = [
        "pass_number",
        "number",
        "device",
        "started_at",
        "finished_at",
        "outcome",
        "error_category",
        "error_type",
        "matched_rule",
        "error",
        screenshot_thumbnail,
        page_source_link,
        logcat_link,
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(GuardedActionsAdmin):
    form = JobForm
    list_display = [
        "job_id",
        "account",
        "status_badge",
        "waiting_because",
        "pass_number",
        "attempts",
        "error_category",
        "error_type",
        "device",
        "retry_at",
        "completed_at",
    ]
    list_filter = [
        "status",
        "pass_number",
        "error_category",
        "error_type",
        AccountStatusFilter,
        ("account__device", admin.RelatedOnlyFieldListFilter),
        WaitingFilter,
        PausedFilter,
    ]
    search_fields = ["=job_id", "=account__handle", "caption"]
    list_select_related = ["account__device", "device"]
    raw_id_fields = ["account"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 100
    inlines = [AttemptInline]
    actions = [
        "requeue_infrastructure_failures",
        "requeue_selected",
        "retry_now",
        "cancel",
        "mark_posted",
        "mark_not_posted",
        "export_progress_csv",
    ]

    def get_queryset(self, request):
        return with_wait_state(super().get_queryset(request))

    @admin.display(description="status", ordering="status")
    def status_badge(self, job: Job) -> str:
        return status_badge(job.status)

    @admin.display(description="waiting because")
    def waiting_because(self, job: Job) -> str:
        return waiting_because(job) or "—"

    # --- editing: content of waiting jobs only ------------------------------------------------

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["job_id", "account", *CONTENT_FIELDS, "priority", "max_attempts"]
        return [*STATE_FIELDS[:2], *CONTENT_FIELDS, *STATE_FIELDS[2:]]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.status in EDITABLE_JOB_STATUSES:
            return STATE_FIELDS
        return STATE_FIELDS + CONTENT_FIELDS

    def save_model(self, request, obj: Job, form, change: bool) -> None:
        if not change:
            obj.pass_number = Pass.latest_number() or 1
            super().save_model(request, obj, form, change)
            lifecycle.open_pass_entries(
                Job.objects.filter(pk=obj.pk), EntryReason.ADDED, timezone.now()
            )
            return
        # Only the content fields, and only while the job still waits: a worker may have
        # claimed it since the form was opened.
        content = {name: getattr(obj, name) for name in CONTENT_FIELDS}
        saved = Job.objects.filter(pk=obj.pk, status__in=EDITABLE_JOB_STATUSES).update(
            updated_at=timezone.now(), **content
        )
        if not saved:
            self.message_user(
                request, f"{obj.job_id} changed state meanwhile; nothing saved.", messages.ERROR
            )

    # --- permissions of the actions -----------------------------------------------------------

    def has_requeue_permission(self, request) -> bool:
        return request.user.has_perm("posting.requeue_job")

    def has_requeue_any_permission(self, request) -> bool:
        return request.user.has_perm("posting.requeue_any_job")

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm("posting.review_job")

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("posting.cancel_job")

    # --- actions --------------------------------------------------------------------------------

    @admin.action(
        description="Requeue infrastructure failures as a new pass", permissions=["requeue"]
    )
    def requeue_infrastructure_failures(self, request, queryset):
        jobs = queryset.filter(error_category=ErrorCategory.INFRASTRUCTURE)
        return self._requeue(
            request, jobs, "infrastructure failures", {"error_category": "infrastructure"}
        )

    @admin.action(
        description="Requeue selected failed jobs as a new pass", permissions=["requeue_any"]
    )
    def requeue_selected(self, request, queryset):
        return self._requeue(request, queryset, "failed jobs of any category", {"selection": True})

    def _requeue(self, request, jobs, what: str, description: dict):
        counts = jobs.requeueable().counts_by_type()
        if not counts:
            self.message_user(request, f"No {what} among the selection.", messages.WARNING)
            return None
        if "confirm" not in request.POST:
            return self._confirm(
                request,
                "requeue_confirmation.html",
                {
                    "title": f"Requeue {what} as a new pass",
                    "counts": sorted(counts.items()),
                    "total": sum(counts.values()),
                    "next_pass": Pass.latest_number() + 1,
                },
            )
        new_pass, moved = lifecycle.requeue_as_new_pass(
            jobs,
            now=timezone.now(),
            started_by=request.user,
            filter_description={"source": "admin", **description, **_filters_of(request)},
        )
        if new_pass is None:  # someone else requeued them since the confirmation page
            self.message_user(request, f"No {what} left to requeue.", messages.WARNING)
            return None
        detail = ", ".join(f"{t or 'unrecognised'} {n}" for t, n in sorted(moved.items()))
        self.message_user(
            request, f"Moved {new_pass.job_count} jobs into pass {new_pass.number} ({detail})."
        )
        return None

    @admin.action(description="Retry now (waiting retries become due)", permissions=["requeue"])
    def retry_now(self, request, queryset):
        moved = lifecycle.retry_now(queryset, timezone.now())
        self.message_user(request, f"{moved} waiting retries are due now.")

    @admin.action(description="Cancel", permissions=["cancel"])
    def cancel(self, request, queryset):
        cancelled, stopping = lifecycle.cancel(queryset, timezone.now())
        self.message_user(
            request,
            f"Cancelled {cancelled} jobs; {stopping} running jobs stop at their next step "
            "(after the publishing checkpoint they go to needs_review instead).",
        )

    @admin.action(description="Review: it was posted", permissions=["review"])
    def mark_posted(self, request, queryset):
        jobs = list(queryset.filter(status=JobStatus.NEEDS_REVIEW).select_related("account"))
        if not jobs:
            self.message_user(request, "Only needs_review jobs can be reviewed.", messages.WARNING)
            return None
        if "confirm" not in request.POST:
            return self._confirm(
                request, "review_posted.html", {"title": "Mark as posted", "jobs": jobs}
            )
        urls = {job.pk: request.POST.get(f"post_url_{job.pk}", "") for job in jobs}
        try:
            done = lifecycle.review_posted(
                queryset, user=request.user, now=timezone.now(), post_urls=urls
            )
        except InvalidPostUrl as exc:
            self.message_user(request, f"{exc}; nothing was marked.", messages.ERROR)
            return self._confirm(
                request, "review_posted.html", {"title": "Mark as posted", "jobs": jobs}
            )
        self.message_user(request, f"{done} jobs marked as posted by {request.user}.")
        return None

    @admin.action(description="Review: it was not posted (new pass)", permissions=["review"])
    def mark_not_posted(self, request, queryset):
        new_pass, count = lifecycle.review_not_posted(
            queryset, user=request.user, now=timezone.now()
        )
        if new_pass is None:
            self.message_user(request, "Only needs_review jobs can be reviewed.", messages.WARNING)
            return
        self.message_user(request, f"{count} jobs will be posted again in pass {new_pass.number}.")

    @admin.action(description="Export as progress CSV", permissions=["view"])
    def export_progress_csv(self, request, queryset) -> HttpResponse:
        response = StreamingHttpResponse(progress_csv_lines(queryset), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="progress.csv"'
        return response

    def _confirm(self, request, template: str, context: dict) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            **context,
            "opts": self.model._meta,
            "action": request.POST["action"],
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "query_string": request.GET.urlencode(),
        }
        return TemplateResponse(request, f"admin/posting/job/{template}", context)


def _filters_of(request) -> dict:
    return {"admin_filters": request.GET.urlencode()} if request.GET else {}
