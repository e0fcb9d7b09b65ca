"""Fan-out with progress: wait for a set of parallel steps, reporting each one finishing."""
from __future__ import annotations

from typing import Any, Generator

from orchestrations.job_status import set_progress
from orchestrations.usage.ledger import ledger_of


def finish_all(context: Any, tasks: list[Any], stage: str, noun: str = "workers") -> Generator[Any, Any, list[Any]]:
    """Wait until every task has finished (`task_any` over the ones still running), setting progress
    "`noun` N of M done" as each one does; returns the tasks, whose `result` is a value or an exception.
    A result's `usage` (a worker's roll-up) is added to the orchestration's ledger as it finishes."""
    total = len(tasks)
    set_progress(context, stage, f"{noun} 0 of {total} done", 0, total)
    running = list(tasks)
    while running:
        finished = yield context.task_any(running)
        running.remove(finished)
        if isinstance(finished.result, dict):
            ledger_of(context).add(finished.result.get("usage"))
        done = total - len(running)
        set_progress(context, stage, f"{noun} {done} of {total} done", done, total)
    return tasks
