"""The simulator: scripted outcomes, the checkpoint before the publish, the ledger."""

import pytest
from django.utils import timezone

from devices.backends import PostRequest, PrePostVerificationError
from devices.backends.simulator import SimulatorBackend
from devices.backends.simulator_config import validate_capabilities
from devices.models import PublishRecord
from tests.factories import make_device

pytestmark = pytest.mark.django_db


class RecordingHooks:
    def __init__(self):
        self.events = []

    def checkpoint(self):
        self.events.append(("checkpoint", PublishRecord.objects.count()))

    def log(self, message):
        self.events.append(("log", message))


def request(job_id="J1", attempt=1):
    return PostRequest(job_id, "@a", "/v.mp4", "hi", attempt_number=attempt)


def backend(**caps):
    return SimulatorBackend(make_device(capabilities=caps))


def test_a_script_gives_outcomes_in_attempt_order_then_success():
    sim = backend(script={"J1": ["adb_timeout", "captcha"]})
    assert [sim.choose_outcome(request(attempt=n)) for n in (1, 2, 3)] == [
        "adb_timeout",
        "captcha",
        "success",
    ]


def test_the_checkpoint_comes_before_the_publish_and_the_ledger_records_it():
    hooks = RecordingHooks()
    sim = backend()
    assert sim.post(request(), hooks) is True
    assert ("checkpoint", 0) in hooks.events
    assert PublishRecord.objects.filter(job_id="J1").count() == 1
    assert sim.was_published(request()) is True
    assert sim.was_published(request("J2")) is False


def test_the_ledger_row_of_a_post_is_the_one_the_orm_would_write():
    sim = backend()
    before = timezone.now()
    assert sim.post(request("J7", attempt=2), RecordingHooks()) is True
    row = PublishRecord.objects.get(job_id="J7")
    assert (row.device_name, row.account_handle, row.attempt_number, row.post_url) == (
        sim.device.name,
        "@a",
        2,
        "",
    )
    assert before <= row.published_at <= timezone.now()
    assert sim.post_url == f"https://example.invalid/@a/video/{row.pk}"


def test_failures_surface_the_way_a_device_reports_them():
    with pytest.raises(TimeoutError):
        backend(script={"J1": ["adb_timeout"]}).post(request(), RecordingHooks())
    with pytest.raises(ConnectionError):
        backend(script={"J1": ["connection_dropped"]}).post(request(), RecordingHooks())
    with pytest.raises(PrePostVerificationError):
        backend(script={"J1": ["verification_race"]}).post(request(), RecordingHooks())
    sim = backend(script={"J1": ["suspended"]})
    assert sim.post(request(), RecordingHooks()) is False
    assert "suspended" in sim.last_error_message
    assert PublishRecord.objects.count() == 0


def test_failure_rates_are_deterministic_per_job_and_attempt():
    sim = backend(failure_rates={"captcha": 0.5}, seed=3)
    outcomes = [sim.choose_outcome(request(f"J{n}")) for n in range(200)]
    assert outcomes == [sim.choose_outcome(request(f"J{n}")) for n in range(200)]
    assert 60 < outcomes.count("captcha") < 140


def test_an_unverifiable_simulator_cannot_tell():
    assert backend(verifiable=False).was_published(request()) is None


def test_a_hang_ends_when_the_session_is_torn_down():
    sim = backend(script={"J1": ["hang"]})
    sim.close()
    with pytest.raises(Exception, match="torn down"):
        sim.post(request(), RecordingHooks())


def test_capabilities_are_validated_key_by_key():
    assert validate_capabilities({"latency_ms": [5, 1], "failure_rates": {"captcha": 2}}) == [
        "latency_ms must be a number of milliseconds or a [low, high] pair",
        "failure_rates.captcha must be between 0 and 1",
        "failure_rates add up to more than 1",
    ]
    assert validate_capabilities({"script": {"J1": ["boom"]}}) == [
        "script.J1: unknown outcome 'boom'"
    ]
    assert validate_capabilities({"latency_ms": [1, 5], "seed": 1}) == []
