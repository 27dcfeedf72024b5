"""Devices: health, current job, cluster liveness, and the operator's switches."""

from django.contrib import admin, messages
from django.db import models
from django.db.models import OuterRef
from django.utils import timezone
from django_q.tasks import async_task

from devices.models import Device, DeviceHealth
from posting.admin.base import GuardedActionsAdmin
from posting.admin.display import badge
from posting.claiming import host_paused
from posting.fleet_state import cluster_alive, with_live_state
from posting.holds import release_device
from posting.wakeups import wake_devices

HEALTH_COLOURS = {
    DeviceHealth.ONLINE: "#198754",
    DeviceHealth.OFFLINE: "#6c757d",
    DeviceHealth.QUARANTINED: "#dc3545",
}


@admin.register(Device)
class DeviceAdmin(GuardedActionsAdmin):
    list_display = [
        "name",
        "host_state",
        "cluster_is_alive",
        "backend",
        "enabled",
        "draining",
        "health_badge",
        "failure_streak",
        "current_job",
        "quarantined_until",
        "last_seen_at",
    ]
    list_filter = ["host", "backend", "enabled", "draining", "health"]
    search_fields = ["name", "host"]
    show_full_result_count = False
    readonly_fields = [
        "health",
        "failure_streak",
        "quarantine_count",
        "quarantined_until",
        "last_seen_at",
        "last_probed_at",
        "health_detail",
    ]
    # Appium servers on a device host's loopback or LAN speak plain http.
    formfield_overrides = {models.URLField: {"assume_scheme": "http"}}
    actions = [
        "enable",
        "disable",
        "drain",
        "undrain",
        "quarantine",
        "release_quarantine",
        "run_health_check",
    ]

    def get_queryset(self, request):
        queryset = with_live_state(super().get_queryset(request))
        return queryset.annotate(host_is_paused=host_paused(OuterRef("host")))

    @admin.display(description="host", ordering="host")
    def host_state(self, device: Device) -> str:
        return f"{device.host} (paused)" if device.host_is_paused else device.host

    def has_manage_permission(self, request) -> bool:
        return request.user.has_perm("devices.manage_devices")

    @admin.display(description="health", ordering="health")
    def health_badge(self, device: Device) -> str:
        return badge(DeviceHealth(device.health).label, HEALTH_COLOURS[DeviceHealth(device.health)])

    @admin.display(description="current job")
    def current_job(self, device: Device) -> str:
        return device.current_job or "—"

    @admin.display(description="cluster alive", boolean=True)
    def cluster_is_alive(self, device: Device) -> bool:
        return cluster_alive(device)

    def _switch(self, request, queryset, message: str, **fields) -> None:
        """Flip a device switch; devices that may now take jobs are woken."""
        count = queryset.update(**fields)
        if fields.get("enabled") is True or fields.get("draining") is False:
            wake_devices(queryset.values_list("pk", flat=True))
        self.message_user(request, message.format(count=count))

    @admin.action(description="Enable", permissions=["manage"])
    def enable(self, request, queryset):
        self._switch(request, queryset, "Enabled {count} devices.", enabled=True)

    @admin.action(description="Disable (the current job finishes)", permissions=["manage"])
    def disable(self, request, queryset):
        self._switch(request, queryset, "Disabled {count} devices.", enabled=False)

    @admin.action(
        description="Drain (finish the current job, take no more)", permissions=["manage"]
    )
    def drain(self, request, queryset):
        self._switch(request, queryset, "Draining {count} devices.", draining=True)

    @admin.action(description="Stop draining", permissions=["manage"])
    def undrain(self, request, queryset):
        self._switch(request, queryset, "{count} devices take jobs again.", draining=False)

    @admin.action(description="Quarantine", permissions=["manage"])
    def quarantine(self, request, queryset):
        for device in queryset:
            device.quarantine(timezone.now(), reason=f"quarantined by {request.user}")
        self.message_user(request, f"Quarantined {queryset.count()} devices.")

    @admin.action(description="Release from quarantine", permissions=["manage"])
    def release_quarantine(self, request, queryset):
        released = sum(release_device(device) for device in queryset)
        self.message_user(request, f"Released {released} devices.")

    @admin.action(description="Run a health check (on the device's host)", permissions=["manage"])
    def run_health_check(self, request, queryset):
        for device in queryset:
            async_task("posting.tasks.probe_device_task", device.pk, cluster=device.host)
        self.message_user(
            request,
            f"Health checks queued for {queryset.count()} devices on their hosts' clusters.",
            messages.INFO,
        )
