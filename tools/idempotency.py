"""Idempotent launches: the same `idempotency_key` within 24 hours returns the same job (issue 8.8), also when
launches race (issue 21 §1.4).

The Durable client cannot lock, on Azure either: two launches with one key can both look, both find nothing and
both start. And starting an instance id that exists replaces an instance that has ended; only a live one is
refused (the extension's default `overridableExistingInstanceStates`, NonRunningStates: release notes of
azure-functions-durable-extension v1.16.0-worker-extension; the local host does the same). With an id derived
from the key alone, a launch racing another with other arguments was refused as a duplicate and then handed the
first job without its arguments being compared (the two shared one job), or replaced a job that had just ended.

So that no race can win, the instance id derives from the key and the arguments:
`<workflow>-<sha256(workflow, key)[:32]>-<sha256(arguments)[:16]>-<day>`, `<day>` the 24-hour period of the
launch since the Unix epoch.

- Two requests with other arguments never name the same instance, so neither can be handed, nor replace, the
  other's job; the same request sent again names the same instance (a live duplicate is refused by the backend
  and the launch returns that job).
- A launch first reads the key's jobs by their common id prefix (`<workflow>-<sha256(workflow, key)[:32]>-`, the
  management API's `instanceIdPrefix`): it returns the one of the last 24 hours started with the same arguments
  (whatever its status: the caller asked for that job), refuses when there is one with other arguments, and
  otherwise starts its own.
- Then, as no lock orders two launches that passed the first read at the same instant, the launch that started
  the job reads the key's jobs again and decides, once, whether its job stands: it withdraws (its job is
  terminated and purged, the launch refused) when the key also has another request's job that is accepted or
  earlier (by creation time, then id); when the other ones are later it waits until they withdraw (at most
  `RACE_SECONDS`, then it withdraws). A job that stands is marked accepted (the `job_data` step
  `<job id>~accepted`), and a launch that found the job started by another launch of the same request returns
  it once it is marked (or refuses once it is withdrawn), so the launches of one request never disagree. Each
  launch reads after its own start was committed, so of two racing launches at least one sees the other: at
  most one request is ever accepted for a key, whatever order the backend dates the starts in. A withdrawn job
  may have begun its first step; nothing of it remains.

Scoping: the key is hashed together with the workflow, so a key is never an instance id a caller picks (nobody
can pass another job's id as a key and get that job back), the id does not show the key, and the same key names
different jobs in different workflows. A key is a capability: whoever sends it gets its job, so use an
unguessable one (a UUID per logical request); since issue 20 a key is a capability within one caller's jobs only:
every id above is in the caller's namespace (`Caller.scoped_id`, tools/caller.py: a signed-in caller's ids begin
with their owner tag), so another person's key names other jobs, and the launch's reads see only the caller's.
Who started a job (`started_by` in its input) is not part of its arguments: it is in the id already, and a
display name may change. A job from an earlier period is never overwritten: a later period
has another id.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from datetime import datetime, timezone
from typing import Any, Optional

from azure.durable_functions import DurableOrchestrationClient

from orchestrations.job_status import JOB_DATA, event_data

from .arguments import Arg, ToolError
from .caller import STARTED_BY, Caller
from .instances import instance_page
from .job_timeline import parse_time

WINDOW_SECONDS = 24 * 3600
JOB_SUFFIX = re.compile(r"[0-9a-f]{16}-[0-9]+")  # what follows the key prefix in a job's id (not a step's: `:`)
RACE_SECONDS = 10.0  # how long a launch that raced waits for the other job to withdraw, or for its own to end
DECIDED_SECONDS = 3 * RACE_SECONDS  # a job this old was decided on (an older one carries no mark: issue 8.8 ids)
POLL_SECONDS = 0.1
ACCEPTED = "~accepted"  # `<job id>~accepted`: a job_data step marking a job its launch accepted (not `<job id>:`,
# the prefix of the job's own steps)
IDEMPOTENCY_ARG = Arg(
    "idempotency_key", "string",
    "Makes the launch safe to retry: the same key within 24 hours returns the same job instead of "
    "starting another. Use a new random key (a UUID) per request.", max_length=200)


def key_prefix(workflow: str, key: str, caller: Caller) -> str:
    """What the ids of every job of `caller`'s `key` start with."""
    digest = hashlib.sha256(f"{workflow}\n{key}".encode()).hexdigest()[:32]
    return caller.scoped_id(f"{workflow}-{digest}-")


def _arguments(spec: Any) -> Any:
    """The request's arguments: the launch's spec without who started it."""
    return {k: v for k, v in spec.items() if k != STARTED_BY} if isinstance(spec, dict) else spec


def instance_id(workflow: str, key: str, spec: dict[str, Any], period: int, caller: Caller) -> str:
    arguments = json.dumps(_arguments(spec), sort_keys=True, separators=(",", ":"), default=str)
    return f"{key_prefix(workflow, key, caller)}{hashlib.sha256(arguments.encode()).hexdigest()[:16]}-{period}"


async def _jobs_of_key(client: DurableOrchestrationClient, workflow: str, key: str, caller: Caller,
                       now: float) -> list[dict[str, Any]]:
    """The caller's key's jobs created in the 24 hours before `now`, with their input. The id prefix also selects
    the jobs' steps (`<job id>:<step>`) and accepted marks, which are left out: every page is read, as a job
    with many steps can fill several before another request's job."""
    jobs: list[dict[str, Any]] = []
    prefix = key_prefix(workflow, key, caller)
    since = datetime.fromtimestamp(now - WINDOW_SECONDS, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = {"instanceIdPrefix": prefix, "createdTimeFrom": since, "showInput": "true"}
    token = None
    while True:
        page, token = await instance_page(client, params, token, "The idempotency_key's jobs could not be read")
        jobs += [job for job in page if JOB_SUFFIX.fullmatch(str(job.get("instanceId", ""))[len(prefix):])]
        if not token:
            break
    return jobs


def _created(job: dict[str, Any], default: float) -> float:
    """When the job was created (seconds since the epoch), from a status payload or the SDK's status."""
    created = job.get("createdTime")
    if isinstance(created, datetime):
        return created.timestamp() if created.tzinfo else created.replace(tzinfo=timezone.utc).timestamp()
    parsed = parse_time(created)  # Azure writes up to 7 fractional digits
    return parsed.timestamp() if parsed is not None else default


def _same_request(job: dict[str, Any], spec: dict[str, Any]) -> bool:
    return _arguments(event_data(job.get("input"))) == _arguments(spec)  # the input: JSON text or a value


def _refusal(key: str, workflow: str, other: dict[str, Any]) -> ToolError:
    return ToolError(f"idempotency_key '{key}' was used for another {workflow} request (job {other.get('instanceId')}) "
                     f"with other arguments. Allowed: the same arguments again, or a new key.")


async def start_once(client: DurableOrchestrationClient, orchestrator: str, workflow: str, spec: dict[str, Any],
                     key: str, caller: Caller, now: Optional[float] = None) -> str:
    """The id of the job for `key` and these arguments: an existing one from the last 24 hours, or a newly
    started one; `ToolError` when the key belongs to a request with other arguments (see the module docstring)."""
    now = time.time() if now is None else now
    jobs = sorted(await _jobs_of_key(client, workflow, key, caller, now), key=lambda job: _order(job, now))
    same = [job for job in jobs if _same_request(job, spec)]
    if same:
        return await _decided(client, same[0], key, workflow)
    if jobs:
        raise _refusal(key, workflow, jobs[0])
    job_id = instance_id(workflow, key, spec, int(now // WINDOW_SECONDS), caller)
    try:
        await client.start_new(orchestrator, job_id, spec)
    except Exception:  # another launch of this request started it a moment ago, and it is live
        status = await client.get_status(job_id)
        if not status.instance_id:
            raise
        return await _decided(client, {"instanceId": job_id, "createdTime": status.created_time}, key, workflow)
    rival = await _rival(client, workflow, key, caller, spec, job_id, now)
    if rival is not None:
        await _withdraw(client, job_id)
        raise _refusal(key, workflow, rival)
    await client.start_new(JOB_DATA, job_id + ACCEPTED, {"accepted": job_id})
    return job_id


def _order(job: dict[str, Any], now: float) -> tuple[float, str]:
    return _created(job, now), str(job.get("instanceId") or "")


async def _accepted(client: DurableOrchestrationClient, job_id: str) -> bool:
    return bool((await client.get_status(job_id + ACCEPTED)).instance_id)


async def _rival(client: DurableOrchestrationClient, workflow: str, key: str, caller: Caller,
                 spec: dict[str, Any], job_id: str, now: float) -> Optional[dict[str, Any]]:
    """After starting `job_id`: the key's job of another request that this launch gives way to, or None when
    there is none, or when the only ones are later and withdraw within `RACE_SECONDS` (module docstring)."""
    deadline = time.monotonic() + RACE_SECONDS
    while True:
        jobs = await _jobs_of_key(client, workflow, key, caller, now)
        mine = next((job for job in jobs if job.get("instanceId") == job_id), None)
        others = sorted((job for job in jobs if not _same_request(job, spec)), key=lambda job: _order(job, now))
        if not others:
            return None
        if mine is None or _order(others[0], now) < _order(mine, now) or time.monotonic() >= deadline:
            return others[0]
        for other in others:
            if await _accepted(client, str(other.get("instanceId"))):
                return other
        await asyncio.sleep(POLL_SECONDS)


async def _decided(client: DurableOrchestrationClient, job: dict[str, Any], key: str, workflow: str) -> str:
    """A job of this request that another launch started: its id once that launch accepted it, or once it is
    older than `DECIDED_SECONDS` (a job of issue 8.8's ids, or whose launch ended before deciding); `ToolError`
    when it was withdrawn."""
    job_id = str(job["instanceId"])
    created = _created(job, time.time())
    while time.time() - created < DECIDED_SECONDS and not await _accepted(client, job_id):
        if not (await client.get_status(job_id)).instance_id:
            raise ToolError(f"idempotency_key '{key}' was used at the same moment for another {workflow} request "
                            f"with other arguments, and this request's job was withdrawn. Allowed: the same "
                            f"arguments again, or a new key.")
        await asyncio.sleep(POLL_SECONDS)
    return job_id


async def _withdraw(client: DurableOrchestrationClient, job_id: str) -> None:
    """End and purge a job that gave way to another request's, so that nothing of it remains."""
    reason = "withdrawn: its idempotency_key was used at the same moment for a request with other arguments"
    try:
        await client.terminate(job_id, reason)
    except Exception:  # it ended already
        pass
    deadline = time.monotonic() + RACE_SECONDS
    while time.monotonic() < deadline:  # Azure purges only an instance that has ended
        status = await client.get_status(job_id)
        if not status.instance_id or getattr(status.runtime_status, "value", status.runtime_status) in (
                "Completed", "Failed", "Terminated", "Canceled"):
            break
        await asyncio.sleep(POLL_SECONDS)
    try:
        await client.purge_instance_history(job_id)
    except Exception:  # gone already
        pass
