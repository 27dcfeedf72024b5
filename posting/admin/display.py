"""Small renderers shared by the admin pages (no queries: everything comes annotated)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from posting.models import Attempt, JobStatus

STATUS_COLOURS = {
    JobStatus.PENDING: "#6c757d",
    JobStatus.RUNNING: "#0d6efd",
    JobStatus.SUCCESS: "#198754",
    JobStatus.FAILED: "#dc3545",
    JobStatus.NEEDS_REVIEW: "#fd7e14",
    JobStatus.CANCELLED: "#343a40",
}


def badge(text: str, colour: str) -> str:
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;'
        'font-size:11px;white-space:nowrap">{}</span>',
        colour,
        text,
    )


def status_badge(status: str) -> str:
    return badge(JobStatus(status).label, STATUS_COLOURS[JobStatus(status)])


@admin.display(description="screenshot")
def screenshot_thumbnail(attempt: Attempt) -> str:
    if not attempt.screenshot:
        return "—"
    url = reverse("attempt-evidence", args=[attempt.pk, "screenshot"])
    return format_html(
        '<a href="{}"><img src="{}" alt="screenshot" style="max-height:120px"></a>', url, url
    )


@admin.display(description="logcat")
def logcat_link(attempt: Attempt) -> str:
    if not attempt.logcat:
        return "—"
    url = reverse("attempt-evidence", args=[attempt.pk, "logcat"])
    return format_html('<a href="{}">last logcat lines (text)</a>', url)


@admin.display(description="page source")
def page_source_link(attempt: Attempt) -> str:
    if not attempt.page_source:
        return "—"
    url = reverse("attempt-evidence", args=[attempt.pk, "page_source"])
    return format_html('<a href="{}">UI hierarchy (XML)</a>', url)
