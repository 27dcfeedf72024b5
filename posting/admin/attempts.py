"""Attempts are a log: read-only, with their evidence and step log."""

from django.contrib import admin
from django.utils.html import format_html

from posting.admin.display import logcat_link, page_source_link, screenshot_thumbnail, when
from posting.admin.filters import PassNumberFilter
from posting.admin.paginator import CappedCountPaginator
from posting.models import Attempt


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    # Readable at 1366 x 768: which job and attempt, where, how it ended, when.
    list_display = ["title", "device", "outcome", "kind", "short_error", "started", "finished"]
    list_filter = [
        "outcome",
        "error_category",
        "error_type",
        ("pass_number", PassNumberFilter),
        "device",
    ]
    # A partial job id (the attempts of the matching jobs, by the (job, -id) index).
    search_fields = ["job__job_id__icontains"]
    search_help_text = "A job id or part of one."
    list_select_related = ["job", "device"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    exclude = ["screenshot", "page_source", "logcat"]
    readonly_fields = [screenshot_thumbnail, page_source_link, logcat_link]

    @admin.display(description="attempt", ordering="id")
    def title(self, attempt: Attempt) -> str:
        return attempt_title(attempt)

    @admin.display(description="category/type", ordering="error_category")
    def kind(self, attempt: Attempt) -> str:
        if not attempt.error_category and not attempt.error_type:
            return "—"
        return f"{attempt.error_category or 'unknown'}/{attempt.error_type or 'unrecognised'}"

    @admin.display(description="error")
    def short_error(self, attempt: Attempt) -> str:
        if not attempt.error:
            return "—"
        text = attempt.error if len(attempt.error) <= 70 else attempt.error[:69] + "…"
        return format_html('<span title="{}">{}</span>', attempt.error, text)

    @admin.display(description="started", ordering="started_at")
    def started(self, attempt: Attempt) -> str:
        return when(attempt.started_at)

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, attempt: Attempt) -> str:
        return when(attempt.finished_at)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Titled by the job's id, never the job's database id.
        attempt = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if attempt is not None:
            extra["subtitle"] = attempt_title(attempt)
            extra["attempt_title"] = attempt_title(attempt)
        return super().change_view(request, object_id, form_url, extra)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def attempt_title(attempt: Attempt) -> str:
    """'J-17 attempt 2 (pass 1)': the operator's name for it (the job must be selected)."""
    return f"{attempt.job.job_id} attempt {attempt.number} (pass {attempt.pass_number})"
