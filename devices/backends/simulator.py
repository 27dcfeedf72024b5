"""A simulated phone for demos, tests and benchmarks.

Configured by `Device.capabilities`:

    {"latency_ms": [200, 800], "failure_rates": {"adb_timeout": 0.05, "captcha": 0.01},
     "script": {"J-17": ["adb_timeout", "success"]}, "seed": 7, "verifiable": true}

`script` gives a job's outcomes in attempt order (past its end: success) and overrides the
rates. Each outcome fails the way a real device does (an exception, or False with the
platform's text), so the real classification path runs. Every publish is written to the
`PublishRecord` ledger, which also answers "was this job published?".
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable

from devices.backends.base import (
    AttemptHooks,
    BackendClosed,
    DeviceBackend,
    HealthReport,
    PostRequest,
    PrePostVerificationError,
)
from devices.models import PublishRecord

# Texts a platform shows; the classifier reads them, the simulator never names a type.
PLATFORM_TEXTS = {
    "suspended": "This account was suspended for violating our terms",
    "captcha": "Captcha required: complete the puzzle to continue",
    "loggedout": "You have been logged out. Log in again to continue",
    "rate_limited": "Too many posts. Try again later",
    "media_missing": "Video file not found on the device",
    "caption_rejected": "Caption rejected: it goes against our community guidelines",
    "claude_stuck": "",
}
RAISED = {
    "adb_timeout": lambda r, d: TimeoutError("adb shell input tap timed out after 20 s"),
    "connection_dropped": lambda r, d: ConnectionError("Connection to the device reset by peer"),
    "verification_race": lambda r, d: PrePostVerificationError(
        f"device shows @someone-else, expected {r.account_handle}"
    ),
    "device_offline": lambda r, d: RuntimeError(f"adb: device '{d}' offline"),
    "appium_session": lambda r, d: RuntimeError("A new session could not be created"),
    "unknown": lambda r, d: RuntimeError("Unexpected dialog: 'Rate this app'"),
}
# Outcomes that touch the publishing checkpoint; see SimulatorBackend.post.
PUBLISHING = {
    "success",
    "crash_after_publish",
    "hang_after_publish",
    "fail_after_checkpoint",
}
OUTCOMES = frozenset(PLATFORM_TEXTS) | frozenset(RAISED) | PUBLISHING | {"hang"}


def validate_capabilities(caps: object) -> list[str]:
    """Problems with a simulator configuration, each naming the key."""
    if not isinstance(caps, dict):
        return ["capabilities must be a JSON object"]
    problems = []
    known = {"latency_ms", "failure_rates", "script", "seed", "verifiable", "probe", "session_log"}
    problems += [f"unknown key {key!r}" for key in caps if key not in known]
    latency = caps.get("latency_ms", 0)
    if not _is_latency(latency):
        problems.append("latency_ms must be a number of milliseconds or a [low, high] pair")
    rates = caps.get("failure_rates", {})
    if not isinstance(rates, dict):
        problems.append("failure_rates must be an object of outcome: probability")
    else:
        for outcome, rate in rates.items():
            if outcome not in OUTCOMES:
                problems.append(f"failure_rates: unknown outcome {outcome!r}")
            if not isinstance(rate, int | float) or not 0 <= rate <= 1:
                problems.append(f"failure_rates.{outcome} must be between 0 and 1")
        if sum(r for r in rates.values() if isinstance(r, int | float)) > 1:
            problems.append("failure_rates add up to more than 1")
    script = caps.get("script", {})
    if not isinstance(script, dict):
        problems.append("script must be an object of job_id: [outcome, ...]")
    else:
        for job_id, outcomes in script.items():
            if not isinstance(outcomes, list):
                problems.append(f"script.{job_id} must be a list of outcomes")
                continue
            problems += [
                f"script.{job_id}: unknown outcome {o!r}" for o in outcomes if o not in OUTCOMES
            ]
    return problems


def _is_latency(value: object) -> bool:
    if isinstance(value, int | float):
        return value >= 0
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and v >= 0 for v in value)
        and value[0] <= value[1]
    )


class SimulatorBackend(DeviceBackend):
    def __init__(self, device) -> None:
        super().__init__(device)
        self.caps = device.capabilities or {}
        self._closed = threading.Event()
        self._session_open = False
        self._session_lock = threading.Lock()

    def _open_session(self) -> None:
        """A phone session starts with the first command, as an Appium session would."""
        with self._session_lock:
            if not self._session_open:
                self._session_open = True
                self._log_session("open")

    def _log_session(self, event: str) -> None:
        # `session_log`: a file where every session's start and end are appended, so tests
        # can prove that no two sessions on one phone overlap, across processes.
        path = self.caps.get("session_log")
        if path:
            with open(path, "a", encoding="utf-8") as log:
                log.write(f"{time.time():.6f} {event} {self.device.name} {os.getpid()}\n")

    def choose_outcome(self, request: PostRequest) -> str:
        script = self.caps.get("script", {}).get(request.job_id)
        if script is not None:
            index = request.attempt_number - 1
            return script[index] if index < len(script) else "success"
        draw = self._rng(request).random()
        for outcome, rate in sorted(self.caps.get("failure_rates", {}).items()):
            if draw < rate:
                return outcome
            draw -= rate
        return "success"

    def post(self, request: PostRequest, hooks: AttemptHooks) -> bool:
        self._open_session()
        outcome = self.choose_outcome(request)
        hooks.log(f"simulator: outcome {outcome}")
        self._wait(self._latency_seconds(request))
        if outcome in RAISED:
            raise RAISED[outcome](request, self.device.name)
        if outcome in PLATFORM_TEXTS:
            self.last_error_message = PLATFORM_TEXTS[outcome]
            return False
        if outcome == "hang":
            self._wait(None)
        hooks.checkpoint()
        if outcome == "fail_after_checkpoint":
            raise ConnectionError("Connection to the device reset by peer")
        self._publish(request)
        after_publish: dict[str, Callable[[], None]] = {
            # The process dies between the tap and the report: the outcome is unknown.
            "crash_after_publish": lambda: os._exit(17),
            "hang_after_publish": lambda: self._wait(None),
        }
        after_publish.get(outcome, lambda: None)()
        return True

    def was_published(self, request: PostRequest) -> bool | None:
        self._open_session()
        if not self.caps.get("verifiable", True):
            return None
        return PublishRecord.objects.filter(job_id=request.job_id).exists()

    def probe(self) -> HealthReport:
        if self.caps.get("probe", "ok") == "ok":
            return HealthReport(ok=True, detail="simulated device ready")
        return HealthReport(ok=False, detail="simulated device does not answer")

    def close(self) -> None:
        self._closed.set()
        with self._session_lock:
            if self._session_open:
                self._session_open = False
                self._log_session("close")

    def _publish(self, request: PostRequest) -> None:
        record = PublishRecord.objects.create(
            device_name=self.device.name,
            job_id=request.job_id,
            account_handle=request.account_handle,
            attempt_number=request.attempt_number,
        )
        self.post_url = f"https://example.invalid/{request.account_handle}/video/{record.pk}"

    def _wait(self, seconds: float | None) -> None:
        """Sleep, or block forever when None; a torn-down session ends either at once."""
        if self._closed.wait(seconds):
            raise BackendClosed("simulated session was torn down")

    def _latency_seconds(self, request: PostRequest) -> float:
        latency = self.caps.get("latency_ms", 0)
        if isinstance(latency, list):
            latency = self._rng(request, "latency").uniform(*latency)
        return latency / 1000

    def _rng(self, request: PostRequest, purpose: str = "outcome") -> random.Random:
        # Seeded per job and attempt so every process draws the same outcome for it.
        seed = self.caps.get("seed", 0)
        return random.Random(f"{seed}:{purpose}:{request.job_id}:{request.attempt_number}")
