"""What the fake driver cannot produce: UiAutomator2's own errors and the steps that need a phone.

The messages are quoted from Appium's issue tracker (real UiAutomator2 server responses); the
driver below stands in for a physical phone, the one thing that cannot run here.
"""

import pytest
from selenium.common.exceptions import (
    InvalidSessionIdException,
    NoSuchElementException,
    SessionNotCreatedException,
    TimeoutException,
    WebDriverException,
)
from urllib3.exceptions import MaxRetryError, NewConnectionError

from devices.backends import PostRequest
from devices.backends.appium import AppiumBackend
from devices.backends.flows import Step
from retries.classification import classify_exception
from tests.factories import make_device

# appium/appium#14031: adb timing out while the session starts.
ADB_EXEC_TIMEOUT = (
    "Unable to create a new remote session. Please check the server log for more details. "
    "Original error: An unknown server-side error occurred while processing the command. "
    "Original error: Error executing adbExec. Original error: 'Command "
    "'C:\\\\Users\\\\mycv21cg\\\\android-sdk\\\\platform-tools\\\\adb.exe -P 5037 -s "
    "LHTDU17601000834 shell pm install -r /data/local/tmp/appium_cache/0cc1725a60a05dbb5d0d09256f"
    "2fc6ece7e3b10f.apk' timed out after 20000ms'. Try to increase the 20000ms adb execution "
    "timeout represented by 'uiautomator2ServerInstallTimeout' capability"
)
# appium/appium#14318: the phone is not connected.
NO_DEVICE = (
    "An unknown server-side error occurred while processing the command. Original error: "
    "Could not find a connected Android device in 21575ms."
)


@pytest.mark.parametrize(
    ("exception", "error_type"),
    [
        (SessionNotCreatedException(ADB_EXEC_TIMEOUT), "adb_timeout"),
        (WebDriverException(NO_DEVICE), "device_offline"),
        (SessionNotCreatedException(NO_DEVICE), "device_offline"),
        (WebDriverException("error: device offline"), "device_offline"),
        (SessionNotCreatedException("A new session could not be created."), "appium_session"),
        (
            InvalidSessionIdException("A session is either terminated or not started"),
            "appium_session",
        ),
        (
            MaxRetryError(None, "/session", NewConnectionError(None, "Connection refused")),
            "connection_dropped",
        ),
        (TimeoutException("post button was not visible within 10 s"), "claude_stuck"),
        (NoSuchElementException("no such element"), "claude_stuck"),
    ],
)
def test_uiautomator2_server_errors_map_into_the_taxonomy(exception, error_type):
    found = classify_exception(exception)
    assert found.error_type == error_type
    assert found.category == "infrastructure"


class PhoneDriver:
    """Records the calls a phone would receive (push_file and activate_app need one)."""

    def __init__(self, fail_with=None):
        self.calls = []
        self.fail_with = fail_with

    def push_file(self, destination, source_path):
        if self.fail_with:
            raise self.fail_with
        self.calls.append(("push_file", destination, source_path))

    def activate_app(self, app_id):
        self.calls.append(("activate_app", app_id))


def backend_with(driver):
    backend = AppiumBackend(make_device(backend="appium", appium_url="http://127.0.0.1:4723"))
    backend.driver = driver
    backend.request = PostRequest("J-7", "@a", "/videos/clip 7.mp4", "cap")
    return backend


@pytest.mark.django_db
def test_push_file_sends_the_jobs_video_to_the_rendered_destination():
    driver = PhoneDriver()
    step = Step("push_file", options={"destination": "/sdcard/DCIM/{job_id}-{video_name}"})
    backend_with(driver).step_push_file(step)
    assert driver.calls == [("push_file", "/sdcard/DCIM/J-7-clip 7.mp4", "/videos/clip 7.mp4")]


@pytest.mark.django_db
def test_activate_app_starts_the_platforms_app():
    driver = PhoneDriver()
    backend_with(driver).step_activate_app(Step("activate_app", options={"app_id": "com.x"}))
    assert driver.calls == [("activate_app", "com.x")]


@pytest.mark.django_db
def test_an_adb_timeout_while_pushing_the_video_is_adb_timeout():
    error = WebDriverException(
        "An unknown server-side error occurred while processing the command. Original error: "
        "Error executing adbExec. Original error: 'Command '/opt/android/platform-tools/adb -P "
        "5037 -s R58M12345 push /videos/clip.mp4 /sdcard/DCIM/clip.mp4' timed out after 20000ms'"
    )
    backend = backend_with(PhoneDriver(fail_with=error))
    with pytest.raises(WebDriverException) as raised:
        backend.step_push_file(Step("push_file", options={"destination": "/sdcard/x.mp4"}))
    assert classify_exception(raised.value).error_type == "adb_timeout"
