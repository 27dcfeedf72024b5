"""Devices: health, current job, cluster liveness, and the operator's switches."""

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import OuterRef
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_q.tasks import async_task

from devices.backends.flows import flow_platforms
from devices.models import Device, DeviceBackendName, DeviceHealth, FlowTrial
from posting.admin.base import GuardedActionsAdmin
from posting.admin.display import badge, plural, when
from posting.claiming import host_paused
from posting.fleet_state import cluster_alive, with_live_state
from posting.holds import release_device
from posting.wakeups import wake_devices

HEALTH_COLOURS = {
    DeviceHealth.ONLINE: "#198754",
    DeviceHealth.OFFLINE: "#6c757d",
    DeviceHealth.QUARANTINED: "#dc3545",
}


# Trials shown on a device's page, newest first.
TRIALS_SHOWN = 3


class FlowTrialForm(forms.Form):
    """What the admin's flow trial needs; it always stops before publishing."""

    platform = forms.ChoiceField(choices=())
    video_path = forms.CharField(
        max_length=1000, help_text="A video file on the device's host (it is pushed to the phone)."
    )
    caption = forms.CharField(required=False, initial="Fleetpost flow trial")
    account_handle = forms.CharField(
        required=False, help_text="The handle the phone should show; empty: only report it."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["platform"].choices = [(p, p) for p in flow_platforms()]


@admin.register(Device)
class DeviceAdmin(GuardedActionsAdmin):
    # Readable at 1366 x 768: the device, its host (paused? cluster alive?), whether it takes
    # work and its health (quarantined until when, and why), what it runs, when it was seen.
    list_display = [
        "name",
        "host_state",
        "cluster_is_alive",
        "switches",
        "health_badge",
        "failure_streak",
        "current_job",
        "last_seen",
    ]
    list_filter = ["host", "backend", "enabled", "draining", "health"]
    search_fields = ["name", "host"]
    show_full_result_count = False
    readonly_fields = [
        "health",
        "failure_streak",
        "quarantine_count",
        "streak_at_quarantine",
        "quarantined_until",
        "last_seen_at",
        "last_probed_at",
        "health_detail",
        "system_port",
        "mjpeg_server_port",
        "flow_trials",
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
        "discover_on_hosts",
        "try_flow",
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
        label = badge(
            DeviceHealth(device.health).label, HEALTH_COLOURS[DeviceHealth(device.health)]
        )
        if device.health != DeviceHealth.QUARANTINED or not device.quarantined_until:
            return label
        return format_html(
            "{} until {}<br><small>{} (streak {})</small>",
            label,
            when(device.quarantined_until),
            device.health_detail or "infrastructure failures",
            device.streak_at_quarantine,
        )

    @admin.display(description="takes work")
    def switches(self, device: Device) -> str:
        if not device.enabled:
            return "disabled"
        return "draining" if device.draining else "yes"

    @admin.display(description="last seen", ordering="last_seen_at")
    def last_seen(self, device: Device) -> str:
        return when(device.last_seen_at) if device.last_seen_at else "never"

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
        self.message_user(request, message.format(devices=plural(count, "device")))

    @admin.action(description="Enable", permissions=["manage"])
    def enable(self, request, queryset):
        self._switch(request, queryset, "Enabled {devices}.", enabled=True)

    @admin.action(description="Disable (the current job finishes)", permissions=["manage"])
    def disable(self, request, queryset):
        self._switch(request, queryset, "Disabled {devices}.", enabled=False)

    @admin.action(
        description="Drain (finish the current job, take no more)", permissions=["manage"]
    )
    def drain(self, request, queryset):
        self._switch(request, queryset, "Draining {devices}.", draining=True)

    @admin.action(description="Stop draining", permissions=["manage"])
    def undrain(self, request, queryset):
        self._switch(request, queryset, "{devices} take jobs again.", draining=False)

    @admin.action(description="Quarantine", permissions=["manage"])
    def quarantine(self, request, queryset):
        for device in queryset:
            device.quarantine(timezone.now(), reason=f"quarantined by {request.user}")
        self.message_user(request, f"Quarantined {plural(queryset.count(), 'device')}.")

    @admin.action(description="Release from quarantine", permissions=["manage"])
    def release_quarantine(self, request, queryset):
        released = sum(release_device(device) for device in queryset)
        self.message_user(request, f"Released {plural(released, 'device')}.")

    @admin.action(description="Run a health check (on the device's host)", permissions=["manage"])
    def run_health_check(self, request, queryset):
        for device in queryset:
            async_task("posting.tasks.probe_device_task", device.pk, cluster=device.host)
        self.message_user(
            request,
            f"Health checks queued for {plural(queryset.count(), 'device')} on their hosts' "
            "clusters.",
            messages.INFO,
        )

    @admin.action(
        description="Discover phones on these devices' hosts (adb, on each host)",
        permissions=["manage"],
    )
    def discover_on_hosts(self, request, queryset):
        hosts = sorted(set(queryset.values_list("host", flat=True)))
        for host in hosts:
            async_task("posting.tasks.discover_devices_task", host, cluster=host)
        self.message_user(
            request,
            f"Discovery queued on {plural(len(hosts), 'host')} ({', '.join(hosts)}); each "
            "host's table appears under Task queue › Successful tasks, new phones in this list.",
            messages.INFO,
        )

    @admin.action(description="Try a flow (stops before publishing)", permissions=["manage"])
    def try_flow(self, request, queryset):
        devices = list(queryset.filter(backend=DeviceBackendName.APPIUM))
        if not devices:
            self.message_user(request, "Flows run on Appium devices only.", messages.WARNING)
            return None
        form = FlowTrialForm(request.POST if "confirm" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Try a flow (stops before publishing)",
                "opts": self.model._meta,
                "form": form,
                "devices": devices,
                "action": request.POST["action"],
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
                "query_string": request.GET.urlencode(),
            }
            return TemplateResponse(request, "admin/devices/device/try_flow.html", context)
        for device in devices:
            trial = FlowTrial.objects.create(
                device=device, requested_by=str(request.user), **form.cleaned_data
            )
            transaction.on_commit(
                lambda pk=trial.pk, host=device.host: async_task(
                    "posting.tasks.try_flow_task", pk, cluster=host
                )
            )
        self.message_user(
            request,
            f"Flow trials queued on {len(devices)} devices' hosts; each device's page shows "
            "the step table when it is done.",
            messages.INFO,
        )
        return None

    @admin.display(description="flow trials")
    def flow_trials(self, device: Device) -> str:
        if device.pk is None:  # the add page
            return "—"
        trials = device.flow_trials.all()[:TRIALS_SHOWN]
        if not trials:
            return "— (action: Try a flow)"
        return format_html_join("", "{}", ((_trial_html(trial),) for trial in trials))


def _trial_html(trial: FlowTrial) -> str:
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                row["number"],
                row["step"],
                row["result"],
                row["ms"] if row["result"] in ("ok", "failed") else "",
                row["missing_locator"] or row["note"],
                "; ".join(row["detectors"]),
                _trial_links(trial, row),
            )
            for row in trial.steps
        ),
    )
    return format_html(
        "<p><b>{}</b> {} ({}, by {}){}</p>"
        "<table><tr><th>#</th><th>step</th><th>result</th><th>ms</th>"
        "<th>locator not found / note</th><th>detectors matched</th><th>screen</th></tr>{}</table>",
        trial.platform,
        trial.get_status_display(),
        trial.requested_at.strftime("%Y-%m-%d %H:%M"),
        trial.requested_by or "?",
        format_html("<br><pre>{}</pre>", trial.detail) if trial.detail else "",
        rows,
    )


def _trial_links(trial: FlowTrial, row: dict) -> str:
    links = [
        (reverse("flow-trial-file", args=[trial.pk, row["number"], kind]), label)
        for kind, label in (("screenshot", "screenshot"), ("page_source", "page source"))
        if row.get(kind)
    ]
    return format_html_join(" ", '<a href="{}">{}</a>', links)
