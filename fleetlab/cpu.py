"""CPU seconds used by a whole process tree, read from /proc (Linux).

A cluster is its master and every process it forked (sentinel, pusher, monitor, workers),
all in the session the master leads. A process that ended and was reaped inside the session
is counted in its parent's children's time, so summing user, system and children's time over
the session's live processes counts every process that ever ran in it, each once.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def session_cpu_seconds(session_id: int) -> float:
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended while we looked
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        fields = text[text.rindex(")") + 2 :].split()
        # fields[0] is field 3 (state): session is field 6, utime..cstime fields 14-17.
        if int(fields[3]) == session_id:
            total += sum(int(v) for v in fields[11:15])
    return total / _TICKS


def session_processes(session_id: int) -> int:
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[3]) == session_id:
            count += 1
    return count
