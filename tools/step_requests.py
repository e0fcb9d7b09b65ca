"""Input requests of a job's steps: a job waits for input when it asks, or when one of its running steps asks.

A step (a sub-orchestration `<job_id>:...`) asks like a job does, through its own custom status
(orchestrations/job_status.py `request_input`): a swarm worker whose agent reached the job's budget asks
whether to raise it (orchestrations/usage/budget.py). Its parent cannot ask for it (a Durable orchestration
cannot write another's custom status, and the parent is waiting on its workers), so the job tools show the
step's request as the job's: `get_job` (and so MCP Tasks, elicitation and the job view) sees the job as
`waiting_for_input` with the step's request, `list_jobs` lists it so, and `send_job_input` delivers the
answer to every instance of the job that asks that event. The job's own request, when it has one, comes first.
"""
from __future__ import annotations

import asyncio
from typing import Any, Iterable, Optional

from orchestrations.job_status import event_data

from .job_steps import list_steps

RUNNING = ("Running",)
MAX_CONCURRENT_READS = 8


def _request(status: dict[str, Any]) -> Optional[dict[str, Any]]:
    custom = event_data(status.get("customStatus"))
    request = custom.get("input_request") if isinstance(custom, dict) else None
    return request if isinstance(request, dict) and status.get("runtimeStatus") == "Running" else None


def asking_step(steps: Iterable[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The first running step (by instance id) that asks for input, or None."""
    asking = [step for step in steps if _request(step) is not None]
    return min(asking, key=lambda step: str(step.get("instanceId"))) if asking else None


def with_step_request(job: dict[str, Any], steps: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The job's status payload, showing a running step's input request (and progress) as the job's when the
    job runs and asks nothing itself."""
    if job.get("runtimeStatus") != "Running" or _request(job) is not None:
        return job
    step = asking_step(steps)
    if step is None:
        return job
    own = event_data(job.get("customStatus"))
    asked = event_data(step["customStatus"])
    return {**job, "customStatus": {**(own if isinstance(own, dict) else {}), "progress": asked.get("progress"),
                                    "input_request": asked["input_request"]}}


async def instances_asking(client: Any, job_id: str, event: str) -> list[str]:
    """The ids of the job's running instances (itself and its steps) whose input request is `event`."""
    found = await list_steps(client, job_id, statuses=RUNNING, show_input=False, include_job=True)
    return [str(status["instanceId"]) for status in found if (_request(status) or {}).get("event") == event]


async def steps_asking(client: Any, job_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """For each of these running jobs, its running steps that ask for input (jobs without any are left out)."""
    limit = asyncio.Semaphore(MAX_CONCURRENT_READS)

    async def read(job_id: str) -> tuple[str, list[dict[str, Any]]]:
        async with limit:
            return job_id, await list_steps(client, job_id, statuses=RUNNING, show_input=False)

    asking: dict[str, dict[str, Any]] = {}
    for job_id, steps in await asyncio.gather(*(read(job_id) for job_id in job_ids)):
        step = asking_step(steps)
        if step is not None:
            asking[job_id] = step
    return asking
