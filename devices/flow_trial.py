"""The flow debugger: run a platform's flow on a device step by step, for when an app update
breaks it. Stops before the publishing step unless the operator names that step; keeps a
screenshot and the page source after every step, and says which locator was not found and
which detectors matched.

Runs where the phone is (the command on its host, or the admin's task on the host's cluster).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from selenium.common.exceptions import NoSuchElementException, TimeoutException

from devices.backends.appium import AppiumBackend, describe_detector
from devices.backends.base import PostRequest
from devices.backends.flows import Flow, FlowError, Step, load_flow
from devices.models import DeviceBackendName, FlowTrial, FlowTrialStatus
from retries.classification import describe_exception

NOT_FOUND = (TimeoutException, NoSuchElementException)


class TrialRefused(Exception):
    """The trial cannot run as asked (not an Appium device, no flow, an unknown step)."""


@dataclass
class StepRow:
    number: int
    step: str
    result: str  # ok, failed, not run, stopped before publishing
    ms: int = 0
    note: str = ""  # what was read, or the error
    missing_locator: str = ""
    detectors: list[str] = field(default_factory=list)
    screenshot: str = ""
    page_source: str = ""


def last_step_index(flow: Flow, through: str) -> int:
    """The 0-based index of the last step to run. Empty `through`: the step before publishing.

    `through` is a step number, name or action. Steps after the publishing step cannot run
    without publishing, so `through` may name the publishing step at most.
    """
    if not through:
        return flow.publish_index - 1
    for index, step in enumerate(flow.steps):
        if through in (str(index + 1), step.options.get("name"), step.action):
            if index > flow.publish_index:
                raise TrialRefused(
                    f"step {index + 1} ({step.describe()}) comes after publishing; name the "
                    f"publishing step ({flow.publish_index + 1}) to publish, or an earlier one"
                )
            return index
    names = ", ".join(
        f"{i}={s.options.get('name') or s.action}" for i, s in enumerate(flow.steps, 1)
    )
    raise TrialRefused(f"no step {through!r} in the {flow.platform} flow (steps: {names})")


def check_trial(trial: FlowTrial) -> Flow:
    """The flow the trial would run; raises TrialRefused explaining why it cannot."""
    if trial.device.backend != DeviceBackendName.APPIUM:
        raise TrialRefused(f"device {trial.device} is not an Appium device")
    try:
        flow = load_flow(trial.platform)
    except FlowError as exc:
        raise TrialRefused(str(exc)) from None
    last_step_index(flow, trial.through)
    return flow


def run_trial(trial: FlowTrial) -> FlowTrial:
    """Run a queued trial to its end and record the step table on it."""
    folder = f"flow-trials/{trial.device.name}-{trial.pk}-{timezone.now():%Y%m%dT%H%M%S}"
    if not trial.start(folder):
        return trial
    try:
        flow = check_trial(trial)
    except TrialRefused as exc:
        trial.finish(FlowTrialStatus.ERROR, [], str(exc), timezone.now())
        return trial
    rows, session_error, cleanup = _run(trial, flow, folder)
    failed = session_error or any(row.result == "failed" for row in rows)
    status = FlowTrialStatus.FAILED if failed else FlowTrialStatus.PASSED
    detail = "\n".join(filter(None, [session_error, *cleanup]))
    trial.finish(status, [asdict(row) for row in rows], detail, timezone.now())
    return trial


class _TrialHooks:
    def __init__(self, may_publish: bool) -> None:
        self.may_publish = may_publish
        self.lines: list[str] = []

    def checkpoint(self) -> None:
        if not self.may_publish:  # a second guard behind last_step_index
            raise TrialRefused("the flow debugger does not publish unless told to")

    def log(self, message: str) -> None:
        self.lines.append(message)

    def save_evidence(self, kind: str, extension: str, content: bytes) -> None:
        pass  # the trial keeps its own files, one pair per step


def _run(trial: FlowTrial, flow: Flow, folder: str) -> tuple[list[StepRow], str, list[str]]:
    """The step rows, why the session could not start ('' if it did) and the cleanup log."""
    last = last_step_index(flow, trial.through)
    backend = AppiumBackend(trial.device)
    backend.request = PostRequest(
        job_id=f"trial-{trial.pk}",
        account_handle=trial.account_handle,
        video_path=trial.video_path,
        caption=trial.caption,
        platform=trial.platform,
    )
    backend.hooks = _TrialHooks(may_publish=last >= flow.publish_index)
    rows: list[StepRow] = []
    detail = ""
    try:
        backend.start_session()
        for index, step in enumerate(flow.steps[: last + 1]):
            row = _run_step(backend, flow, index + 1, step, folder)
            rows.append(row)
            if row.result == "failed":
                break
    except Exception as exc:  # the session did not start: nothing ran
        detail = f"could not start the session: {describe_exception(exc)}"
    finally:
        backend.run_cleanup(flow)
        backend.close()
    ran = len(rows)
    for index, step in enumerate(flow.steps[ran:], ran + 1):
        stopped = index - 1 == flow.publish_index and not detail and last < flow.publish_index
        result = "stopped before publishing" if stopped and ran == last + 1 else "not run"
        rows.append(StepRow(index, step.describe(), result))
    cleanup = [line for line in backend.hooks.lines if line.startswith("cleanup")]
    return rows, detail, cleanup


def _run_step(backend: AppiumBackend, flow: Flow, number: int, step: Step, folder: str):
    started = time.monotonic()
    row = StepRow(number, step.describe(), "ok")
    try:
        if step.action == "verify_account" and not backend.request.account_handle:
            row.note = f"shows {backend.read(step)!r} (no --account to compare)"
        else:
            value = backend.run_step(number, step)
            if isinstance(value, str):
                row.note = f"read {value!r}"
    except Exception as exc:
        row.result, row.note = "failed", describe_exception(exc)
        if isinstance(exc, NOT_FOUND) and step.locator is not None:
            row.missing_locator = f"{step.locator.by}={step.locator.value}"
    row.ms = int((time.monotonic() - started) * 1000)
    try:
        row.detectors = [
            f"{d.error_type}: {describe_detector(d)}" for d in backend.matching_detectors(flow)
        ]
    except Exception as exc:
        row.detectors = [f"(detectors could not run: {describe_exception(exc)})"]
    row.screenshot, row.page_source = _save_screen(backend, folder, number, step)
    return row


def _save_screen(backend: AppiumBackend, folder: str, number: int, step: Step) -> tuple[str, str]:
    """The screenshot and page source after a step; '' for one that could not be taken."""
    slug = re.sub(r"[^a-z0-9]+", "-", (step.options.get("name") or step.action).lower()).strip("-")
    names = []
    for extension, grab in (
        ("png", backend.driver.get_screenshot_as_png),
        ("xml", lambda: backend.driver.page_source.encode()),
    ):
        try:
            content = grab()
        except Exception:  # a dead session: the row's error already says why
            names.append("")
            continue
        names.append(
            default_storage.save(
                f"{folder}/step-{number:02d}-{slug}.{extension}", ContentFile(content)
            )
        )
    return names[0], names[1]


def prune_trials(before: datetime, *, dry_run: bool = False) -> int:
    """Delete flow trials requested before `before`, with their files; how many."""
    old = FlowTrial.objects.filter(requested_at__lt=before)
    if dry_run:
        return old.count()
    pruned = 0
    for trial in old.iterator():
        for row in trial.steps:
            for name in filter(None, (row.get("screenshot"), row.get("page_source"))):
                default_storage.delete(name)
        pruned += FlowTrial.objects.filter(pk=trial.pk).delete()[0]
    return pruned


def format_steps(rows: list[dict]) -> str:
    """The step table as text: step, result, milliseconds, then what went wrong."""
    header = ("#", "step", "result", "ms", "locator not found", "detectors matched")
    lines = [header] + [
        (
            str(r["number"]),
            r["step"],
            r["result"],
            str(r["ms"]) if r["result"] in ("ok", "failed") else "",
            r["missing_locator"],
            "; ".join(r["detectors"]),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    table = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    notes = [f"  {r['number']}: {r['note']}" for r in rows if r["note"]]
    return "\n".join(table + (["notes:", *notes] if notes else []))
