"""Fault injection for crash tests, off by default: `APP_CRASH_POINTS=write_file,merge,checks` makes the
process SIGKILL itself the first time it reaches each named point (a marker file under
`APP_DATA_DIR/crash-points/` remembers it, so the restarted host runs on). Used by the code swarm's
SIGKILL tests to crash at an exact step: after a worker's file is written but before the activity's
completion is recorded, after a merge result is stored, while the checks run."""
from __future__ import annotations

import os
import signal

from orchestrations.app_data.storage import storage_settings

CRASH_POINTS_ENV = "APP_CRASH_POINTS"


def crash_point(name: str) -> None:
    """SIGKILL this process here, once, when `name` is listed in `APP_CRASH_POINTS`."""
    if name not in os.environ.get(CRASH_POINTS_ENV, "").split(","):
        return
    marker = storage_settings().data_dir / "crash-points" / name
    if marker.exists():
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("crashed here once\n")
    os.kill(os.getpid(), signal.SIGKILL)
