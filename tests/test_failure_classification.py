"""The original task's mapping table and the two-level classifier."""

import pytest

from retries.classification import (
    classify_error,
    classify_exception,
    classify_message,
    classify_returned_false,
)
from retries.taxonomy import CATEGORY_OF_TYPE, ErrorCategory, ErrorType, is_known_pair


@pytest.mark.parametrize(
    ("exception", "category", "error_type"),
    [
        (TimeoutError("ADB timeout"), "infrastructure", "adb_timeout"),
        (ConnectionError("reset"), "infrastructure", "connection_dropped"),
        (ConnectionResetError("reset by peer"), "infrastructure", "connection_dropped"),
        (RuntimeError("Your account was suspended"), "account", "suspended"),
        (RuntimeError("Captcha required"), "account", "captcha"),
        (RuntimeError("You have been logged out"), "account", "loggedout"),
        (RuntimeError("Post returned False"), "infrastructure", "claude_stuck"),
        (ValueError("something nobody expected"), "unknown", ""),
    ],
)
def test_exceptions_map_as_in_the_original_table(exception, category, error_type):
    assert classify_exception(exception).as_pair() == (category, error_type)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("TimeoutError: ADB timeout", ("infrastructure", "adb_timeout")),
        ("Account suspended", ("account", "suspended")),
        ("Captcha required", ("account", "captcha")),
        ("Logged out", ("account", "loggedout")),
        ("Post returned False", ("infrastructure", "claude_stuck")),
        ("Pre-post verification failed: wrong account", ("infrastructure", "verification_race")),
        ("Too many requests, try again later", ("account", "rate_limited")),
        ("Video file not found", ("content", "media_missing")),
        ("adb: device 'emulator-5554' offline", ("infrastructure", "device_offline")),
        ("A new session could not be created", ("infrastructure", "appium_session")),
        ("the moon is in the wrong phase", ("unknown", "")),
    ],
)
def test_classify_error_returns_category_and_type_of_a_message(message, expected):
    assert classify_error(message) == expected


def test_the_matched_rule_is_reported():
    assert classify_message("Captcha required").rule == "message: captcha text"
    assert classify_exception(TimeoutError("x")).rule == "exception: builtins.TimeoutError"
    assert classify_message("???").rule == "unrecognised"


def test_an_unrecognised_message_of_a_backend_that_gave_up_is_claude_stuck():
    found = classify_returned_false("the upload spinner never stopped")
    assert found.as_pair() == ("infrastructure", "claude_stuck")


def test_a_recognised_message_of_a_backend_that_gave_up_keeps_its_type():
    assert classify_returned_false("Captcha required").as_pair() == ("account", "captcha")


def test_every_type_belongs_to_exactly_one_category():
    typed = {t for t in ErrorType.values if t}
    assert typed == set(CATEGORY_OF_TYPE)
    assert set(CATEGORY_OF_TYPE.values()) <= set(ErrorCategory.values)


def test_known_pairs_accept_success_and_unrecognised_and_refuse_mismatches():
    assert is_known_pair("", "")
    assert is_known_pair("unknown", "")
    assert is_known_pair("account", "suspended")
    assert not is_known_pair("infrastructure", "suspended")


def test_a_backend_exception_carries_its_type_and_the_rule_says_so():
    from devices.backends import AutomationStuck, PrePostVerificationError
    from retries.classification import classify_exception, describe_exception

    stuck = classify_exception(AutomationStuck("the post button never appeared"))
    assert (stuck.category, stuck.error_type) == ("infrastructure", "claude_stuck")
    assert stuck.rule == "exception carries claude_stuck"
    race = PrePostVerificationError("device shows @other")
    assert classify_exception(race).error_type == "verification_race"
    assert describe_exception(race) == "Pre-post verification failed: device shows @other"


def test_a_type_the_backend_detected_wins_over_its_wording():
    from retries.classification import classify_returned_false

    found = classify_returned_false("Please complete the security check", "captcha")
    assert (found.category, found.error_type, found.rule) == (
        "account",
        "captcha",
        "backend detected captcha",
    )
    assert classify_returned_false("Please complete the security check").error_type == (
        "claude_stuck"
    )
