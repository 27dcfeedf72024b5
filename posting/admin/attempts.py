"""Attempts are a log: read-only, with their evidence and step log."""

from django.contrib import admin

from posting.admin.display import logcat_link, page_source_link, screenshot_thumbnail
from posting.admin.paginator import CappedCountPaginator
from posting.models import Attempt


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "job",
        "device",
        "pass_number",
        "number",
        "outcome",
        "error_category",
        "error_type",
        "started_at",
        "finished_at",
        "cluster",
    ]
    list_filter = ["outcome", "error_category", "error_type", "pass_number", "device"]
    search_fields = ["=job__job_id"]
    list_select_related = ["job", "device"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    exclude = ["screenshot", "page_source", "logcat"]
    readonly_fields = [screenshot_thumbnail, page_source_link, logcat_link]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
