"""The CSV columns Fleetpost reads and writes, and the spreadsheet-formula guard."""

import re

# The legacy progress tracker's columns, in its order (DESIGN.md "Public entry points").
LEGACY_COLUMNS = [
    "job_id",
    "account",
    "video_path",
    "caption",
    "status",
    "worker_id",
    "claimed_at",
    "completed_at",
    "error",
    "attempts",
    "max_attempts",
    "retry_at",
    "error_type",
    "error_category",
    "pass_number",
]
# Newer columns follow the legacy ones in an export.
NEWER_COLUMNS = ["device", "scheduled_at", "priority", "post_url", "platform"]
EXPORT_COLUMNS = LEGACY_COLUMNS + NEWER_COLUMNS

REQUIRED_COLUMNS = ["job_id", "account", "video_path", "caption"]
KNOWN_COLUMNS = frozenset(EXPORT_COLUMNS)

# A cell a spreadsheet would run as a formula gets a leading apostrophe on export. Spreadsheets
# trim leading blanks (spaces, no-break and zero-width spaces) before they look for the formula
# sign, so those count too. Cells that already start with apostrophes before such a character
# get one more, so that import, which removes exactly one, gives back the original text.
_DANGEROUS = re.compile(r"^'*[\s\u200b\ufeff]*[=+\-@\t\r]")


def escape_cell(value: str) -> str:
    return "'" + value if _DANGEROUS.match(value) else value


def unescape_cell(value: str) -> str:
    if value.startswith("'") and _DANGEROUS.match(value[1:]):
        return value[1:]
    return value
