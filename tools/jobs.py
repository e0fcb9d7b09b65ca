"""Job-control MCP tools: get, wait for, list, send input to, cancel and retry durable jobs.

No `from __future__ import annotations` here: `@mcp_tool` reads the real annotation objects to
build tool schemas and to find the `MCPToolContext` parameter.
"""

import asyncio
import base64
import json
import re
import time
from typing import Any, Optional

import azure.durable_functions as df
import azure.functions as func
import httpx

from .job_status import (WORKFLOWS, JobError, RUNTIME_FILTERS, TERMINAL, check_job_id, client_status, links_for,
                         orchestrator_of, status_object)
from .progress import report_progress

bp = df.Blueprint()

MAX_WAIT_SECONDS = 50  # common MCP clients give up on a call after 60 s
POLL_SECONDS = 0.5
MAX_INPUT_BYTES = 64 * 1024
LIST_PAGE_SIZE = 100
LIST_MAX_PAGES = 20  # one call reads at most this many backend pages, then hands back a cursor
EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


async def fetch_job(client: df.DurableOrchestrationClient, job_id: str) -> dict[str, Any]:
    status = await client.get_status(check_job_id(job_id))
    if not status or not status.instance_id:
        raise JobError(f"Unknown job {job_id!r}: no job with that id exists (it may have been purged)")
    return status_object(client_status(status), links_for(client, job_id))


def as_text(value: Any) -> str:
    """`@mcp_tool` returns str(result); JSON text is what clients (and models) can read."""
    return json.dumps(value, indent=2, default=str)


@bp.mcp_tool()
@bp.mcp_tool_property(arg_name="job_id", description="The job id returned when the job was started.")
@bp.durable_client_input(client_name="client")
async def get_job(job_id: str, client) -> str:
    """Get a job's status object: status, progress, input request, output or error, and links."""
    return as_text(await fetch_job(client, job_id))


@bp.mcp_tool()
@bp.mcp_tool_property(arg_name="job_id", description="The job id returned when the job was started.")
@bp.mcp_tool_property(arg_name="timeout_seconds",
                      description=f"How long to wait, at most {MAX_WAIT_SECONDS} (default 25).",
                      is_required=False)
@bp.durable_client_input(client_name="client")
async def wait_for_job(job_id: str, client, tool_context: func.MCPToolContext, timeout_seconds: int = 25) -> str:
    """Wait until a job ends or needs input, or the timeout passes; returns its status object.
    Sends progress notifications while it waits. Call again to keep waiting."""
    timeout = max(0.0, min(float(timeout_seconds or 0), MAX_WAIT_SECONDS))
    deadline = time.monotonic() + timeout
    last_progress = None
    reports = 0  # MCP progress values must increase: count reports, and say the job's own counts in words
    while True:
        job = await fetch_job(client, job_id)
        progress = job["progress"]
        if progress != last_progress:
            last_progress = progress
            reports += 1
            counts = f" ({progress['completed']} of {progress.get('total', '?')})" if "completed" in progress else ""
            await report_progress(tool_context, reports, None,
                                  f"{job['status']}: {progress.get('message', '')}{counts}")
        if job["status"] in TERMINAL or job["status"] == "waiting_for_input" or time.monotonic() >= deadline:
            return as_text(job)
        await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


@bp.mcp_tool()
@bp.mcp_tool_property(arg_name="status", is_required=False,
                      description="Only jobs in this status: " + ", ".join(RUNTIME_FILTERS))
@bp.mcp_tool_property(arg_name="workflow", is_required=False,
                      description="Only jobs of this workflow: run_agent, run_swarm or plan_trip.")
@bp.mcp_tool_property(arg_name="limit", is_required=False, description="Page size, 1-100 (default 20).")
@bp.mcp_tool_property(arg_name="cursor", is_required=False,
                      description="The next_cursor of the previous page, to get the next one.")
@bp.durable_client_input(client_name="client")
async def list_jobs(client, status: Optional[str] = None, workflow: Optional[str] = None,
                    limit: int = 20, cursor: Optional[str] = None) -> str:
    """List jobs, oldest first, with optional status and workflow filters; page with next_cursor."""
    if status is not None and status not in RUNTIME_FILTERS:
        raise JobError(f"Unknown status {status!r}: expected one of {', '.join(RUNTIME_FILTERS)}")
    wanted = {orchestrator_of(workflow)} if workflow else set(WORKFLOWS)
    limit = int(limit or 20)
    if not 1 <= limit <= 100:
        raise JobError("limit must be between 1 and 100")
    token, skip = decode_cursor(cursor)
    params = {"top": str(LIST_PAGE_SIZE), "showInput": "false"}
    if status:
        params["runtimeStatus"] = ",".join(RUNTIME_FILTERS[status])
    jobs: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(LIST_MAX_PAGES):
            page, next_token = await _instances_page(http, client, params, token)
            for position in range(skip, len(page)):
                item = page[position]
                if item.get("name") not in wanted:  # sub-orchestrations are steps of a job, not jobs
                    continue
                job = status_object(item, links_for(client, item["instanceId"]))
                if status and job["status"] != status:
                    continue
                jobs.append(job)
                if len(jobs) == limit:
                    more_here = position + 1 < len(page)
                    following = encode_cursor(token, position + 1) if more_here else encode_cursor(next_token, 0)
                    return as_text({"jobs": jobs, "next_cursor": following})
            if not next_token:
                return as_text({"jobs": jobs, "next_cursor": None})
            token, skip = next_token, 0
    return as_text({"jobs": jobs, "next_cursor": encode_cursor(token, 0)})


async def _instances_page(http: httpx.AsyncClient, client, params: dict[str, str],
                          token: Optional[str]) -> tuple[list[dict[str, Any]], Optional[str]]:
    """One page of the management API's instance list (the rpc base URL, as the SDK client uses)."""
    headers = {"x-ms-continuation-token": token} if token else {}
    base = client._orchestration_bindings.rpc_base_url
    response = await http.get(f"{base}instances/", params=params, headers=headers)
    if response.status_code != 200:
        raise JobError(f"listing jobs failed ({response.status_code}): {response.text}")
    return response.json(), response.headers.get("x-ms-continuation-token")


def encode_cursor(token: Optional[str], skip: int) -> Optional[str]:
    """Our cursor = the backend's continuation token (opaque, Azure's or ours) + how far into that page we got."""
    if token is None and skip == 0:
        return None
    return base64.urlsafe_b64encode(json.dumps([token, skip]).encode()).decode()


def decode_cursor(cursor: Optional[str]) -> tuple[Optional[str], int]:
    if not cursor:
        return None, 0
    try:
        token, skip = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return (str(token) if token is not None else None), int(skip)
    except (ValueError, TypeError):
        raise JobError("Malformed cursor: pass the next_cursor of the previous list_jobs page") from None


@bp.mcp_tool()
@bp.mcp_tool_property(arg_name="job_id", description="The job waiting for input.")
@bp.mcp_tool_property(arg_name="event", description="The event name from the job's input_request.")
@bp.mcp_tool_property(arg_name="data", description="The input, shaped as the input_request's schema says.")
@bp.durable_client_input(client_name="client")
async def send_job_input(job_id: str, event: str, data: object, client) -> str:
    """Send input a job asked for (see its input_request); returns the job's status object."""
    if not isinstance(event, str) or not EVENT_NAME.match(event):
        raise JobError(f"Malformed event name {event!r}: use the event from the job's input_request")
    size = len(json.dumps(data).encode())
    if size > MAX_INPUT_BYTES:
        raise JobError(f"data is {size} bytes; the limit is {MAX_INPUT_BYTES}")
    job = await fetch_job(client, job_id)
    if job["status"] in TERMINAL:
        raise JobError(f"Job {job_id} is {job['status']}; it takes no more input")
    expected = (job.get("input_request") or {}).get("event")
    if expected and event != expected:
        raise JobError(f"Job {job_id} is waiting for event {expected!r}, not {event!r}")
    await client.raise_event(job_id, event, data)
    return as_text(await fetch_job(client, job_id))


@bp.mcp_tool()
@bp.mcp_tool_property(arg_name="job_id", description="The job to cancel.")
@bp.mcp_tool_property(arg_name="reason", description="Why, recorded with the job.", is_required=False)
@bp.durable_client_input(client_name="client")
async def cancel_job(job_id: str, client, reason: Optional[str] = None) -> str:
    """Cancel a job that has not ended; finished steps keep their results."""
    job = await fetch_job(client, job_id)
    if job["status"] in TERMINAL:
        raise JobError(f"Job {job_id} already {job['status']}")
    await client.terminate(job_id, reason or "canceled by the user")
    return as_text(await _settled(client, job_id))


@bp.mcp_tool()
@bp.mcp_tool_property(arg_name="job_id", description="The failed job to retry.")
@bp.durable_client_input(client_name="client")
async def retry_job(job_id: str, client) -> str:
    """Continue a failed job from its failure; steps that finished are not run again."""
    job = await fetch_job(client, job_id)
    if job["status"] != "failed":
        raise JobError(f"Only failed jobs can be retried; job {job_id} is {job['status']}")
    await client.rewind(job_id, "retried by the user")
    return as_text(await _settled(client, job_id, lambda j: j["status"] != "failed"))


async def _settled(client, job_id: str, done=lambda job: job["status"] in TERMINAL, wait: float = 5.0) -> dict:
    """Control operations are queued; give the job a moment to show their effect."""
    deadline = time.monotonic() + wait
    job = await fetch_job(client, job_id)
    while not done(job) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        job = await fetch_job(client, job_id)
    return job
