"""Drive a real phone through an Appium server, following the platform's flow file.

One Appium session per attempt, every wait bounded, the session always quit. On any failure
the screenshot and page source of that moment are handed to the attempt as evidence; a
failure to capture them is logged and never replaces the original error.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
import time
import urllib.request
import xml.etree.ElementTree as ElementTree

from appium import webdriver
from appium.options.common.base import AppiumOptions
from appium.webdriver.client_config import AppiumClientConfig
from django.conf import settings
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from devices.backends.base import (
    AttemptHooks,
    AutomationStuck,
    BackendClosed,
    DeviceBackend,
    HealthReport,
    PostRequest,
    PrePostVerificationError,
)
from devices.backends.flows import Detector, Flow, Locator, Step, load_flow
from devices.backends.placeholders import render_locator, render_text, values_for
from devices.ports import PORT_CAPABILITIES
from retries.classification import describe_exception
from retries.taxonomy import ErrorType

logger = logging.getLogger("devices.appium")

DEFAULT_CAPABILITIES = {
    "platformName": "Android",
    "appium:automationName": "UiAutomator2",
    "appium:newCommandTimeout": 120,
    "appium:noReset": True,
    "appium:adbExecTimeout": 30000,
}


def detected_message(error_type: str) -> str:
    """What a matched detector reports: the taxonomy's label, which the classifier maps back
    to the same type (tests/test_flow_files.py holds it to that)."""
    return str(ErrorType(error_type).label)


def describe_detector(detector: Detector) -> str:
    """What the detector looks for: its text, or `by=value` of its locator."""
    return detector.text or f"{detector.locator.by}={detector.locator.value}"


class AppiumBackend(DeviceBackend):
    def __init__(self, device) -> None:
        super().__init__(device)
        self.driver = None
        self._closed = threading.Event()
        self._quit_lock = threading.Lock()
        self.request: PostRequest | None = None
        self.hooks: AttemptHooks | None = None

    # --- the attempt -------------------------------------------------------------------------

    def post(self, request: PostRequest, hooks: AttemptHooks) -> bool:
        flow = load_flow(self.platform(request))
        self.request, self.hooks = request, hooks
        try:
            self.start_session()
            for number, step in enumerate(flow.steps, 1):
                self.run_step(number, step)
                detector = self.detect(flow)
                if detector is not None:
                    return self.report_detected(detector)
            return True
        except Exception as exc:
            if self._closed.is_set():
                raise BackendClosed("the Appium session was torn down") from exc
            detector = self.detect_quietly(flow)
            self.capture_evidence()
            if detector is not None:
                return self.report_detected(detector)
            raise
        finally:
            self.run_cleanup(flow)
            self.close()

    def was_published(self, request: PostRequest) -> bool | None:
        """Run the flow's `verify_post`. False only when its `exists` step looked for the
        whole timeout and found nothing; any error (a bad locator, the server gone) is
        "cannot tell" (None), so the job goes to review instead of a second post."""
        flow = load_flow(self.platform(request))
        if not flow.verify_post:
            return None
        self.request = request
        self.hooks = _NullHooks()
        try:
            self.start_session()
            for number, step in enumerate(flow.verify_post, 1):
                found = self.run_step(number, step)
            return bool(found)
        except Exception as exc:
            logger.warning(
                "Cannot tell whether job %s was posted: %s", request.job_id, describe_exception(exc)
            )
            return None
        finally:
            self.close()

    def probe(self) -> HealthReport:
        """The Appium server's /status, then the phone's presence where adb can tell."""
        url = self.device.appium_url.rstrip("/") + "/status"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                ready = json.load(response).get("value", {}).get("ready", False)
        except (OSError, ValueError) as exc:
            return HealthReport(False, f"Appium server unreachable at {url}: {exc}")
        if not ready:
            return HealthReport(False, f"Appium server at {url} is not ready")
        return self.probe_phone()

    def probe_phone(self) -> HealthReport:
        udid = self.device.capabilities.get("appium:udid")
        adb = shutil.which("adb")
        if not udid or adb is None:
            return HealthReport(True, "Appium ready (phone presence not checked: no udid or adb)")
        try:
            state = subprocess.run(
                [adb, "-s", udid, "get-state"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            return HealthReport(False, f"adb did not answer for {udid}: {exc}")
        if state != "device":
            return HealthReport(False, f"device {udid} is {state or 'not connected'}")
        return HealthReport(True, f"Appium ready, {udid} connected")

    def close(self) -> None:
        self._closed.set()
        with self._quit_lock:
            driver, self.driver = self.driver, None
        if driver is not None:
            try:
                driver.quit()
            except Exception as exc:  # the server may be gone already; the outcome stands
                self.log(f"quitting the session failed: {type(exc).__name__}: {exc}")

    # --- session and steps -------------------------------------------------------------------

    def platform(self, request: PostRequest) -> str:
        return self.device.capabilities.get("fleetpost:platform") or request.platform

    def capabilities(self) -> dict:
        """The defaults, the device's own ports on its host, then its capabilities."""
        own = {k: v for k, v in self.device.capabilities.items() if not k.startswith("fleetpost:")}
        ports = {
            name: getattr(self.device, field)
            for field, name in PORT_CAPABILITIES.items()
            if getattr(self.device, field) is not None
        }
        return {**DEFAULT_CAPABILITIES, "appium:deviceName": self.device.name, **ports, **own}

    def start_session(self) -> None:
        options = AppiumOptions()
        options.load_capabilities(self.capabilities())
        config = AppiumClientConfig(
            remote_server_addr=self.device.appium_url, timeout=settings.APPIUM_HTTP_TIMEOUT
        )
        started = time.monotonic()
        if self._closed.is_set():
            raise BackendClosed("the Appium session was torn down before it started")
        driver = webdriver.Remote(options=options, client_config=config)
        with self._quit_lock:
            self.driver = driver
        driver.implicitly_wait(0)  # every wait is an explicit, bounded one
        self.log(f"session started in {_ms(started)} ms")

    def run_step(self, number: int, step: Step, label: str = "step"):
        started = time.monotonic()
        if self._closed.is_set():
            raise BackendClosed("the Appium session was torn down")
        try:
            result = getattr(self, f"step_{step.action}")(step)
        except Exception as exc:
            self.log(
                f"{label} {number} {step.describe()}: failed after {_ms(started)} ms: "
                f"{describe_exception(exc)}"
            )
            raise
        self.log(f"{label} {number} {step.describe()}: ok in {_ms(started)} ms")
        return result

    def run_cleanup(self, flow: Flow) -> None:
        """The flow's `cleanup` steps, after every attempt. Never raises: a failed cleanup is
        logged on the attempt and leaves the attempt's outcome as it was."""
        if not flow.cleanup:
            return
        if self.driver is None or self._closed.is_set():
            self.log("cleanup skipped: the session is gone")
            return
        for number, step in enumerate(flow.cleanup, 1):
            try:
                self.run_step(number, step, label="cleanup")
            except Exception:  # already logged by run_step; the next step may still work
                continue

    def step_activate_app(self, step: Step) -> None:
        self.driver.activate_app(step.options["app_id"])

    def step_push_file(self, step: Step) -> None:
        destination = self.render(step.options["destination"])
        self.driver.push_file(destination, source_path=self.request.video_path)

    def step_delete_file(self, step: Step) -> None:
        # UiAutomator2's own command; it needs no shell access on the Appium server.
        self.driver.execute_script(
            "mobile: deleteFile", {"remotePath": self.render(step.options["path"])}
        )

    def step_back(self, step: Step) -> None:
        self.driver.back()

    def step_tap(self, step: Step) -> None:
        self.wait_visible(step).click()

    def step_type(self, step: Step) -> None:
        self.wait_visible(step).send_keys(self.render(step.options["text"]))

    def step_wait_for(self, step: Step) -> None:
        self.wait_visible(step)

    def step_read_text(self, step: Step) -> str:
        value = self.read(step)
        if step.options["into"] == "post_url":
            self.post_url = value
        return value

    def step_expect_alert(self, step: Step) -> None:
        alert = WebDriverWait(self.driver, step.timeout).until(
            expected_conditions.alert_is_present()
        )
        text = alert.text
        if step.options["contains"].lower() not in text.lower():
            raise AutomationStuck(f"the alert says {text!r}, not {step.options['contains']!r}")
        if step.options.get("accept"):
            alert.accept()

    def step_verify_account(self, step: Step) -> None:
        shown = self.read(step)
        if _handle(shown) != _handle(self.request.account_handle):
            raise PrePostVerificationError(
                f"device shows {shown!r}, expected {self.request.account_handle!r}"
            )

    def step_publish(self, step: Step) -> None:
        button = self.wait_visible(step)  # found first: the checkpoint sits right at the tap
        self.hooks.checkpoint()
        button.click()

    def step_exists(self, step: Step) -> bool:
        try:
            self.wait_present(step)
        except TimeoutException:
            return False  # looked for the whole timeout: not there. Other errors propagate.
        return True

    # --- helpers -----------------------------------------------------------------------------

    def locate(self, locator: Locator) -> tuple[str, str]:
        return locator.by, render_locator(locator.by, locator.value, self.values())

    def values(self) -> dict[str, str]:
        request = self.request
        return values_for(
            request.job_id, request.account_handle, request.video_path, request.caption
        )

    def wait_present(self, step: Step):
        by, value = self.locate(step.locator)
        condition = expected_conditions.presence_of_element_located((by, value))
        return WebDriverWait(self.driver, step.timeout).until(
            condition, f"{step.describe()} did not appear within {step.timeout:g} s"
        )

    def wait_visible(self, step: Step):
        by, value = self.locate(step.locator)
        condition = expected_conditions.visibility_of_element_located((by, value))
        return WebDriverWait(self.driver, step.timeout).until(
            condition, f"{step.describe()} was not visible within {step.timeout:g} s"
        )

    def read(self, step: Step) -> str:
        """An element's text; static texts some drivers do not expose come from the page source."""
        element = self.wait_present(step)
        attribute = step.options.get("attribute")
        value = element.get_attribute(attribute) if attribute else element.text
        if value:
            return value.strip()
        return _attribute_from_source(self.driver.page_source, step.locator, attribute)

    def render(self, template: str) -> str:
        return render_text(template, self.values())

    def detect(self, flow: Flow) -> Detector | None:
        """The first detector whose element or text is on screen."""
        return next(self.matching_detectors(flow), None)

    def matching_detectors(self, flow: Flow):
        """The detectors whose element or text is on screen, in the flow's order (lazily:
        `detect` stops at the first)."""
        source = None
        for detector in flow.detectors:
            if detector.locator is not None:
                elements = self.driver.find_elements(*self.locate(detector.locator))
                if any(_displayed(e) for e in elements):
                    yield detector
            else:
                source = source if source is not None else self.driver.page_source.lower()
                if detector.text.lower() in source:
                    yield detector

    def detect_quietly(self, flow: Flow) -> Detector | None:
        if self.driver is None:
            return None
        try:
            return self.detect(flow)
        except Exception as exc:
            self.log(f"detectors could not run: {type(exc).__name__}: {exc}")
            return None

    def report_detected(self, detector: Detector) -> bool:
        what = describe_detector(detector)
        self.last_error_message = f"{detected_message(detector.error_type)} (detector: {what})"
        self.last_error_type = detector.error_type
        self.log(f"detector {detector.error_type} matched: {what}")
        self.capture_evidence()
        return False

    def capture_evidence(self) -> None:
        """Screenshot, page source and (where the driver offers it) the end of the phone's
        logcat at this moment; never raises."""
        if self.driver is None or self.hooks is None:
            return
        for kind, extension, grab in (
            ("screenshot", "png", self.driver.get_screenshot_as_png),
            ("page_source", "xml", lambda: self.driver.page_source.encode()),
            ("logcat", "txt", self.logcat_tail),
        ):
            try:
                content = grab()
                if content is not None:
                    self.hooks.save_evidence(kind, extension, content)
            except Exception as exc:
                self.log(f"capturing the {kind} failed: {describe_exception(exc)}")

    def logcat_tail(self) -> bytes | None:
        """The last APPIUM_LOGCAT_LINES lines of logcat; None where the driver has no logcat
        (UiAutomator2 offers it; other drivers, the fake one included, do not)."""
        try:
            offered = "logcat" in self.driver.log_types
        except Exception:  # a driver without the log-types command offers no logcat
            offered = False
        if not offered:
            return None
        entries = self.driver.get_log("logcat")[-settings.APPIUM_LOGCAT_LINES :]
        lines = (
            f"{entry.get('timestamp', '')} {entry.get('level', '')} {entry.get('message', '')}"
            for entry in entries
        )
        return "\n".join(lines).encode()

    def log(self, message: str) -> None:
        if self.hooks is not None:
            self.hooks.log(message)


class _NullHooks:
    def checkpoint(self) -> None:
        raise RuntimeError("verification steps must not publish")

    def log(self, message: str) -> None:
        pass

    def save_evidence(self, kind: str, extension: str, content: bytes) -> None:
        pass


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _handle(text: str) -> str:
    return text.strip().lstrip("@").lower()


def _displayed(element) -> bool:
    try:
        return element.is_displayed()
    except Exception:
        return False


def _attribute_from_source(source: str, locator: Locator, attribute: str | None) -> str:
    """Find an element by id in the page source XML and read its text attribute."""
    if locator.by not in ("id", "accessibility id"):
        return ""
    try:
        root = ElementTree.fromstring(source)
    except ElementTree.ParseError:
        return ""
    keys = ("id", "resource-id", "content-desc", "name")
    for element in root.iter():
        if any(element.get(k) == locator.value for k in keys):
            for name in (attribute, "text", "value", "label"):
                if name and element.get(name):
                    return element.get(name).strip()
    return ""
