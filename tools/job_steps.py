"""A job's steps as Durable instances: every sub-orchestration whose id starts with `<job_id>:`.

The workflows name each child `<parent id>:<label>-<suffix>` (orchestrations/step_ids.py), so one
`instanceIdPrefix` query of the management API's instance list finds all of a job's steps, at any
depth, on either host (read through tools/instances.py: the SDK has no method for that filter).

Canceling: Durable's terminate does not reach sub-orchestrations ("Terminating an orchestration
instance has no effect on any in-flight activity function executions or sub-orchestrations",
IDurableOrchestrationClient.TerminateAsync remarks; the local host does the same), so a canceled
swarm's workers would go on calling the model. `cancel_steps` terminates them.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Optional

from .instances import instance_page

PAGE_SIZE = 100
MAX_PAGES = 20
LIVE_STATUSES = ("Pending", "Running", "Suspended")
SWEEP_INTERVAL_SECONDS = 0.2


async def list_steps(client: Any, job_id: str, *, statuses: Optional[tuple[str, ...]] = None,
                     show_input: bool = True, include_job: bool = False) -> list[dict[str, Any]]:
    """Status payloads (management API shape) of the job's sub-orchestrations (and of the job itself with
    `include_job`), at most PAGE_SIZE * MAX_PAGES of them; `statuses` filters by runtimeStatus. Raises
    BackendUnavailable when the management API does not answer (tools/instances.py)."""
    params = {"instanceIdPrefix": job_id if include_job else f"{job_id}:",
              "showInput": "true" if show_input else "false", "top": str(PAGE_SIZE)}
    if statuses:
        params["runtimeStatus"] = ",".join(statuses)
    found: list[dict[str, Any]] = []
    token = None
    for _ in range(MAX_PAGES):
        page, token = await instance_page(client, params, token, "Listing the job's steps failed")
        found += [status for status in page if not include_job or status.get("instanceId") == job_id
                  or str(status.get("instanceId")).startswith(f"{job_id}:")]
        if not token:
            break
    return found


async def cancel_steps(client: Any, job_id: str, reason: str, wait: float) -> list[str]:
    """Terminate every live step of `job_id` (call it once the job itself is terminated, so that it
    starts no more); returns the ids of the steps that were still live.

    Terminate requests are queued, and a step may start steps of its own before its request is
    applied, so the steps are listed again until none is live or `wait` seconds pass; each step is
    asked once."""
    deadline = time.monotonic() + wait
    asked: set[str] = set()
    while True:
        live = [step["instanceId"] for step in await list_steps(client, job_id, statuses=LIVE_STATUSES,
                                                                show_input=False)]
        if not live or time.monotonic() >= deadline:
            return sorted(asked)
        for instance_id in live:
            if instance_id not in asked:
                asked.add(instance_id)
                await client.terminate(instance_id, reason)
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)

