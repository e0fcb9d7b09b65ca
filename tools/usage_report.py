"""`get_usage`: what your jobs used and cost over a period - in total, per workflow and per agent - and, for an
admin, every person's, per owner (issue 19's roll-ups, per person now that jobs have owners: issue 20).

Read from the management API's instance list (tools/instances.py), scoped as `list_jobs` is (tools/caller.py): a
signed-in caller's instances by their id prefix (a job and its steps, `<job_id>:...`, carry the owner tag), the
key's owner's the instances without a tag, an admin's every one. Each agent step's custom status holds its own
model calls (orchestrations/usage/ledger.py `own_usage`, recorded from the Durable history), so the sum over the
agent steps of a job is exact whether the job completed, failed, was canceled or still runs (a failed step kept
its calls), after restarts, on both hosts. A job is in the period when it was created in it (`since` inclusive,
`until` exclusive, UTC); its steps count with it. A job is an orchestration whose id holds no `:`.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Optional

import azure.durable_functions as df
from pydantic import BaseModel, Field

from orchestrations.job_status import event_data
from orchestrations.usage.ledger import agent_steps_usage, total_of

from .arguments import Arg, ToolError
from .caller import Caller, tag_of
from .instances import instance_page
from .job_registry import workflow_of
from .job_timeline import parse_time
from .job_usage import Usage, UsageCounts, summed, usage_counts
from .tool import READ_ONLY, job_tool

bp = df.Blueprint()

PAGE_SIZE = 100
MAX_INSTANCES = 20_000  # instances read for one report (a job and each of its steps is one)
KEY_OWNER = "key"  # the owner of the jobs started with a key (no sign-in)
TIME_PATTERN = r"^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?$"
TIME_ALLOWED = "an ISO 8601 date or date-time, e.g. 2026-12-01 or 2026-12-01T09:00:00Z (UTC unless an offset is given)"


class GroupUsage(BaseModel):
    """The jobs of one group and their usage (tokens, model calls, cost)."""

    jobs: int
    usage: UsageCounts


class WorkflowUsage(GroupUsage):
    workflow: str


class OwnerUsage(GroupUsage):
    owner: str = Field(description="the owner tag of the person's jobs (the start of their ids), or 'key' for "
                                   "jobs started with a key")
    name: Optional[str] = Field(default=None, description="the display name the person signed in with")


class UsageReport(BaseModel):
    """What `get_usage` returns."""

    since: Optional[str] = None
    until: Optional[str] = None
    jobs: int
    usage: Usage = Field(description="totals over the jobs, and per agent")
    workflows: list[WorkflowUsage] = Field(default_factory=list, description="per workflow, most tokens first")
    owners: Optional[list[OwnerUsage]] = Field(default=None, description="per person (admins only), most tokens first")
    note: Optional[str] = None


def _moment(name: str, value: Optional[str]) -> Optional[datetime]:
    if value is None:
        return None
    moment = parse_time(value if "T" in value else f"{value}T00:00:00")
    if moment is None:
        raise ToolError(f"'{name}' is not a date or date-time: {value[:40]!r}. Allowed: {TIME_ALLOWED}.")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


async def _instances(client: Any, caller: Caller, since: Optional[datetime]) -> tuple[list[dict[str, Any]], bool]:
    """The status payloads of the instances `caller` may see, created at or after `since`; whether all were read."""
    params = {"top": str(PAGE_SIZE), "showInput": "false"}
    prefix = None if caller.admin else caller.id_prefix()
    if prefix:
        params["instanceIdPrefix"] = prefix
    if since is not None:  # a job's steps are created after it: none of an included job is left out
        params["createdTimeFrom"] = since.isoformat().replace("+00:00", "Z")
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page, token = await instance_page(client, params, token, "Reading the jobs' usage failed")
        found += [item for item in page if caller.may_see(str(item.get("instanceId") or ""))]
        if not token:
            return found, True
        if len(found) >= MAX_INSTANCES:
            return found, False


def _ranked(groups: dict[str, list[dict[str, Any]]], jobs: dict[str, set[str]]) -> list[tuple[str, int, UsageCounts]]:
    rows = []
    for key, statuses in groups.items():
        total = total_of(agent_steps_usage(statuses).values())
        rows.append((key, len(jobs[key]), usage_counts(total)))
    return sorted(rows, key=lambda row: (-(row[2].input_tokens + row[2].output_tokens), row[0]))


async def _owner_names(client: Any, first_jobs: dict[str, str]) -> dict[str, str]:
    """The display name each owner signed in with, from the input of one of their jobs (`started_by`)."""
    names = {}
    for owner, job_id in first_jobs.items():
        status = await client.get_status(job_id, show_input=True)
        spec = event_data(getattr(status, "input_", None))
        started_by = spec.get("started_by") if isinstance(spec, dict) else None
        if isinstance(started_by, dict) and isinstance(started_by.get("name"), str):
            names[owner] = started_by["name"]
    return names


@job_tool(bp,
          Arg("since", "string", "Only jobs created at or after this time (UTC unless it says otherwise).",
              max_length=40, pattern=TIME_PATTERN, allowed=TIME_ALLOWED),
          Arg("until", "string", "Only jobs created before this time.", max_length=40, pattern=TIME_PATTERN,
              allowed=TIME_ALLOWED),
          output=UsageReport, title="Usage", hints=READ_ONLY)
async def get_usage(client: df.DurableOrchestrationClient, since: Optional[str], until: Optional[str],
                    caller: Caller) -> dict[str, Any]:
    """What your jobs used and cost (everyone's for an admin, per person too): tokens, model calls and cost in
    total, per workflow and per agent, over the jobs created since `since` and before `until` (all jobs when
    left out). Running jobs count what they have used so far."""
    start, end = _moment("since", since), _moment("until", until)
    if start and end and end <= start:
        raise ToolError(f"'until' ({until}) must be after 'since' ({since}).")
    instances, complete = await _instances(client, caller, start)
    jobs = {str(item["instanceId"]): item for item in instances if ":" not in str(item.get("instanceId"))
            and (end is None or (parse_time(item.get("createdTime")) or end) < end)}
    by_workflow: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_owner: dict[str, list[dict[str, Any]]] = defaultdict(list)
    workflow_jobs: dict[str, set[str]] = defaultdict(set)
    owner_jobs: dict[str, set[str]] = defaultdict(set)
    counted = []
    for item in instances:
        job_id = str(item["instanceId"]).split(":", 1)[0]
        job = jobs.get(job_id)
        if job is None:
            continue
        workflow = str(workflow_of(job.get("name")))
        owner = tag_of(job_id) or KEY_OWNER
        counted.append(item)
        by_workflow[workflow].append(item)
        by_owner[owner].append(item)
        workflow_jobs[workflow].add(job_id)
        owner_jobs[owner].add(job_id)
    report = UsageReport(since=start.isoformat() if start else None, until=end.isoformat() if end else None,
                         jobs=len(jobs), usage=summed(counted) or Usage(),
                         workflows=[WorkflowUsage(workflow=key, jobs=count, usage=usage)
                                    for key, count, usage in _ranked(by_workflow, workflow_jobs)])
    if caller.admin:
        names = await _owner_names(client, {owner: min(ids) for owner, ids in owner_jobs.items() if owner != KEY_OWNER})
        report.owners = [OwnerUsage(owner=key, name=names.get(key), jobs=count, usage=usage)
                         for key, count, usage in _ranked(by_owner, owner_jobs)]
    if not complete:
        report.note = (f"only the first {MAX_INSTANCES:,} instances (jobs and their steps) were read: "
                       f"give a later 'since' or an 'until' to see a whole period")
    return report.model_dump(mode="json", exclude_none=True)
