"""Flow files: validated with messages that name the file, the step and the field."""

import json

import pytest

from devices.backends.flows import FlowError, parse_flow
from devices.checks import check_flow_files


def write(tmp_path, data, name="demo.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def problems(tmp_path, data):
    with pytest.raises(FlowError) as error:
        parse_flow(write(tmp_path, data))
    return error.value.problems


PUBLISH = {"action": "publish", "locator": {"by": "id", "value": "post"}}


def test_the_shipped_flows_are_valid(settings):
    assert check_flow_files(None) == []


def test_each_problem_names_the_file_step_and_field(tmp_path):
    found = problems(
        tmp_path,
        {
            "steps": [
                {"action": "tap"},
                {"action": "type", "locator": {"by": "css", "value": "x"}, "text": "{caption}"},
                {"action": "wiggle"},
                {"action": "tap", "locator": {"by": "id", "value": "go"}, "timeout": -1},
                PUBLISH,
            ],
            "detectors": [{"type": "banned", "text": "x"}, {"type": "captcha"}],
        },
    )
    assert found == [
        "demo.json: steps[1] (tap): missing field 'locator'",
        "demo.json: steps[2] (type): locator.by: 'css' is not one of accessibility id, class "
        "name, id, xpath",
        "demo.json: steps[3]: action: 'wiggle' is not one of activate_app, back, delete_file, "
        "exists, expect_alert, publish, push_file, read_text, tap, type, verify_account, wait_for",
        "demo.json: steps[4] (tap): timeout: must be seconds between 0 and 300",
        "demo.json: detectors[1]: type: must be one of captcha, loggedout, rate_limited, suspended",
        "demo.json: detectors[2]: needs a 'locator' or a 'text'",
    ]


def test_a_flow_needs_exactly_one_publish_after_the_account_check(tmp_path):
    check = {"action": "verify_account", "locator": {"by": "id", "value": "me"}}
    assert problems(tmp_path, {"steps": [check]}) == [
        "demo.json: steps: exactly one 'publish' step is needed, found 0"
    ]
    assert problems(tmp_path, {"steps": [PUBLISH, check]}) == [
        "demo.json: steps: 'verify_account' must come before 'publish'"
    ]


def test_verification_steps_only_look_and_end_with_exists(tmp_path):
    found = problems(tmp_path, {"steps": [PUBLISH], "verify_post": [PUBLISH]})
    assert found == [
        "demo.json: verify_post: may only look (activate_app, back, exists, read_text, tap, "
        "wait_for)",
        "demo.json: verify_post: the last step must be 'exists'",
    ]


def test_cleanup_steps_only_tidy_up(tmp_path):
    found = problems(tmp_path, {"steps": [PUBLISH], "cleanup": [PUBLISH]})
    assert found == [
        "demo.json: cleanup: may only tidy up (activate_app, back, delete_file, tap, wait_for)"
    ]


def test_an_xpath_placeholder_must_be_a_whole_string(tmp_path):
    step = {"action": "exists", "locator": {"by": "xpath", "value": "//*[@text='#{caption}']"}}
    found = problems(tmp_path, {"steps": [PUBLISH], "verify_post": [step]})
    assert found == [
        "demo.json: verify_post[1] (exists): locator.value: the string '#{caption}' mixes a "
        "placeholder with other text; a placeholder must be a whole string, e.g. "
        "contains(@text, {caption})"
    ]


def test_detectors_know_every_account_type_and_report_it_back():
    from devices.backends.appium import detected_message
    from devices.backends.flows import DETECTOR_TYPES
    from retries.classification import classify_returned_false
    from retries.taxonomy import CATEGORY_OF_TYPE

    account_types = {t for t, c in CATEGORY_OF_TYPE.items() if c == "account"}
    assert account_types == DETECTOR_TYPES
    for error_type in DETECTOR_TYPES:
        assert classify_returned_false(detected_message(error_type)).error_type == error_type


def test_broken_json_names_the_line(tmp_path):
    assert problems(tmp_path, '{"steps": [\n  {"action": "tap",}\n]}')[0].startswith(
        "demo.json: not valid JSON (line 2)"
    )


def test_the_system_check_reports_a_broken_flow_file(tmp_path, settings):
    write(tmp_path, {"steps": []}, name="broken.json")
    settings.APPIUM_FLOW_DIRS = [str(tmp_path)]
    messages = [e.msg for e in check_flow_files(None)]
    assert messages == [
        f"{tmp_path}/broken.json: steps: must be a non-empty list of steps",
        f"{tmp_path}/broken.json: steps: exactly one 'publish' step is needed, found 0",
    ]
