"""Rules every input path applies: the CSV import, the admin's forms and the reviews.

One definition each, so a value the import refuses is refused by the admin too, with the same
words, and nothing out of range reaches the database (where SQLite would store it and
PostgreSQL would answer with a traceback).
"""

from __future__ import annotations

import functools
import os
import re
import stat
import unicodedata
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import Field

# Times are stored in UTC; the range leaves room for the retry and pacing arithmetic done on
# them (a year-9999 date plus a backoff would overflow Python's datetime).
EARLIEST_MOMENT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(9999, 1, 1, tzinfo=UTC)


class InvalidValue(ValueError):
    """A value no input path may store; the message says why, for the operator."""


def refuse_nul(value: str) -> str:
    """PostgreSQL cannot store NUL in text and SQLite would keep it silently: refuse it."""
    if "\x00" in value:
        raise InvalidValue("contains a NUL byte (\\x00)")
    return value


def moment_in_range(value: datetime) -> datetime:
    """The same instant in UTC, refused when it leaves the supported range."""
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST_MOMENT <= in_utc < LATEST_MOMENT:
        raise InvalidValue(
            f"{value.isoformat()} is outside the supported range (1970-01-01 to 9998-12-31 UTC)"
        )
    return in_utc


def integer_bounds(field: Field) -> tuple[int, int]:
    """The range every supported database stores for this integer field."""
    low, high = BaseDatabaseOperations.integer_field_ranges[field.get_internal_type()]
    return low, high


def integer_in_column(value: int, field: Field, minimum: int | None = None) -> int:
    """`value` if the column can hold it (and it is at least `minimum`)."""
    low, high = integer_bounds(field)
    if minimum is not None:
        low = max(low, minimum)
    if value < low:
        raise InvalidValue(f"must be at least {low}, not {value}")
    if value > high:
        raise InvalidValue(f"must be at most {high}, not {value}")
    return value


def video_root() -> str:
    return str(os.path.realpath(settings.VIDEO_ROOT))


def resolve_video_path(value: str, root: str | None = None) -> str:
    """An absolute path as given (normalised); a relative one inside VIDEO_ROOT, never outside.

    Workers resolve the stored text as it is, so a relative path stored raw would resolve
    against whichever directory a worker runs in. Symbolic links are followed before the
    check: a link inside the root that points out of it does not make its target postable.
    """
    refuse_nul(value)
    if os.path.isabs(value):
        return os.path.normpath(value)
    root = root or video_root()
    path = os.path.normpath(os.path.join(root, value))
    if not path.startswith(root + os.sep) or not os.path.realpath(path).startswith(root + os.sep):
        raise InvalidValue(f"{value!r} leaves the video root {root}")
    return path


class VideoPathResolver:
    """`resolve_video_path` for many rows: the same answers, with each directory looked up once.

    `os.path.realpath` looks up every component of every path, most of them the video root's
    and a few shared directories' (a third of a 100,000-row import went there). Here a directory
    as written in the file is normalised and resolved once; the file itself is still checked on
    every row, since a link inside the root that points out of it is refused. The memory is
    bounded by `directories`.
    """

    def __init__(self, root: str, directories: int = 4096) -> None:
        self.root = root
        self._inside = root + os.sep
        self._directory = functools.lru_cache(maxsize=directories)(self._directory_of)

    def resolve(self, value: str) -> str:
        """What `resolve_video_path(value, root)` returns, or the InvalidValue it raises."""
        head, _, name = value.rpartition(os.sep)
        if "\x00" in value or value.startswith(os.sep) or name in ("", ".", ".."):
            return resolve_video_path(value, self.root)
        # normpath keeps a last component that is a plain name as it is, so only the
        # directory part needs normalising.
        prefix, real_prefix = self._directory(head)
        path = prefix + name
        # realpath resolves component by component: a last component that is not a link (or
        # does not exist) keeps its name after its directory's real path.
        real = os.path.realpath(path) if _is_link(path) else real_prefix + name
        if not path.startswith(self._inside) or not real.startswith(self._inside):
            raise InvalidValue(f"{value!r} leaves the video root {self.root}")
        return path

    def _directory_of(self, head: str) -> tuple[str, str]:
        """The normalised directory, and its real path, each ending in a separator."""
        directory = os.path.normpath(os.path.join(self.root, head))
        return os.path.join(directory, ""), os.path.join(os.path.realpath(directory), "")


def _is_link(path: str) -> bool:
    """os.path.islink without its wrappers (one call per imported row)."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


# Characters no identifier (job id, account handle) may hold: controls and line breaks would
# forge lines in logs and exports; format characters (zero-width spaces, direction marks)
# make two ids look alike or an id look empty.
_FORBIDDEN_IN_IDENTIFIERS = {"Cc", "Cf", "Zl", "Zp"}


def identifier(value: str) -> str:
    """A job id or account handle: printable, visible text."""
    if value.isprintable():
        # Every forbidden category is outside what isprintable() accepts: nothing to find.
        return value
    for char in value:
        if unicodedata.category(char) in _FORBIDDEN_IN_IDENTIFIERS:
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            raise InvalidValue(f"contains an invisible or control character ({name})")
    return value


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


def whole_number(text: str) -> int:
    """ASCII digits with an optional sign: Python's int() would also take '1_000' and '٣'."""
    if not _WHOLE_NUMBER.fullmatch(text) or len(text) > 20:
        raise InvalidValue(f"{text[:40]!r} is not a whole number")
    return int(text)


def checked_post_url(value: str, max_length: int) -> str:
    """A post URL an operator gives: http(s) only, so the console never links a script."""
    value = refuse_nul(value.strip())
    if not value:
        return value
    if len(value) > max_length:
        raise InvalidValue(f"is longer than {max_length} characters")
    parts = urlsplit(value)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    plain = not any(c.isspace() or unicodedata.category(c) == "Cc" for c in value)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or not port_ok
        or not plain
    ):
        raise InvalidValue(f"{value[:80]!r} is not an http(s) address")
    return value
