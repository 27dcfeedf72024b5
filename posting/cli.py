"""Helpers the management commands share."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from posting.models import FleetControl
from posting.progress import active_pauses


@contextlib.contextmanager
def quiet_broken_pipe() -> Iterator[None]:
    """`progress | head` closes the pipe early: stop writing, without a traceback.

    Standard output is pointed at /dev/null so the interpreter's final flush cannot fail again
    (the recipe of Python's signal module documentation).
    """
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def pause_lines() -> list[str]:
    """What is paused, one line each, for commands that start or report work."""
    lines = []
    if FleetControl.is_paused():
        lines.append("The fleet is paused: no new attempts start (resume it on the dashboard)")
    lines += [f"Paused: {pause['text']}" for pause in active_pauses()]
    return lines
