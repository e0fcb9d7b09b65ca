"""The budget check of a model call, in the `run_model` activity (issue 19 §2; the rules are in budget.py).

It reads the job's instances - the job and every step `<job_id>:...`, one query of the management API's
instance list through the activity's durable client - and holds the call back when a limit is reached or
the job was stopped. A job's budget is in its input, which never changes: a job without one costs one read
of its input per process (`_job_budgets`), and nothing after.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any

from tools.job_steps import list_steps
from tools.job_timeline import parse_time

from .budget import INSTANCE_KEY, REACHED, verdict

MAX_CACHED_JOBS = 4096


_job_budgets: "OrderedDict[str, dict[str, Any] | None]" = OrderedDict()


def _as_object(value: Any) -> dict[str, Any]:
    """A job's input as an object: our launchers' spec (an object, or its JSON text), else {} (any other input
    has no budget: an orchestration written the Durable docs' way takes a plain string, "topic-0")."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


async def check(client: Any, job_id: str, now: datetime) -> dict[str, Any] | None:
    """The verdict that holds a model call of `job_id` back (a limit reached, or the job stopped), else None.
    `client` is the DurableOrchestrationClient of the run_model activity."""
    if job_id in _job_budgets:
        budget = _job_budgets[job_id]
        _job_budgets.move_to_end(job_id)
    else:  # a job's budget is in its input, which never changes
        status = await client.get_status(job_id, show_input=True)
        spec = _as_object(status.input_ if status is not None else None)
        budget = spec.get("budget") if isinstance(spec.get("budget"), dict) else None
        _job_budgets[job_id] = budget
        if len(_job_budgets) > MAX_CACHED_JOBS:
            _job_budgets.popitem(last=False)
    if budget is None:
        return None
    statuses = await list_steps(client, job_id, show_input=False, include_job=True)
    job = next((status for status in statuses if status.get("instanceId") == job_id), {})
    created = parse_time(job.get("createdTime")) or now
    result = verdict(budget, statuses, created, now)
    return result if result["reached"] or result["stopped"] else None


async def held_back(client: Any, activity_input: dict[str, Any]) -> str | None:
    """The `run_model` result that holds a call back (`{"budget_reached": verdict}` as JSON), or None to make it.
    The job is the first part of the calling instance's id (steps are `<job_id>:...`, orchestrations/step_ids.py)."""
    instance = activity_input.get(INSTANCE_KEY)
    if client is None or not isinstance(instance, str):
        return None
    found = await check(client, instance.split(":", 1)[0], datetime.now(timezone.utc))
    return json.dumps({REACHED: found}) if found else None
