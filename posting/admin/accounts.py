"""Accounts: bind to a device, hold and release, and what waits on a held account."""

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Q
from django.utils import timezone

from posting.admin.base import GuardedActionsAdmin
from posting.admin.display import badge, plural, when
from posting.admin.filters import HeldFilter
from posting.claiming import platform_paused
from posting.holds import release_account
from posting.models import Account, AccountStatus, JobStatus

STATUS_COLOURS = {
    AccountStatus.ACTIVE: "#198754",
    AccountStatus.RATE_LIMITED: "#fd7e14",
}


@admin.register(Account)
class AccountAdmin(GuardedActionsAdmin):
    list_display = [
        "handle",
        "platform_state",
        "device",
        "status_badge",
        "held_since",
        "held_reason",
        "jobs_waiting",
        "last_posted",
    ]
    list_filter = ["status", HeldFilter, "platform", ("device", admin.RelatedOnlyFieldListFilter)]
    # A partial handle, with or without its "@" (get_search_results); accounts are few.
    search_fields = ["handle"]
    search_help_text = "A handle or part of one (no @ needed)."
    list_select_related = ["device"]
    raw_id_fields = ["device"]
    show_full_result_count = False
    readonly_fields = ["status", "held_at", "held_reason", "held_until", "last_posted_at"]
    exclude = ["posts_day", "posts_on_day"]
    actions = ["release", "hold_captcha", "hold_loggedout", "hold_suspended"]

    def get_queryset(self, request):
        waiting = Count("jobs", filter=Q(jobs__status=JobStatus.PENDING))
        return (
            super()
            .get_queryset(request)
            .annotate(waiting=waiting, platform_is_paused=platform_paused(OuterRef("platform")))
        )

    @admin.display(description="platform", ordering="platform")
    def platform_state(self, account: Account) -> str:
        if account.platform_is_paused:
            return f"{account.get_platform_display()} (paused)"
        return account.get_platform_display()

    @admin.display(description="status", ordering="status")
    def status_badge(self, account: Account) -> str:
        return badge(
            AccountStatus(account.status).label, STATUS_COLOURS.get(account.status, "#dc3545")
        )

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lstrip("@")
        if not term:
            return queryset, False
        return queryset.filter(handle__icontains=term), False

    @admin.display(description="held since", ordering="held_at")
    def held_since(self, account: Account) -> str:
        return when(account.held_at) if account.is_held else "—"

    @admin.display(description="last posted", ordering="last_posted_at")
    def last_posted(self, account: Account) -> str:
        return when(account.last_posted_at)

    @admin.display(description="jobs waiting", ordering="waiting")
    def jobs_waiting(self, account: Account) -> int:
        return account.waiting

    @admin.action(
        description="Release (the device picks its jobs up again)", permissions=["change"]
    )
    def release(self, request, queryset):
        released = sum(release_account(account) for account in queryset)
        self.message_user(request, f"Released {plural(released, 'account')}.")

    def _hold(self, request, queryset, status: str) -> None:
        reason = f"held by {request.user} from the admin"
        held = sum(a.hold(status, reason, timezone.now()) for a in queryset)
        level = messages.SUCCESS if held else messages.WARNING
        self.message_user(request, f"Held {plural(held, 'account')} ({status}).", level)

    @admin.action(description="Hold: captcha to solve", permissions=["change"])
    def hold_captcha(self, request, queryset):
        self._hold(request, queryset, AccountStatus.CAPTCHA)

    @admin.action(description="Hold: logged out", permissions=["change"])
    def hold_loggedout(self, request, queryset):
        self._hold(request, queryset, AccountStatus.LOGGEDOUT)

    @admin.action(description="Hold: suspended", permissions=["change"])
    def hold_suspended(self, request, queryset):
        self._hold(request, queryset, AccountStatus.SUSPENDED)
