"""List filters whose lookups are backed by indexes (see the models' Meta.indexes)."""

from django.contrib import admin
from django.db.models import OuterRef, Q
from django.utils import timezone

from posting.claiming import host_paused, platform_paused
from posting.models import Account, AccountStatus, JobStatus, Pass
from posting.waiting import WaitReason, jobs_waiting_because


class WaitingFilter(admin.SimpleListFilter):
    """Pending jobs by why they wait (posting.waiting.WaitReason), or due now.

    Served by the pending partial indexes on retry_at and scheduled_at, the (status,
    pass_number) index, and joins to the account (indexed status and device) and its device.
    """

    title = "waiting because"
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [("due", "Due now"), *WaitReason.choices]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "due":
            return queryset.filter(status=JobStatus.PENDING).due(now)
        if self.value() in WaitReason.values:
            return jobs_waiting_because(queryset, self.value(), now)
        return queryset


class PausedFilter(admin.SimpleListFilter):
    """Pending jobs that wait on a paused platform or host. The pending rows come from the
    (status, pass_number) index; the pause is an EXISTS on the switches' unique (scope, name)."""

    title = "paused"
    parameter_name = "paused"

    def lookups(self, request, model_admin):
        return [("platform", "Platform paused"), ("host", "Host paused")]

    def queryset(self, request, queryset):
        pending = queryset.filter(status=JobStatus.PENDING)
        if self.value() == "platform":
            return pending.filter(platform_paused(OuterRef("account__platform")))
        if self.value() == "host":
            return pending.filter(host_paused(OuterRef("account__device__host")))
        return queryset


class AccountStatusFilter(admin.SimpleListFilter):
    title = "account status"
    parameter_name = "account_status"

    def lookups(self, request, model_admin):
        return AccountStatus.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(account__status=self.value())
        return queryset


class HeldFilter(admin.SimpleListFilter):
    title = "held"
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [("yes", "Held"), ("no", "Active")]

    def queryset(self, request, queryset):
        held = ~Q(status=AccountStatus.ACTIVE)
        if self.value() == "yes":
            return queryset.filter(held)
        if self.value() == "no":
            return queryset.exclude(held)
        return queryset


class PassNumberFilter(admin.AllValuesFieldListFilter):
    """The pass numbers to filter by, from the passes table (one row per pass).

    The stock filter lists the DISTINCT values of every job or attempt row (tens of ms at a
    million rows, on every page of the list). Every pass a job or attempt belongs to has a Pass
    row (the import, a requeue or the admin creates it), so the choices are the same.
    """

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = Pass.objects.order_by("number").values_list("number", flat=True)


class AccountDeviceFilter(admin.RelatedFieldListFilter):
    """The devices to filter jobs by: those with an account, read from the small accounts table.

    The stock RelatedOnlyFieldListFilter lists the DISTINCT devices of every job, a join over
    every job on every page of the list (20-50 ms at 100,000 jobs on PostgreSQL). A job runs on
    its account's device, so a device without accounts has no job to show.
    """

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        with_accounts = Account.objects.filter(device__isnull=False).values("device")
        return field.get_choices(
            include_blank=False, ordering=ordering, limit_choices_to={"pk__in": with_accounts}
        )
