"""One CSV row of a jobs or progress file, checked cell by cell and turned into model values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from posting.csv_reading import Problem
from posting.input_rules import (
    InvalidValue,
    VideoPathResolver,
    checked_post_url,
    identifier,
    integer_in_column,
    moment_in_range,
    whole_number,
)
from posting.models import ErrorCategory, ErrorType, Job, JobStatus, Platform
from retries.classification import classify_message
from retries.taxonomy import category_of, is_known_pair

# Legacy statuses and where they land. A job claimed or running when the old run died may have
# been posted, so it waits for an operator instead of being posted again.
STATUS_ON_IMPORT = {
    "pending": JobStatus.PENDING,
    "retrying": JobStatus.PENDING,
    "claimed": JobStatus.NEEDS_REVIEW,
    "running": JobStatus.NEEDS_REVIEW,
    "success": JobStatus.SUCCESS,
    "failed": JobStatus.FAILED,
    "needs_review": JobStatus.NEEDS_REVIEW,
    "cancelled": JobStatus.CANCELLED,
}


@dataclass(slots=True)
class Row:
    line: int
    values: dict[str, object]
    state: dict[str, object]
    account: str
    device: str
    platform: str = ""  # empty: the column was not given (new accounts get tiktok)


class RowParser:
    """Turns CSV rows into model values, collecting a problem per bad cell.

    One parser serves a whole file (`parse` takes each row in turn), so what is the same for
    every row (the default attempt budget, the devices, the video root) is looked up once.
    """

    def __init__(self, device_names, video_paths: VideoPathResolver) -> None:
        self.device_names = device_names
        self.video_paths = video_paths
        self.default_max_attempts = settings.DEFAULT_MAX_ATTEMPTS
        self.line = 0
        self.raw: dict[str, str] = {}
        self.problems: list[Problem] = []

    def problem(self, column: str, message: str) -> None:
        self.problems.append(Problem(self.line, column, message))

    def text(self, column: str, *, required: bool = False, max_length: int | None = None) -> str:
        value = self.raw.get(column, "")
        if column != "caption":
            value = value.strip()
        if not value:
            if required:
                self.problem(column, "is empty")
        elif max_length and len(value) > max_length:
            self.problem(column, f"is longer than {max_length} characters")
        return value

    def integer(self, column: str, default: int | None, minimum: int) -> int | None:
        value = self.raw.get(column, "").strip()
        if not value:
            return default
        try:
            number = whole_number(value)
            return integer_in_column(number, Job._meta.get_field(column), minimum)
        except InvalidValue as exc:
            self.problem(column, str(exc))
            return default

    def moment(self, column: str) -> datetime | None:
        value = self.raw.get(column, "").strip()
        if not value:
            return None
        try:
            parsed = parse_datetime(value.replace(" ", "T", 1) if "T" not in value else value)
        except ValueError:
            parsed = None
        if parsed is None:
            self.problem(column, f"{value!r} is not a date and time like 2026-11-28T14:30:00+01:00")
            return None
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        try:
            return moment_in_range(parsed)
        except InvalidValue as exc:
            self.problem(column, str(exc))
            return None

    def parse(self, line: int, raw: dict[str, str], joined: str | None = None) -> Row | None:
        """The row's values, or None; its problems are in `problems` until the next call.

        `joined`, the row's cells in one string if the caller has it, spares joining them
        again to look for NUL bytes."""
        self.line, self.raw, self.problems = line, raw, []
        if joined is None:
            joined = "".join(raw.values())
        if "\x00" in joined:  # one scan in C for the common clean row
            for column, value in raw.items():
                if "\x00" in value:
                    self.problem(
                        column, "contains a NUL byte (\\x00): the file is damaged or binary"
                    )
            return None
        # A column the file does not have takes its default without a call per row (most
        # files have five columns of the eleven).
        values = {
            "job_id": self.identifier("job_id"),
            "video_path": self.video_path(),
            "caption": raw.get("caption", ""),
            "scheduled_at": self.moment("scheduled_at") if "scheduled_at" in raw else None,
            "priority": self.integer("priority", 0, minimum=-1_000_000) if "priority" in raw else 0,
            "max_attempts": (
                self.integer("max_attempts", self.default_max_attempts, minimum=1)
                if "max_attempts" in raw
                else self.default_max_attempts
            ),
        }
        account = self.identifier("account")
        device = self.text("device") if "device" in raw else ""
        if device and device not in self.device_names:
            self.problem("device", f"no device named {device!r} (register it first)")
        state = self.state() if "status" in raw else {}
        platform = self.platform() if "platform" in raw else ""
        return Row(self.line, values, state, account, device, platform)

    def platform(self) -> str:
        value = self.text("platform").lower()
        if value and value not in Platform.values:
            self.problem("platform", f"{value[:40]!r} is not one of {', '.join(Platform.values)}")
        return value

    def identifier(self, column: str) -> str:
        value = self.raw.get(column, "").strip()
        if value and len(value) <= 200 and value.isprintable():
            return value  # a sound id, told in C: nothing to report
        value = self.text(column, required=True, max_length=200)
        try:
            return identifier(value)
        except InvalidValue as exc:
            self.problem(column, str(exc))
            return value

    def post_url(self) -> str:
        value = self.text("post_url")
        try:
            return checked_post_url(value, Job._meta.get_field("post_url").max_length)
        except InvalidValue as exc:
            self.problem("post_url", str(exc))
            return value

    def video_path(self) -> str:
        value = self.raw.get("video_path", "").strip()
        if not value or len(value) > 1000:
            value = self.text("video_path", required=True, max_length=1000)  # reports it
            if not value:
                return value
        try:
            return self.video_paths.resolve(value)
        except InvalidValue as exc:
            self.problem("video_path", str(exc))
            return value

    def state(self) -> dict[str, object]:
        """The legacy progress columns of a row."""
        raw_status = self.text("status").lower() or "pending"
        status = STATUS_ON_IMPORT.get(raw_status)
        if status is None:
            self.problem(
                "status", f"{raw_status[:40]!r} is not one of {', '.join(STATUS_ON_IMPORT)}"
            )
            status = JobStatus.PENDING
        state = {
            "status": status,
            "claimed_at": self.moment("claimed_at"),
            "completed_at": self.moment("completed_at"),
            "retry_at": self.moment("retry_at"),
            "error": self.text("error"),
            "attempts": self.integer("attempts", 0, minimum=0),
            "pass_number": self.integer("pass_number", 0, minimum=1),
            "post_url": self.post_url(),
        }
        state.update(self.classification(status, raw_status, state["error"]))
        return state

    def classification(self, status: str, raw_status: str, error: str) -> dict[str, str]:
        error_type = self.text("error_type")
        category = self.text("error_category")
        if raw_status in ("claimed", "running"):
            return {
                "error": f"{raw_status} when the previous run stopped: the post may exist",
                "error_category": ErrorCategory.UNKNOWN,
                "error_type": ErrorType.UNVERIFIED_PUBLISH,
            }
        if error_type and error_type not in ErrorType.values:
            self.problem("error_type", f"{error_type[:40]!r} is not a known type")
            return {}
        if category and category not in ErrorCategory.values:
            self.problem("error_category", f"{category[:40]!r} is not a known category")
            return {}
        if status == JobStatus.SUCCESS and (category or error_type):
            self.problem("error_type", "a successful job has no error category or type")
            return {}
        if status in (JobStatus.SUCCESS, JobStatus.PENDING) and not (error or error_type):
            if category:
                self.problem("error_category", f"{category!r} is given without a type or error")
            return {"error_category": "", "error_type": ""}
        if not category:
            # Progress files older than the two-level taxonomy have the type only (or neither).
            category = category_of(error_type) if error_type else classify_message(error).category
            if not error_type:
                error_type = classify_message(error).error_type
        if not is_known_pair(category, error_type):
            self.problem("error_category", f"{category!r} does not go with type {error_type!r}")
        return {"error_category": category, "error_type": error_type}
