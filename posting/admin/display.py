"""Small renderers shared by the admin pages (no queries: everything comes annotated)."""

from datetime import datetime

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
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


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 job', '2 jobs' (or the given plural: '2 passes')."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def relative(moment: datetime, now: datetime | None = None) -> str:
    """'just now', '5 min ago', 'in 2 h 10 min', '3 days ago': the console's one format."""
    seconds = ((now or timezone.now()) - moment).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return "just now" if not future else "in under a minute"
    minutes = int(seconds // 60)
    if minutes < 60:
        text = f"{minutes} min"
    elif minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        text = f"{hours} h {rest} min" if rest and hours < 10 else f"{hours} h"
    else:
        text = plural(minutes // (24 * 60), "day")
    return f"in {text}" if future else f"{text} ago"


def absolute(moment: datetime) -> str:
    """The absolute time with its time zone, as the hover of every relative time shows it."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """A relative time; the absolute time and time zone on hover."""
    if moment is None:
        return "—"
    return format_html(
        '<time datetime="{}" title="{}" style="white-space:nowrap">{}</time>',
        moment.isoformat(),
        absolute(moment),
        relative(moment, now),
    )
