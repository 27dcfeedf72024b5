"""What an operator does next about one job: the sentence, the links, the job's own actions."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from posting.admin.display import plural, when
from posting.models import ErrorCategory, Job, JobStatus
from posting.waiting import WaitReason, wait_state

# The job's own actions, by status (the admin offers those the user may run).
ACTIONS_BY_STATUS = {
    JobStatus.PENDING: ["retry_now", "cancel"],
    JobStatus.RUNNING: ["cancel"],
    JobStatus.FAILED: ["requeue_infrastructure_failures", "requeue_selected", "cancel"],
    JobStatus.NEEDS_REVIEW: ["mark_posted", "mark_not_posted", "cancel"],
}


def _link(url: str, text: str) -> str:
    return format_html('<a href="{}">{}</a>', url, text)


def device_caveat(job: Job) -> list[str]:
    """Behind an account hold or a pause, the device may be down too: say so at once."""
    device = job.account.device
    if device is None:
        return []
    url = reverse("admin:devices_device_change", args=[device.pk])
    if device.is_quarantined:
        return [
            format_html(
                "Its device {} is quarantined too ({}) until {}.",
                _link(url, device.name),
                device.health_detail or "infrastructure failures",
                when(device.quarantined_until),
            )
        ]
    if not device.enabled:
        return [format_html("Its device {} is disabled too.", _link(url, device.name))]
    return []


def job_actions(job: Job, now=None) -> list[str]:
    """The job's own actions that would do something now."""
    names = list(ACTIONS_BY_STATUS.get(job.status, []))
    waiting_retry = job.retry_at is not None and job.retry_at > (now or timezone.now())
    if "retry_now" in names and not waiting_retry:
        names.remove("retry_now")
    if job.status == JobStatus.FAILED and job.error_category != ErrorCategory.INFRASTRUCTURE:
        names.remove("requeue_infrastructure_failures")
    return names


def next_steps(job: Job) -> list[str]:
    """Sentences (HTML) saying what to do about this job, each with its links."""
    account, device = job.account, job.account.device
    account_url = reverse("admin:posting_account_change", args=[account.pk])
    device_link = (
        _link(reverse("admin:devices_device_change", args=[device.pk]), device.name)
        if device
        else ""
    )
    state = wait_state(job)
    if job.status == JobStatus.PENDING and state is not None:
        reason = state.reason
        if reason in (WaitReason.ACCOUNT_HELD, WaitReason.RATE_LIMITED):
            detail = account.held_reason or account.get_status_display()
            since = when(account.held_at)
            steps = [
                format_html(
                    "The account {} is held: {} (since {}).",
                    _link(account_url, account.handle),
                    detail,
                    since,
                )
            ]
            if reason == WaitReason.RATE_LIMITED:
                steps.append(format_html("It resumes by itself {}.", when(account.held_until)))
            else:
                steps.append(
                    "Solve it on the phone (captcha, log in again, appeal), then release the "
                    "account: its jobs run again on their device."
                )
            return steps + device_caveat(job)
        if reason in (
            WaitReason.DEVICE_QUARANTINED,
            WaitReason.DEVICE_DISABLED,
            WaitReason.DEVICE_DRAINING,
        ):
            text = {
                WaitReason.DEVICE_QUARANTINED: format_html(
                    "The device {} is quarantined ({}) until {}. Check the phone, then release "
                    "its quarantine on the device page, or wait.",
                    device_link,
                    device.health_detail or "repeated infrastructure failures",
                    when(device.quarantined_until),
                ),
                WaitReason.DEVICE_DISABLED: format_html(
                    "The device {} is disabled: enable it on the device page.", device_link
                ),
                WaitReason.DEVICE_DRAINING: format_html(
                    "The device {} is draining (takes no new job): undrain it on the device page.",
                    device_link,
                ),
            }[reason]
            return [text]
        if reason == WaitReason.NO_DEVICE:
            return [
                format_html(
                    "No device is bound to {}: bind one on the account page.",
                    _link(account_url, account.handle),
                )
            ]
        if reason in (
            WaitReason.FLEET_PAUSED,
            WaitReason.PLATFORM_PAUSED,
            WaitReason.HOST_PAUSED,
        ):
            where = (
                _link(reverse("dashboard"), "the dashboard")
                if reason == WaitReason.FLEET_PAUSED
                else _link(reverse("admin:posting_pauseswitch_changelist"), "the pauses page")
            )
            return [
                format_html("It runs when the {} is resumed ({}).", state.text, where),
                *device_caveat(job),
            ]
        if reason == WaitReason.RETRY:
            return [
                format_html(
                    "It retries by itself {} ({}). Retry now if the cause is fixed.",
                    when(job.retry_at),
                    state.text,
                )
            ]
        return [format_html("It runs by itself: {}.", state.text)]
    if job.status == JobStatus.PENDING:
        where = f" on {device.name}" if device else ""
        return [f"Nothing to do: it is due and starts when its device is free{where}."]
    if job.status == JobStatus.RUNNING:
        return [format_html("It is running on {} since {}.", device_link, when(job.claimed_at))]
    if job.status == JobStatus.NEEDS_REVIEW:
        return [
            format_html(
                "The attempt may have posted. Look for the post on {} (and at the evidence "
                "below), then use the review: “it was posted” (with its URL) or “it was not "
                "posted” (posted again in a new pass).",
                _link(account_url, account.handle),
            )
        ]
    if job.status == JobStatus.FAILED:
        attempts = plural(job.attempts, "attempt")
        what = job.error_type or "unrecognised"
        if job.error_category == ErrorCategory.INFRASTRUCTURE:
            text = format_html(
                "It failed after {} ({}). Check the device {}, then requeue it as a new pass.",
                attempts,
                what,
                device_link or "—",
            )
        elif job.error_category == ErrorCategory.ACCOUNT:
            text = format_html(
                "The account failed ({}). Solve it on the phone, release the account {}, then "
                "requeue the job (any category).",
                what,
                _link(account_url, account.handle),
            )
        elif job.error_category == ErrorCategory.CONTENT:
            text = format_html(
                "The content was refused ({}): edit the caption or video below, then requeue "
                "the job (any category). The account and the device {} are fine.",
                what,
                device_link or "—",
            )
        else:
            text = format_html(
                "The failure was not recognised ({}): read the error and the evidence below "
                "(device {}), then requeue the job (any category) or cancel it.",
                what,
                device_link or "—",
            )
        return [text]
    if job.status == JobStatus.SUCCESS and job.post_url:
        return [format_html("Posted: {}.", _link(job.post_url, job.post_url))]
    return ["Nothing to do: the job is finished."]


def render_next_steps(job: Job) -> str:
    return format_html(
        '<ul id="next-steps" style="margin:0;padding-left:1.2em">{}</ul>',
        format_html_join("", "<li>{}</li>", ((step,) for step in next_steps(job))),
    )
