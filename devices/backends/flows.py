"""Posting flows as data: one JSON file per platform, validated with messages that name the
file, the step and the field, so an operator adapts to an app's UI change without Python.

    {
      "platform": "tiktok",
      "steps": [
        {"action": "activate_app", "app_id": "com.zhiliaoapp.musically"},
        {"action": "push_file", "destination": "/sdcard/DCIM/fleetpost.mp4"},
        {"action": "tap", "locator": {"by": "id", "value": "upload"}, "timeout": 10},
        {"action": "verify_account", "locator": {"by": "id", "value": "handle"}},
        {"action": "type", "locator": {"by": "id", "value": "caption"}, "text": "{caption}"},
        {"action": "publish", "locator": {"by": "accessibility id", "value": "Post"}},
        {"action": "read_text", "locator": {"by": "id", "value": "share-url"}, "into": "post_url"}
      ],
      "verify_post": [{"action": "exists", "locator": {"by": "xpath", "value": "..."}}],
      "detectors": [{"type": "captcha", "text": "verify you are human"}],
      "cleanup": [{"action": "delete_file", "path": "/sdcard/DCIM/fleetpost.mp4"}]
    }

Text fields may use {caption}, {caption_start}, {account}, {job_id} and {video_name}; in an
XPath locator a placeholder stands for a whole string literal (see placeholders.py).
`cleanup` runs after every attempt, success or failure; its failures are only logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from devices.backends.placeholders import xpath_problems
from retries.taxonomy import ErrorCategory, types_of

LOCATOR_STRATEGIES = {"id", "accessibility id", "xpath", "class name"}
ACTIONS = {
    "activate_app": {"app_id"},
    "push_file": {"destination"},
    "tap": {"locator"},
    "type": {"locator", "text"},
    "wait_for": {"locator"},
    "read_text": {"locator", "into"},
    "expect_alert": {"contains"},
    "verify_account": {"locator"},
    "publish": {"locator"},
    "exists": {"locator"},
    "delete_file": {"path"},
    "back": set(),
}
# What verification and cleanup may do: look, and (cleanup) tidy up the phone.
LOOKING_ACTIONS = {"tap", "wait_for", "read_text", "exists", "activate_app", "back"}
CLEANUP_ACTIONS = {"delete_file", "tap", "wait_for", "back", "activate_app"}
OPTIONAL_FIELDS = {"timeout", "attribute", "accept", "name"}
# A detector recognises an account state on screen: the taxonomy's account types.
DETECTOR_TYPES = frozenset(str(t) for t in types_of(ErrorCategory.ACCOUNT))
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 300.0


class FlowError(Exception):
    """A flow file that cannot be used; `problems` name the file, step and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Locator:
    by: str
    value: str


@dataclass(frozen=True)
class Step:
    action: str
    locator: Locator | None = None
    timeout: float = DEFAULT_TIMEOUT
    options: dict = field(default_factory=dict)

    def describe(self) -> str:
        target = f" {self.locator.by}={self.locator.value!r}" if self.locator else ""
        return f"{self.options.get('name') or self.action}{target}"


@dataclass(frozen=True)
class Detector:
    error_type: str
    locator: Locator | None
    text: str


@dataclass(frozen=True)
class Flow:
    platform: str
    source: Path
    steps: tuple[Step, ...]
    verify_post: tuple[Step, ...]
    detectors: tuple[Detector, ...]
    cleanup: tuple[Step, ...] = ()

    @property
    def publish_index(self) -> int:
        """The position (0-based) of the publishing step in `steps`."""
        return next(i for i, s in enumerate(self.steps) if s.action == "publish")


def flow_dirs() -> list[Path]:
    return [Path(d) for d in settings.APPIUM_FLOW_DIRS]


def flow_platforms() -> list[str]:
    """The platforms that have a flow file, in name order."""
    return sorted(
        {path.stem for folder in flow_dirs() if folder.is_dir() for path in folder.glob("*.json")}
    )


def flow_path(platform: str) -> Path | None:
    for folder in flow_dirs():
        candidate = folder / f"{platform}.json"
        if candidate.is_file():
            return candidate
    return None


def load_flow(platform: str) -> Flow:
    path = flow_path(platform)
    if path is None:
        searched = ", ".join(str(d) for d in flow_dirs())
        raise FlowError([f"no flow file {platform}.json in {searched}"])
    return parse_flow(path)


def parse_flow(path: Path) -> Flow:
    """Read and validate a flow file; raises FlowError listing every problem."""
    name = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError([f"{name}: cannot be read: {exc}"]) from None
    except json.JSONDecodeError as exc:
        raise FlowError([f"{name}: not valid JSON (line {exc.lineno}): {exc.msg}"]) from None
    problems: list[str] = []
    if not isinstance(data, dict):
        raise FlowError([f"{name}: the flow must be a JSON object"])
    known = {"platform", "steps", "verify_post", "detectors", "cleanup", "description"}
    unknown = set(data) - known
    problems += [f"{name}: unknown field {key!r}" for key in sorted(unknown)]
    steps = _steps(name, "steps", data.get("steps"), problems, required=True)
    verify = _steps(name, "verify_post", data.get("verify_post", []), problems, required=False)
    cleanup = _steps(name, "cleanup", data.get("cleanup", []), problems, required=False)
    detectors = _detectors(name, data.get("detectors", []), problems)
    _check_structure(name, steps, verify, cleanup, problems)
    if problems:
        raise FlowError(problems)
    return Flow(
        platform=str(data.get("platform", path.stem)),
        source=path,
        steps=tuple(steps),
        verify_post=tuple(verify),
        detectors=tuple(detectors),
        cleanup=tuple(cleanup),
    )


def _check_structure(
    name: str, steps: list[Step], verify: list[Step], cleanup: list[Step], problems: list
) -> None:
    publishes = [i for i, s in enumerate(steps) if s.action == "publish"]
    if len(publishes) != 1:
        problems.append(
            f"{name}: steps: exactly one 'publish' step is needed, found {len(publishes)}"
        )
    checks = [i for i, s in enumerate(steps) if s.action == "verify_account"]
    if publishes and any(i > publishes[0] for i in checks):
        problems.append(f"{name}: steps: 'verify_account' must come before 'publish'")
    if any(s.action not in LOOKING_ACTIONS for s in verify):
        allowed = ", ".join(sorted(LOOKING_ACTIONS))
        problems.append(f"{name}: verify_post: may only look ({allowed})")
    if any(s.action not in CLEANUP_ACTIONS for s in cleanup):
        allowed = ", ".join(sorted(CLEANUP_ACTIONS))
        problems.append(f"{name}: cleanup: may only tidy up ({allowed})")
    if verify and verify[-1].action != "exists":
        problems.append(f"{name}: verify_post: the last step must be 'exists'")


def _steps(name: str, key: str, raw, problems: list, *, required: bool) -> list[Step]:
    if not isinstance(raw, list) or (required and not raw):
        problems.append(f"{name}: {key}: must be a {'non-empty ' if required else ''}list of steps")
        return []
    return [
        s for i, item in enumerate(raw, 1) if (s := _step(f"{name}: {key}[{i}]", item, problems))
    ]


def _step(where: str, raw, problems: list) -> Step | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object")
        return None
    action = raw.get("action")
    if action not in ACTIONS:
        problems.append(f"{where}: action: {action!r} is not one of {', '.join(sorted(ACTIONS))}")
        return None
    where = f"{where} ({action})"
    fields = set(raw) - {"action"}
    problems += [f"{where}: missing field {f!r}" for f in sorted(ACTIONS[action] - fields)]
    allowed = ACTIONS[action] | OPTIONAL_FIELDS
    problems += [f"{where}: unknown field {f!r}" for f in sorted(fields - allowed)]
    locator = _locator(where, raw["locator"], problems) if "locator" in raw else None
    timeout = raw.get("timeout", DEFAULT_TIMEOUT)
    if not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT:
        problems.append(f"{where}: timeout: must be seconds between 0 and {MAX_TIMEOUT:g}")
        timeout = DEFAULT_TIMEOUT
    if action == "read_text" and raw.get("into") not in ("post_url", "handle", "note"):
        problems.append(f"{where}: into: must be 'post_url', 'handle' or 'note'")
    options = {k: v for k, v in raw.items() if k not in ("action", "locator", "timeout")}
    return Step(action=action, locator=locator, timeout=float(timeout), options=options)


def _locator(where: str, raw, problems: list) -> Locator | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("value"), str) or not raw["value"]:
        problems.append(f"{where}: locator: needs 'by' and a non-empty 'value'")
        return None
    if raw.get("by") not in LOCATOR_STRATEGIES:
        strategies = ", ".join(sorted(LOCATOR_STRATEGIES))
        problems.append(f"{where}: locator.by: {raw.get('by')!r} is not one of {strategies}")
        return None
    if raw["by"] == "xpath":
        problems += [f"{where}: locator.value: {p}" for p in xpath_problems(raw["value"])]
    return Locator(raw["by"], raw["value"])


def _detectors(name: str, raw, problems: list) -> list[Detector]:
    if not isinstance(raw, list):
        problems.append(f"{name}: detectors: must be a list")
        return []
    detectors = []
    for i, item in enumerate(raw, 1):
        where = f"{name}: detectors[{i}]"
        if not isinstance(item, dict) or item.get("type") not in DETECTOR_TYPES:
            types = ", ".join(sorted(DETECTOR_TYPES))
            problems.append(f"{where}: type: must be one of {types}")
            continue
        locator = _locator(where, item["locator"], problems) if "locator" in item else None
        text = item.get("text", "")
        if not locator and not (isinstance(text, str) and text):
            problems.append(f"{where}: needs a 'locator' or a 'text'")
            continue
        detectors.append(Detector(item["type"], locator, text))
    return detectors
