from django.contrib import admin
from django.db import models

from devices.models import Device, PublishRecord


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "host",
        "backend",
        "enabled",
        "draining",
        "health",
        "failure_streak",
        "quarantined_until",
        "last_seen_at",
    ]
    list_filter = ["host", "backend", "enabled", "health"]
    search_fields = ["name", "host"]
    # Appium servers on a device host's loopback or LAN speak plain http.
    formfield_overrides = {models.URLField: {"assume_scheme": "http"}}
    readonly_fields = [
        "failure_streak",
        "quarantine_count",
        "quarantined_until",
        "last_seen_at",
        "health_detail",
    ]


@admin.register(PublishRecord)
class PublishRecordAdmin(admin.ModelAdmin):
    list_display = ["job_id", "account_handle", "device_name", "attempt_number", "published_at"]
    search_fields = ["job_id", "account_handle"]
    list_filter = ["device_name"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
