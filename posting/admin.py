from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from posting.models import Account, Attempt, ClusterHeartbeat, ErrorCategory, Job, Pass
from posting.requeue import requeue_failures


@admin.display(description="screenshot")
def screenshot_thumbnail(attempt: Attempt) -> str:
    if not attempt.screenshot:
        return "—"
    url = reverse("attempt-evidence", args=[attempt.pk, "screenshot"])
    return format_html(
        '<a href="{}"><img src="{}" alt="screenshot" style="max-height:160px"></a>', url, url
    )


@admin.display(description="page source")
def page_source_link(attempt: Attempt) -> str:
    if not attempt.page_source:
        return "—"
    url = reverse("attempt-evidence", args=[attempt.pk, "page_source"])
    return format_html('<a href="{}">UI hierarchy (XML)</a>', url)


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
        "error",
        screenshot_thumbnail,
        page_source_link,
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "job_id",
        "account",
        "status",
        "pass_number",
        "attempts",
        "error_category",
        "error_type",
        "device",
        "retry_at",
        "completed_at",
    ]
    list_filter = ["status", "pass_number", "error_category", "error_type", "account__status"]
    search_fields = ["job_id", "account__handle", "caption"]
    list_select_related = ["account", "device"]
    raw_id_fields = ["account", "device"]
    show_full_result_count = False
    inlines = [AttemptInline]
    actions = ["requeue_infrastructure_failures"]
    readonly_fields = [
        "status",
        "device",
        "claimed_at",
        "completed_at",
        "error",
        "attempts",
        "retry_at",
        "error_type",
        "error_category",
        "pass_number",
        "post_url",
    ]

    @admin.action(
        description="Requeue infrastructure failures as a new pass", permissions=["change"]
    )
    def requeue_infrastructure_failures(self, request, queryset):
        new_pass, counts = requeue_failures(
            queryset.filter(error_category=ErrorCategory.INFRASTRUCTURE),
            now=timezone.now(),
            started_by=request.user,
            filter_description={"source": "admin", "error_category": "infrastructure"},
        )
        if new_pass is None:
            self.message_user(
                request, "No failed infrastructure jobs among the selection.", messages.WARNING
            )
            return
        detail = ", ".join(f"{t or 'unrecognised'} {n}" for t, n in sorted(counts.items()))
        self.message_user(
            request, f"Moved {new_pass.job_count} jobs into pass {new_pass.number} ({detail})."
        )


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["handle", "platform", "device", "status", "held_at", "held_reason"]
    list_filter = ["status", "platform", "device"]
    search_fields = ["handle"]
    list_select_related = ["device"]
    raw_id_fields = ["device"]


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
    ]
    list_filter = ["outcome", "error_category", "error_type", "pass_number", "device"]
    search_fields = ["job__job_id"]
    list_select_related = ["job", "device"]
    show_full_result_count = False
    exclude = ["screenshot", "page_source"]
    readonly_fields = [screenshot_thumbnail, page_source_link]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Pass)
class PassAdmin(admin.ModelAdmin):
    list_display = ["number", "started_at", "started_by", "job_count", "filter", "note"]
    list_select_related = ["started_by"]
    readonly_fields = ["number", "started_at", "started_by", "filter", "job_count"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ClusterHeartbeat)
class ClusterHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "hostname", "pid", "workers", "last_beat_at", "watchdog_alert"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
