"""`list_jobs` paging: a keyset cursor (created time, job id) over the management API's instance list.

A cursor names the last job a page returned, not a position, so jobs created or purged between
two calls never make a page skip or repeat one (issue 9.6). The next page asks the backend for
instances created since that job (`createdTimeFrom`, inclusive) and keeps those after it in
(created time, job id) order.

The order does not depend on the backend's: the local host lists instances oldest first, the
Azure Storage backend by instance id. Pages are read whole; while everything read is in created
time order, reading stops once `limit` jobs are in hand and a later second has been seen (so every
job of the boundary second is known); otherwise every page is read and sorted here.
Sub-orchestrations (a workflow's agent steps) are steps of a job, not jobs, and are skipped; a running
job one of whose steps asks for input is listed as waiting for it (tools/step_requests.py).

Whose jobs (issue 20): a signed-in caller's are listed by their id prefix (`instanceIdPrefix`, tools/caller.py),
so the backend reads no one else's; the key's owner gets the jobs without an owner tag, an admin every job.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from azure.durable_functions import DurableOrchestrationClient
from pydantic import BaseModel

from .arguments import Arg, argument_error
from .caller import Caller
from .instances import instance_page
from .job_status import RUNTIME_FILTERS, JobSummary, summary
from .step_requests import steps_asking, with_step_request

BACKEND_PAGE_SIZE = 100
WAITING = "waiting_for_input"
CURSOR_ARG = Arg("cursor", "string", "The next_cursor of the previous page, to get the next one.",
                 allowed="the next_cursor of the previous list_jobs page", max_length=1000)
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?")


class JobPage(BaseModel):
    """What list_jobs returns: a page of list items, and the cursor of the next page (null at the end)."""

    jobs: list[JobSummary]
    next_cursor: Optional[str] = None


@dataclass(frozen=True)
class Cursor:
    """The last job a page returned."""

    created: str
    job_id: str

    def encode(self) -> str:
        return base64.urlsafe_b64encode(json.dumps([self.created, self.job_id]).encode()).decode()

    @classmethod
    def decode(cls, text: Optional[str]) -> Optional["Cursor"]:
        if text is None:
            return None
        try:
            created, job_id = json.loads(base64.urlsafe_b64decode(text.encode()))
            if isinstance(created, str) and _TIME.match(created) and isinstance(job_id, str):
                return cls(created, job_id)
        except (binascii.Error, ValueError, TypeError):
            pass
        raise argument_error(CURSOR_ARG.name, "is not a cursor list_jobs returned", CURSOR_ARG.describe_allowed())


def order_key(created: Optional[str], job_id: str) -> tuple[str, str]:
    """(created time with microseconds, job id): times compare as text once their form is the same."""
    match = _TIME.match(created or "")
    if not match:
        return ("", job_id)
    return (f"{match[1]}.{(match[2] or '')[:6].ljust(6, '0')}", job_id)


async def list_jobs_page(client: DurableOrchestrationClient, orchestrators: set[str], status: Optional[str],
                         limit: int, after: Optional[Cursor],
                         caller: Caller) -> tuple[list[JobSummary], Optional[Cursor]]:
    """Up to `limit` of the jobs `caller` may see after `after` in (created time, job id) order, and the
    cursor of the next page."""
    params = {"top": str(BACKEND_PAGE_SIZE), "showInput": "false"}
    prefix = None if caller.admin else caller.id_prefix()
    if prefix:
        params["instanceIdPrefix"] = prefix
    if status:
        params["runtimeStatus"] = ",".join(RUNTIME_FILTERS[status])
    if after:
        params["createdTimeFrom"] = after.created
    floor = order_key(after.created, after.job_id) if after else ("", "")
    found: list[tuple[tuple[str, str], JobSummary, dict[str, Any]]] = []
    in_order, latest, token = True, "", None
    while True:
        page, token = await instance_page(client, params, token, "Listing jobs failed")
        for item in page:
            key = order_key(item.get("createdTime"), str(item.get("instanceId")))
            in_order, latest = in_order and key[0] >= latest, max(latest, key[0])
            if item.get("name") not in orchestrators or key <= floor or not caller.may_see(key[1]):
                continue
            job = summary(item)
            if status is None or job.status == status or (status == WAITING and job.status == "running"):
                found.append((key, job, item))
        found.sort(key=lambda entry: entry[0])
        complete = not token
        if complete or (in_order and len(found) >= limit and latest > found[limit - 1][0][0]):
            break
    chosen = found[:limit]
    more = len(found) > limit or not complete
    last = chosen[-1][1] if chosen else None
    following = Cursor(last.created_at or "", last.job_id) if more and last else None
    asking = await steps_asking(client, [job.job_id for _, job, _ in chosen if job.status == "running"])
    jobs = [summary(with_step_request(item, [asking[job.job_id]])) if job.job_id in asking else job
            for _, job, item in chosen]
    return [job for job in jobs if status is None or job.status == status], following
