"""Idempotent launches: the same `idempotency_key` within 24 hours returns the same job (issue 8.8).

The job's instance id derives from the key, so this holds on every host without a table of keys:
`<workflow>-<sha256(workflow, key)[:32]>-<day>`, where `<day>` is the 24-hour period of the
launch since the Unix epoch. A launch looks for the job of its own period and of the period before
(kept only while it is younger than 24 hours), returns it when found, whatever its status (ended
jobs too: the caller asked for that job), and otherwise starts the job in its own period. A job
from an earlier window is never overwritten: a later window has another id.

Scoping: the key is hashed together with the workflow, so a key is never an instance id a caller
picks (nobody can pass another job's id as a key and get that job back), the id does not show the
key, and the same key names different jobs in different workflows. A key is a capability: whoever
sends it gets its job, so use an unguessable one (a UUID per logical request); since issue 20 a key is a
capability within one caller's jobs only (each signed-in caller's ids have their own prefix). Reusing a key for
a request with other arguments is refused, so a retried launch never silently gets another
request's job.
"""
from __future__ import annotations

import hashlib
import time
from typing import Any, Optional

from azure.durable_functions import DurableOrchestrationClient

from orchestrations.job_status import event_data

from .arguments import Arg, ToolError
from .caller import STARTED_BY, Caller

WINDOW_SECONDS = 24 * 3600
IDEMPOTENCY_ARG = Arg(
    "idempotency_key", "string",
    "Makes the launch safe to retry: the same key within 24 hours returns the same job instead of "
    "starting another. Use a new random key (a UUID) per request.", max_length=200)


def instance_id(workflow: str, key: str, period: int) -> str:
    digest = hashlib.sha256(f"{workflow}\n{key}".encode()).hexdigest()[:32]
    return f"{workflow}-{digest}-{period}"


async def _existing(client: DurableOrchestrationClient, job_id: str) -> Optional[Any]:
    status = await client.get_status(job_id, show_input=True)
    return status if status and status.instance_id else None


def _same_request(status: Any, spec: dict[str, Any]) -> bool:
    """The same arguments (who started it is in the id already; their display name may have changed)."""
    recorded = event_data(status.input_)  # the input arrives as JSON text or as a value
    if not isinstance(recorded, dict):
        return False
    return {k: v for k, v in recorded.items() if k != STARTED_BY} == {k: v for k, v in spec.items() if k != STARTED_BY}


async def start_once(client: DurableOrchestrationClient, orchestrator: str, workflow: str, spec: dict[str, Any],
                     key: str, caller: Caller, now: Optional[float] = None) -> str:
    """The id of the job for `key`: an existing one from the last 24 hours, or a newly started one. Keys
    are the caller's own: the id is in the caller's namespace (tools/caller.py), so another person's key
    names another job."""
    now = time.time() if now is None else now
    period = int(now // WINDOW_SECONDS)
    for candidate in (period, period - 1):
        job_id = caller.scoped_id(instance_id(workflow, key, candidate))
        status = await _existing(client, job_id)
        if status is None:
            continue
        created = status.created_time.timestamp() if status.created_time else now
        if candidate == period or now - created < WINDOW_SECONDS:
            if not _same_request(status, spec):
                raise ToolError(f"idempotency_key '{key}' was used for another {workflow} request (job {job_id}) "
                                f"with other arguments. Allowed: the same arguments again, or a new key.")
            return job_id
    job_id = caller.scoped_id(instance_id(workflow, key, period))
    try:
        return await client.start_new(orchestrator, job_id, spec)
    except Exception:  # a concurrent launch with the same key got there first
        if await _existing(client, job_id) is None:
            raise
        return job_id
