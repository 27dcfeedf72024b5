"""The simulator's publish ledger. The device admin lives with the operator console in
posting/admin/devices.py, because it shows each device's current job."""

from django.contrib import admin

from devices.models import PublishRecord


@admin.register(PublishRecord)
class PublishRecordAdmin(admin.ModelAdmin):
    list_display = ["job_id", "account_handle", "device_name", "attempt_number", "published_at"]
    search_fields = ["=job_id", "=account_handle"]
    list_filter = ["device_name"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
