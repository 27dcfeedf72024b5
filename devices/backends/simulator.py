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
import struct
import threading
import time
import zlib
from collections.abc import Callable

from devices.backends.base import (
    AttemptHooks,
    BackendClosed,
    DeviceBackend,
    HealthReport,
    PostRequest,
)
from devices.backends.simulator_config import PLATFORM_TEXTS, RAISED
from devices.models import PublishRecord


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
            self._save_evidence(hooks, request, outcome)
            raise RAISED[outcome](request, self.device.name)
        if outcome in PLATFORM_TEXTS:
            self._save_evidence(hooks, request, outcome)
            self.last_error_message = PLATFORM_TEXTS[outcome]
            return False
        if outcome == "hang":
            self._wait(None)
        hooks.checkpoint()
        if outcome in ("fail_after_checkpoint", "fail_unverifiable"):
            self._save_evidence(hooks, request, outcome)
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
        if "fail_unverifiable" in self.caps.get("script", {}).get(request.job_id, []):
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
        number = PublishRecord.record(
            self.device.name, request.job_id, request.account_handle, request.attempt_number
        )
        self.post_url = f"https://example.invalid/{request.account_handle}/video/{number}"

    def _save_evidence(self, hooks: AttemptHooks, request: PostRequest, outcome: str) -> None:
        """A placeholder screenshot and page source, as a real phone's failure leaves them.

        Evidence never hides the failure it documents: an error saving it is only logged."""
        page = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<hierarchy simulated="true">'
            f'<node class="android.widget.TextView" text="simulated failure: {outcome}" '
            f'resource-id="{self.device.name}"/></hierarchy>\n'
        )
        try:
            hooks.save_evidence("screenshot", "png", placeholder_png(OUTCOME_COLOURS.get(outcome)))
            hooks.save_evidence("page_source", "xml", page.encode())
        except Exception as exc:  # noqa: BLE001 (the attempt's own failure matters more)
            hooks.log(f"simulator: evidence not saved: {exc}")

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


# A colour per kind of failure, so the dashboard's cards tell them apart at a glance.
OUTCOME_COLOURS = {
    "captcha": (111, 66, 193),
    "suspended": (111, 66, 193),
    "loggedout": (111, 66, 193),
    "rate_limited": (111, 66, 193),
    "media_missing": (214, 51, 132),
    "caption_rejected": (214, 51, 132),
    "unknown": (121, 85, 72),
}


def placeholder_png(colour: tuple[int, int, int] | None = None, size=(180, 320)) -> bytes:
    """A phone-shaped PNG of one colour with a white status bar (no imaging library)."""
    width, height = size
    red, green, blue = colour or (220, 53, 69)
    bar = b"\x00" + b"\xff\xff\xff" * width
    body = b"\x00" + bytes((red, green, blue)) * width
    raw = bar * 24 + body * (height - 24)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
