"""Pauses of platforms and hosts: who paused what, when and why, and the switches themselves."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from devices.models import Device
from posting.admin.base import GuardedActionsAdmin
from posting.admin.display import badge, when
from posting.models import PauseScope, PauseSwitch, Platform
from posting.pauses import pause, resume

STATE_COLOURS = {"running": "#198754", "paused": "#fd7e14", "tripped": "#dc3545"}
STATE_LABELS = {"running": "Running", "paused": "Paused", "tripped": "Paused by the breaker"}


def pause_badge(switch: PauseSwitch) -> str:
    return badge(STATE_LABELS[switch.state], STATE_COLOURS[switch.state])


@admin.register(PauseSwitch)
class PauseSwitchAdmin(GuardedActionsAdmin):
    list_display = [
        "__str__",
        "state_badge",
        "paused_when",
        "paused_by",
        "reason",
        "tripping_accounts",
        "resumed_when",
        "resumed_by",
    ]
    list_display_links = ["__str__"]

    @admin.display(description="paused at", ordering="paused_at")
    def paused_when(self, switch: PauseSwitch) -> str:
        return when(switch.paused_at)

    @admin.display(description="resumed at", ordering="resumed_at")
    def resumed_when(self, switch: PauseSwitch) -> str:
        return when(switch.resumed_at)

    list_filter = ["scope", "paused", "by_breaker"]
    list_select_related = ["paused_by", "resumed_by"]
    show_full_result_count = False
    readonly_fields = [
        "scope",
        "name",
        "paused",
        "paused_at",
        "paused_by",
        "reason",
        "by_breaker",
        "accounts",
        "resumed_at",
        "resumed_by",
    ]
    actions = ["pause_selected", "resume_selected"]

    def changelist_view(self, request, extra_context=None):
        # Every platform and every device host has a switch to flip, before anyone paused it.
        # Hosts: one query when none is missing (the usual case), whatever their number.
        known = PauseSwitch.objects.values("name")
        missing = (
            Device.objects.order_by()
            .exclude(host__in=known.filter(scope=PauseScope.HOST))
            .values_list("host", flat=True)
            .distinct()
        )
        PauseSwitch.ensure(PauseScope.PLATFORM, Platform.values)  # three rows: one statement
        hosts = list(missing)
        if hosts:
            PauseSwitch.ensure(PauseScope.HOST, hosts)
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # switched by the actions below, which record who and why

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_pause_permission(self, request) -> bool:
        return request.user.has_perm("posting.pause_scope")

    @admin.display(description="state", ordering="paused")
    def state_badge(self, switch: PauseSwitch) -> str:
        return pause_badge(switch)

    @admin.display(description="accounts that tripped it")
    def tripping_accounts(self, switch: PauseSwitch) -> str:
        return ", ".join(switch.accounts) if switch.by_breaker and switch.paused else ""

    @admin.action(description="Pause (no new attempts; running ones finish)", permissions=["pause"])
    def pause_selected(self, request, queryset):
        switches = list(queryset.filter(paused=False))
        if not switches:
            self.message_user(request, "All the selected are paused already.", messages.WARNING)
            return None
        reason = request.POST.get("reason", "").strip()
        if "confirm" not in request.POST or not reason:
            return self._confirm(
                request, "pause", switches, missing_reason="confirm" in request.POST
            )
        now = timezone.now()
        done = [
            s for s in switches if pause(s.scope, s.name, now=now, user=request.user, reason=reason)
        ]
        self.message_user(request, f"Paused {_names(done)}: {reason}")
        return None

    @admin.action(description="Resume (a breaker trip too)", permissions=["pause"])
    def resume_selected(self, request, queryset):
        switches = list(queryset.filter(paused=True).select_related("paused_by"))
        if not switches:
            self.message_user(request, "None of the selected is paused.", messages.WARNING)
            return None
        if "confirm" not in request.POST:
            return self._confirm(request, "resume", switches)
        now = timezone.now()
        done = [s for s in switches if resume(s.scope, s.name, now=now, user=request.user)]
        self.message_user(request, f"Resumed {_names(done)}; their devices were woken.")
        return None

    def _confirm(self, request, verb: str, switches, missing_reason: bool = False):
        context = {
            **self.admin_site.each_context(request),
            "title": f"{verb.capitalize()} {_names(switches)}",
            "verb": verb,
            "switches": switches,
            "missing_reason": missing_reason,
            "opts": self.model._meta,
            "action": request.POST["action"],
            "selected": [s.pk for s in switches],
            "select_across": "0",
            "query_string": request.GET.urlencode(),
        }
        return TemplateResponse(request, "admin/posting/pauseswitch/confirm.html", context)


def _names(switches) -> str:
    return ", ".join(str(s) for s in switches) or "nothing"
