"""The simulator's configuration: the outcomes it can play and the check of its capabilities.

Apart from the backend, so the Device model can validate a simulator's capabilities without
importing the backend (which imports the models).
"""

from __future__ import annotations

from devices.backends.base import PrePostVerificationError

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
    "fail_unverifiable",  # fails after the tap, and the simulator cannot tell whether it posted
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
