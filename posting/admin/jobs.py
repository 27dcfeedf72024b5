"""The job admin: filters, badges, attempts inline, content edits, and the operator's actions."""

from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Q, Subquery
from django.http import HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from posting import lifecycle
from posting.admin.attempts import attempt_title
from posting.admin.base import GuardedActionsAdmin
from posting.admin.display import (
    badge,
    logcat_link,
    page_source_link,
    plural,
    screenshot_thumbnail,
    status_badge,
    when,
)
from posting.admin.filters import (
    AccountDeviceFilter,
    AccountStatusFilter,
    PassNumberFilter,
    PausedFilter,
    WaitingFilter,
)
from posting.admin.forms import JobForm
from posting.admin.job_import import IMPORT_PERMISSION, import_view
from posting.admin.next_steps import job_actions, render_next_steps
from posting.admin.paginator import CappedCountPaginator
from posting.csv_export import progress_csv_lines
from posting.holds import release_account
from posting.lifecycle import InvalidPostUrl
from posting.models import (
    Account,
    AccountStatus,
    Attempt,
    AttemptOutcome,
    EntryReason,
    ErrorCategory,
    Job,
    JobStatus,
    Pass,
)
from posting.models.choices import EDITABLE_JOB_STATUSES
from posting.waiting import WAIT_COLOURS, wait_state, waiting_because, with_wait_state

CONTENT_FIELDS = ["caption", "video_path", "scheduled_at"]
STATE_FIELDS = [
    "job_id",
    "next_step",
    "account",
    "status",
    "waiting_because",
    "pass_number",
    "device",
    "attempts",
    "max_attempts",
    "priority",
    "claimed_at",
    "completed_at",
    "retry_at",
    "error",
    "error_category",
    "error_type",
    "post_url",
    "reviewed_by",
    "reviewed_at",
]


@admin.display(description="attempt")
def attempt_link(attempt: Attempt) -> str:
    url = reverse("admin:posting_attempt_change", args=[attempt.pk])
    return format_html('<a href="{}">{}</a>', url, attempt_title(attempt))


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = [
        attempt_link,
        "device",
        "started_at",
        "finished_at",
        "outcome",
        "error_category",
        "error_type",
        "matched_rule",
        "error",
        screenshot_thumbnail,
        page_source_link,
        logcat_link,
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(GuardedActionsAdmin):
    form = JobForm
    # Readable at 1366 x 768 beside the filters: what it is, where it stands and why, what
    # went wrong last, where it ran, when it last changed.
    list_display = ["job_id", "account", "status_and_why", "last_error", "runs_on", "updated"]
    list_filter = [
        "status",
        ("pass_number", PassNumberFilter),
        "error_category",
        "error_type",
        AccountStatusFilter,
        ("account__device", AccountDeviceFilter),
        WaitingFilter,
        PausedFilter,
    ]
    # Searched by get_search_results: a partial job id, or a partial handle with or without
    # its "@" (matched in the small accounts table, then the jobs by their account index).
    search_fields = ["job_id"]
    search_help_text = "A job id or part of one, or an account handle or part of one (no @ needed)."
    list_select_related = ["account__device", "device"]
    raw_id_fields = ["account"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 100
    inlines = [AttemptInline]
    actions = [
        "requeue_infrastructure_failures",
        "requeue_selected",
        "retry_now",
        "cancel",
        "mark_posted",
        "mark_not_posted",
        "export_progress_csv",
    ]

    def get_queryset(self, request):
        # The last failed attempt, for a job whose own error a requeue cleared: three
        # correlated subqueries on the attempts' (job, -id) index, no query per row.
        failed = (
            Attempt.objects.filter(job=OuterRef("pk"))
            .exclude(outcome__in=[AttemptOutcome.SUCCESS, AttemptOutcome.RUNNING])
            .order_by("-id")
        )
        return with_wait_state(super().get_queryset(request)).annotate(
            last_attempt_error=Subquery(failed.values("error")[:1]),
            last_attempt_type=Subquery(failed.values("error_type")[:1]),
            last_attempt_pass=Subquery(failed.values("pass_number")[:1]),
        )

    def get_urls(self):
        own = [
            path(
                "import/",
                self.admin_site.admin_view(partial(import_view, self)),
                name="posting_job_import",
            )
        ]
        return own + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra = {"can_import": request.user.has_perm(IMPORT_PERMISSION), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lstrip("@")
        if not term:
            return queryset, False
        # The matching accounts as a list, not a subquery: PostgreSQL cannot combine a
        # subquery's IN with the job ids' trigram index, and would read every job instead.
        accounts = list(Account.objects.filter(handle__icontains=term).values_list("pk", flat=True))
        matches = Q(job_id__icontains=term)
        if accounts:
            matches |= Q(account__in=accounts)
        return queryset.filter(matches), False

    @admin.display(description="status and why", ordering="status")
    def status_and_why(self, job: Job) -> str:
        state = wait_state(job)
        if state is None:
            detail = ""
            if job.status == JobStatus.PENDING and job.attempts:
                detail = f"due (attempt {job.attempts + 1} of {job.max_attempts})"
            elif job.status == JobStatus.PENDING:
                detail = "due"
            elif job.status == JobStatus.RUNNING:
                detail = f"attempt {job.attempts} of {job.max_attempts}"
            elif job.status in (JobStatus.FAILED, JobStatus.NEEDS_REVIEW):
                detail = f"after {plural(job.attempts, 'attempt')}, pass {job.pass_number}"
            return format_html("{} {}", status_badge(job.status), detail)
        return format_html(
            "{} {}", badge(state.reason.label, WAIT_COLOURS[state.reason]), state.text
        )

    @admin.display(description="waiting because")
    def waiting_because(self, job: Job) -> str:
        return waiting_because(job) or "—"

    @admin.display(description="last error")
    def last_error(self, job: Job) -> str:
        if not job.error and not job.error_category:
            earlier = getattr(job, "last_attempt_error", None)
            if not earlier:
                return "—"
            # Requeued into a new pass: the error that sent it there, marked as earlier.
            kind = f"pass {job.last_attempt_pass}: {job.last_attempt_type or 'unrecognised'}"
            return format_html('<span title="{}"><i>{}</i> {}</span>', earlier, kind, _cut(earlier))
        kind = f"{job.error_category or 'unknown'}/{job.error_type or 'unrecognised'}"
        return format_html('<span title="{}"><b>{}</b> {}</span>', job.error, kind, _cut(job.error))

    @admin.display(description="device", ordering="device__name")
    def runs_on(self, job: Job) -> str:
        """The device of its latest attempt, or (not run yet) its account's device."""
        device = job.device or job.account.device
        return device.name if device else "—"

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, job: Job) -> str:
        return when(job.updated_at)

    @admin.display(description="what to do next")
    def next_step(self, job: Job) -> str:
        return render_next_steps(job)

    def get_object(self, request, object_id, from_field=None):
        # The job page says why the job waits: the pause annotations and the account's device.
        queryset = with_wait_state(self.get_queryset(request).select_related("account__device"))
        model = queryset.model
        field = model._meta.pk if from_field is None else model._meta.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (model.DoesNotExist, ValueError, ValidationError):
            return None

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if job is not None:
            allowed = self.get_actions(request)
            extra["job_actions"] = [
                (name, allowed[name][2]) for name in job_actions(job) if name in allowed
            ]
            account = job.account
            if account.is_held and request.user.has_perm("posting.change_account"):
                extra["release_account"] = account
            extra["job_pk"] = job.pk
        return super().change_view(request, object_id, form_url, extra)

    # --- editing: content of waiting jobs only ------------------------------------------------

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["job_id", "account", *CONTENT_FIELDS, "priority", "max_attempts"]
        return [*STATE_FIELDS[:3], *CONTENT_FIELDS, *STATE_FIELDS[3:]]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.status in EDITABLE_JOB_STATUSES:
            return STATE_FIELDS
        return STATE_FIELDS + CONTENT_FIELDS

    def save_model(self, request, obj: Job, form, change: bool) -> None:
        if not change:
            if not Pass.objects.exists():  # the first job opens pass 1, as an import's does
                Pass.objects.create(number=1, started_at=timezone.now(), note="first job added")
            obj.pass_number = Pass.latest_number()
            super().save_model(request, obj, form, change)
            lifecycle.open_pass_entries(
                Job.objects.filter(pk=obj.pk), EntryReason.ADDED, timezone.now()
            )
            return
        # Only the content fields, and only while the job still waits: a worker may have
        # claimed it since the form was opened.
        content = {name: getattr(obj, name) for name in CONTENT_FIELDS}
        saved = Job.objects.filter(pk=obj.pk, status__in=EDITABLE_JOB_STATUSES).update(
            updated_at=timezone.now(), **content
        )
        if not saved:
            self.message_user(
                request, f"{obj.job_id} changed state meanwhile; nothing saved.", messages.ERROR
            )

    # --- permissions of the actions -----------------------------------------------------------

    def has_requeue_permission(self, request) -> bool:
        return request.user.has_perm("posting.requeue_job")

    def has_requeue_any_permission(self, request) -> bool:
        return request.user.has_perm("posting.requeue_any_job")

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm("posting.review_job")

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("posting.cancel_job")

    # --- actions --------------------------------------------------------------------------------

    @admin.action(
        description="Requeue infrastructure failures as a new pass", permissions=["requeue"]
    )
    def requeue_infrastructure_failures(self, request, queryset):
        jobs = queryset.filter(error_category=ErrorCategory.INFRASTRUCTURE)
        return self._requeue(
            request, jobs, "infrastructure failures", {"error_category": "infrastructure"}
        )

    @admin.action(
        description="Requeue selected failed jobs as a new pass", permissions=["requeue_any"]
    )
    def requeue_selected(self, request, queryset):
        return self._requeue(request, queryset, "failed jobs of any category", {"selection": True})

    def _requeue(self, request, jobs, what: str, description: dict):
        counts = jobs.requeueable().counts_by_type()
        if not counts:
            self.message_user(request, f"No {what} among the selection.", messages.WARNING)
            return None
        # Accounts still held would hold their requeued jobs again at once: say so, and offer
        # to release them in the same step.
        held = list(
            Account.objects.filter(jobs__in=jobs.requeueable().values("pk"))
            .exclude(status=AccountStatus.ACTIVE)
            .distinct()
            .order_by("handle")
        )
        may_release = request.user.has_perm("posting.change_account")
        if "confirm" not in request.POST:
            return self._confirm(
                request,
                "requeue_confirmation.html",
                {
                    "title": f"Requeue {what} as a new pass",
                    "counts": sorted(counts.items()),
                    "total": sum(counts.values()),
                    "next_pass": Pass.latest_number() + 1,
                    "held_accounts": held,
                    "may_release": may_release,
                },
            )
        released = 0
        if request.POST.get("release_held") == "1" and held:
            if not may_release:
                raise PermissionDenied("you may not release accounts")
            released = sum(release_account(account) for account in held)
        new_pass, moved = lifecycle.requeue_as_new_pass(
            jobs,
            now=timezone.now(),
            started_by=request.user,
            filter_description={"source": "admin", **description, **_filters_of(request)},
        )
        if new_pass is None:  # someone else requeued them since the confirmation page
            self.message_user(request, f"No {what} left to requeue.", messages.WARNING)
            return None
        detail = ", ".join(f"{t or 'unrecognised'} {n}" for t, n in sorted(moved.items()))
        freed = f" Released {plural(released, 'account')} first." if released else ""
        self.message_user(
            request,
            f"Moved {plural(new_pass.job_count, 'job')} into pass {new_pass.number} "
            f"({detail}).{freed}",
        )
        return None

    @admin.action(description="Retry now (waiting retries become due)", permissions=["requeue"])
    def retry_now(self, request, queryset):
        moved = lifecycle.retry_now(queryset, timezone.now())
        self.message_user(request, f"{plural(moved, 'waiting retry', 'waiting retries')} due now.")

    @admin.action(description="Cancel", permissions=["cancel"])
    def cancel(self, request, queryset):
        cancelled, stopping = lifecycle.cancel(queryset, timezone.now())
        self.message_user(
            request,
            f"Cancelled {plural(cancelled, 'job')}; {plural(stopping, 'running job')} stop at "
            "their next step "
            "(after the publishing checkpoint they go to needs_review instead).",
        )

    @admin.action(description="Review: it was posted", permissions=["review"])
    def mark_posted(self, request, queryset):
        jobs = list(queryset.filter(status=JobStatus.NEEDS_REVIEW).select_related("account"))
        if not jobs:
            self.message_user(request, "Only needs_review jobs can be reviewed.", messages.WARNING)
            return None
        if "confirm" not in request.POST:
            return self._confirm(
                request, "review_posted.html", {"title": "Mark as posted", "jobs": jobs}
            )
        urls = {job.pk: request.POST.get(f"post_url_{job.pk}", "") for job in jobs}
        try:
            done = lifecycle.review_posted(
                queryset, user=request.user, now=timezone.now(), post_urls=urls
            )
        except InvalidPostUrl as exc:
            self.message_user(request, f"{exc}; nothing was marked.", messages.ERROR)
            return self._confirm(
                request, "review_posted.html", {"title": "Mark as posted", "jobs": jobs}
            )
        self.message_user(request, f"{plural(done, 'job')} marked as posted by {request.user}.")
        return None

    @admin.action(description="Review: it was not posted (new pass)", permissions=["review"])
    def mark_not_posted(self, request, queryset):
        new_pass, count = lifecycle.review_not_posted(
            queryset, user=request.user, now=timezone.now()
        )
        if new_pass is None:
            self.message_user(request, "Only needs_review jobs can be reviewed.", messages.WARNING)
            return
        self.message_user(
            request, f"{plural(count, 'job')} will be posted again in pass {new_pass.number}."
        )

    @admin.action(description="Export as progress CSV", permissions=["view"])
    def export_progress_csv(self, request, queryset) -> HttpResponse:
        response = StreamingHttpResponse(progress_csv_lines(queryset), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="progress.csv"'
        return response

    def _confirm(self, request, template: str, context: dict) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            **context,
            "opts": self.model._meta,
            "action": request.POST["action"],
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "query_string": request.GET.urlencode(),
        }
        return TemplateResponse(request, f"admin/posting/job/{template}", context)


def _cut(text: str, length: int = 90) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _filters_of(request) -> dict:
    return {"admin_filters": request.GET.urlencode()} if request.GET else {}
