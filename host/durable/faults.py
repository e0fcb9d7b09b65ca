"""Fault injection for crash tests: off unless the environment names a crash point.

`LOCAL_HOST_CRASH_AT=<point>` makes the host kill itself with SIGKILL when it reaches that point, as a power
cut would (tests/test_crash.py). Points: `rewind:history-rewritten` (inside the rewind transaction, between
rewriting the history and re-arming the work it left to do).
"""
from __future__ import annotations

import os
import signal

CRASH_AT = "LOCAL_HOST_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)
