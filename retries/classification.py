"""Classify a failure into (category, type), keeping the rule that matched.

Exception types first, then message patterns, then unknown. The rules are data: add a row,
not an `if`. Third-party exception classes are named by their dotted path and matched against
the exception's MRO, so this layer imports neither Selenium nor urllib3.
"""

import re
from dataclasses import dataclass

from retries.taxonomy import CATEGORY_OF_TYPE, ErrorCategory, ErrorType, category_of


@dataclass(frozen=True)
class Classification:
    category: str
    error_type: str
    rule: str

    def as_pair(self) -> tuple[str, str]:
        return self.category, self.error_type


# (dotted class path, type). The first class found in the exception's MRO wins, so list
# subclasses before their bases.
EXCEPTION_RULES: tuple[tuple[str, str], ...] = (
    ("selenium.common.exceptions.InvalidSessionIdException", ErrorType.APPIUM_SESSION),
    ("selenium.common.exceptions.SessionNotCreatedException", ErrorType.APPIUM_SESSION),
    ("selenium.common.exceptions.NoSuchElementException", ErrorType.CLAUDE_STUCK),
    ("selenium.common.exceptions.TimeoutException", ErrorType.CLAUDE_STUCK),
    ("urllib3.exceptions.MaxRetryError", ErrorType.CONNECTION_DROPPED),
    ("urllib3.exceptions.NewConnectionError", ErrorType.CONNECTION_DROPPED),
    ("urllib3.exceptions.ProtocolError", ErrorType.CONNECTION_DROPPED),
    ("urllib3.exceptions.ReadTimeoutError", ErrorType.ADB_TIMEOUT),
    ("builtins.TimeoutError", ErrorType.ADB_TIMEOUT),
    ("builtins.ConnectionError", ErrorType.CONNECTION_DROPPED),
)

# (name, type, pattern), tried in order on the failure message, case-insensitively. The
# verification prefix is ours and comes first; account and content texts come before the
# generic infrastructure ones because a platform's banner is the more specific signal.
MESSAGE_RULES: tuple[tuple[str, str, str], ...] = (
    ("pre-post verification", ErrorType.VERIFICATION_RACE, r"pre-post verification failed"),
    ("suspended text", ErrorType.SUSPENDED, r"suspend|banned|account (was |has been )?disabled"),
    ("captcha text", ErrorType.CAPTCHA, r"captcha|verify (that )?you are (a )?human|puzzle"),
    (
        "logged-out text",
        ErrorType.LOGGEDOUT,
        r"logged out|log ?in again|sign ?in again|session expired|not logged in",
    ),
    (
        "rate-limit text",
        ErrorType.RATE_LIMITED,
        r"rate.?limit|too many (posts|requests|attempts)|try again later",
    ),
    (
        "missing media text",
        ErrorType.MEDIA_MISSING,
        r"no such file|(video|media) (file )?(not found|missing)|file not found",
    ),
    (
        "caption rejected text",
        ErrorType.CAPTION_REJECTED,
        r"caption (was )?(rejected|too long)|community guidelines",
    ),
    ("job timeout text", ErrorType.JOB_TIMEOUT, r"job timed out"),
    (
        "device offline text",
        ErrorType.DEVICE_OFFLINE,
        r"device (\S+ )?(is )?(offline|unauthorized|not (found|connected))"
        r"|no (connected )?(android )?devices?|could not find a connected"
        r"|not in the list of connected devices",
    ),
    (
        "adb timeout text",
        ErrorType.ADB_TIMEOUT,
        r"timeouterror|adb[\s\S]{0,300}?tim(ed|e) ?out|timed out waiting",
    ),
    (
        "appium session text",
        ErrorType.APPIUM_SESSION,
        r"session (could not be created|not created|is terminated|does not exist)"
        r"|invalid session id|new session could not be created"
        r"|session is either terminated or not started",
    ),
    (
        "connection text",
        ErrorType.CONNECTION_DROPPED,
        r"connectionerror|connection (reset|refused|aborted|dropped|closed)|broken pipe"
        r"|max retries exceeded|remote end closed",
    ),
    ("post returned false", ErrorType.CLAUDE_STUCK, r"post returned false"),
)

_COMPILED_MESSAGE_RULES = tuple(
    (name, error_type, re.compile(pattern, re.IGNORECASE))
    for name, error_type, pattern in MESSAGE_RULES
)

WEBDRIVER_EXCEPTION = "selenium.common.exceptions.WebDriverException"
SERVER_REPORTED_TYPES = frozenset({ErrorType.DEVICE_OFFLINE, ErrorType.ADB_TIMEOUT})

UNRECOGNISED = Classification(ErrorCategory.UNKNOWN, ErrorType.NONE, "unrecognised")


def classify_message(message: str) -> Classification:
    """Classify a failure message by pattern; unrecognised is ('unknown', '')."""
    for name, error_type, pattern in _COMPILED_MESSAGE_RULES:
        if pattern.search(message or ""):
            return Classification(category_of(error_type), error_type, f"message: {name}")
    return UNRECOGNISED


def classify_error(message: str) -> tuple[str, str]:
    """The legacy tracker's `_classify_error`: (category, error_type) of a message."""
    return classify_message(message).as_pair()


def classify_exception(exc: BaseException) -> Classification:
    """Classify an exception: its type first, then its message, then unknown.

    An Appium server wraps the device's own errors (adb timeouts, a phone that went away) in
    generic WebDriver exceptions; their message names the real cause, so it is read first.
    """
    carried = getattr(exc, "error_type", "")
    if carried in CATEGORY_OF_TYPE:  # a backend's own exception says what it is
        return Classification(category_of(carried), carried, f"exception carries {carried}")
    names = [f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__]
    if WEBDRIVER_EXCEPTION in names:
        found = classify_message(describe_exception(exc))
        if found.error_type in SERVER_REPORTED_TYPES:
            return Classification(
                found.category, found.error_type, f"server-reported: {found.rule}"
            )
    for dotted, error_type in EXCEPTION_RULES:
        if dotted in names:
            return Classification(category_of(error_type), error_type, f"exception: {dotted}")
    return classify_message(describe_exception(exc))


def classify_returned_false(message: str, known_type: str = "") -> Classification:
    """Classify a backend that returned False: by the type it recognised (a detector's), else
    by its message. The automation ran and gave up, so an unrecognised message is
    claude_stuck, not unknown."""
    if known_type in CATEGORY_OF_TYPE:
        return Classification(category_of(known_type), known_type, f"backend detected {known_type}")
    found = classify_message(message)
    if found is UNRECOGNISED:
        return Classification(
            ErrorCategory.INFRASTRUCTURE, ErrorType.CLAUDE_STUCK, "returned False, unrecognised"
        )
    return found


def describe_exception(exc: BaseException) -> str:
    """The legacy "Type: message" form of an exception, without a server's stack trace.

    Selenium appends the Appium server's whole stack trace to the message; it belongs in the
    attempt's log (see `server_stacktrace`), not in the job's error an operator reads.
    """
    message = getattr(exc, "msg", None) if hasattr(exc, "stacktrace") else None
    if message is None:
        message = str(exc)
    message = _STACKTRACE_BLOCK.split(str(message), maxsplit=1)[0].strip()
    summary = getattr(exc, "summary", "") or type(exc).__name__
    return f"{summary}: {message}"


def server_stacktrace(exc: BaseException) -> str:
    """The stack trace an Appium server sent with an error ('' when there is none)."""
    lines = getattr(exc, "stacktrace", None)
    if lines:
        return "\n".join(lines) if not isinstance(lines, str) else lines
    parts = _STACKTRACE_BLOCK.split(str(exc), maxsplit=1)
    return parts[1].strip() if len(parts) == 2 else ""


_STACKTRACE_BLOCK = re.compile(r"^Stacktrace:\s*$", re.MULTILINE)
