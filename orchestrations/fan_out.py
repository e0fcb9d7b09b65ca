"""Fan-out with progress: wait for a set of parallel steps, reporting each one finishing."""
from __future__ import annotations

from typing import Any, Generator

from orchestrations.job_status import set_progress


def finish_all(context: Any, tasks: list[Any], stage: str, noun: str = "workers") -> Generator[Any, Any, list[Any]]:
    """Wait until every task has finished (`task_any` over the ones still running), setting progress
    "`noun` N of M done" as each one does; returns the tasks, whose `result` is a value or an exception."""
    total = len(tasks)
    set_progress(context, stage, f"{noun} 0 of {total} done", 0, total)
    running = list(tasks)
    while running:
        finished = yield context.task_any(running)
        running.remove(finished)
        done = total - len(running)
        set_progress(context, stage, f"{noun} {done} of {total} done", done, total)
    return tasks
