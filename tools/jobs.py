"""Job-control MCP tools: get, wait for, list, send input to, cancel and retry durable jobs.

Each tool is declared with `job_tool` (tools/tool.py): its arguments are checked before its code
runs, and it returns the status object (tools/job_status.py) or a `ToolError`.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable, Optional

import azure.durable_functions as df
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from . import job_registry
from .arguments import Arg, ToolError
from .caller import Caller
from .job_list import CURSOR_ARG, Cursor, JobPage, list_jobs_page
from .job_status import (JOB_ID_ARG, STATUSES, TERMINAL, VIEW_TOOL_METADATA, WAIT_METADATA, JobStatus, client_status,
                         links_for, pending_request, status_object)
from .job_steps import cancel_steps, list_steps
from .job_usage import job_usage, needs_steps, waiting_note
from .step_requests import instances_asking, with_step_request
from .progress import report_progress
from .tool import READ_ONLY, job_tool

bp = df.Blueprint()

MAX_WAIT_SECONDS = 50  # common MCP clients give up on a call after 60 s
DEFAULT_WAIT_SECONDS = 25
POLL_SECONDS = 0.5
SETTLE_SECONDS = 10.0  # how long a control tool waits for the job to show the effect of what it did
MAX_INPUT_BYTES = 64 * 1024
EVENT_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$"
MAX_SCHEMA_CHARS = 300
RETRIED = ("pending", "running", "waiting_for_input", "completed")  # what a retried job can be by now


def unknown_job(job_id: str) -> ToolError:
    """The answer for a job id that names no job the caller may see: one text whether the job does not
    exist or is another person's (issue 20), so an id reveals nothing."""
    return ToolError(f"Unknown job '{job_id}': no job has that id (it may have been purged). "
                     f"Allowed: a job_id from a launcher or from list_jobs.")


async def fetch_job(client: df.DurableOrchestrationClient, job_id: str, caller: Caller) -> JobStatus:
    """The job's status object; `ToolError` when there is no such job, or it is not the caller's to see
    (tools/caller.py: checked on the id, before the backend is asked)."""
    return (await _fetch(client, job_id, caller))[0]


async def _fetch(client: df.DurableOrchestrationClient, job_id: str,
                 caller: Caller) -> tuple[JobStatus, dict[str, Any]]:
    """The job's status object and the management API's status payload it was built from."""
    if not caller.may_see(job_id):
        raise unknown_job(job_id)
    status = await client.get_status(job_id)
    if not status or not status.instance_id:
        raise unknown_job(job_id)
    raw = client_status(status)
    steps = await list_steps(client, job_id, show_input=False) if needs_steps(raw) else []
    shown = with_step_request(raw, steps)  # a running step's input request is the job's (tools/step_requests.py)
    job = status_object(shown, links_for(client, job_id), await _input_details(client, shown), job_usage(raw, steps))
    note = waiting_note(job_id) if job.status == "running" else None
    if note:
        job.progress = job.progress.model_copy(update={"message": job.progress.message + note})
    return job, shown


async def _input_details(client: df.DurableOrchestrationClient, raw: dict[str, Any]) -> Any:
    """The data an input request refers to (`details_ref`: the id of a step whose output holds it)."""
    request = pending_request(raw)
    ref = request.get("details_ref") if request is not None else None
    if raw.get("runtimeStatus") != "Running" or not isinstance(ref, str):
        return None
    step = await client.get_status(ref)
    return client_status(step)["output"] if step and step.instance_id else None


async def settled(client: df.DurableOrchestrationClient, job_id: str, caller: Caller,
                  done: Callable[[JobStatus], bool], wait: float = SETTLE_SECONDS) -> JobStatus:
    """Control operations are queued: the job's status once `done` holds, or after `wait` seconds."""
    deadline = time.monotonic() + wait
    job = await fetch_job(client, job_id, caller)
    while not done(job) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        job = await fetch_job(client, job_id, caller)
    return job


@job_tool(bp, JOB_ID_ARG, output=JobStatus, title="Get job", hints=READ_ONLY, metadata=VIEW_TOOL_METADATA)
async def get_job(client: df.DurableOrchestrationClient, job_id: str, caller: Caller) -> dict[str, Any]:
    """Get a job's status object: status, progress, input request, output or error, and links."""
    return (await fetch_job(client, job_id, caller)).public()


@job_tool(bp, JOB_ID_ARG,
          Arg("timeout_seconds", "integer", f"How long to wait, in seconds (at most {MAX_WAIT_SECONDS}).",
              default=DEFAULT_WAIT_SECONDS, minimum=0, maximum=MAX_WAIT_SECONDS),
          output=JobStatus, title="Wait for job", hints=READ_ONLY, metadata=WAIT_METADATA)
async def wait_for_job(client: df.DurableOrchestrationClient, job_id: str, timeout_seconds: int,
                       tool_context: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """Wait until a job ends or needs input, or the timeout passes; returns its status object.
    Sends progress notifications while it waits. Call again to keep waiting."""
    deadline = time.monotonic() + timeout_seconds
    last_progress = None
    reports = 0  # MCP progress values must increase: count reports, and say the job's own counts in words
    while True:
        job = await fetch_job(client, job_id, caller)
        if job.progress != last_progress:
            last_progress = job.progress
            reports += 1
            counts = "" if job.progress.completed is None else f" ({job.progress.completed} done)" \
                if not job.progress.total else f" ({job.progress.completed} of {job.progress.total})"
            await report_progress(tool_context, reports, None, f"{job.status}: {job.progress.message}{counts}")
        if job.status in TERMINAL or job.status == "waiting_for_input" or time.monotonic() >= deadline:
            return job.public()
        await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


@job_tool(bp,
          Arg("status", "string", "Only jobs in this status.", choices=STATUSES),
          Arg("workflow", "string", "Only jobs of this workflow.", choices=job_registry.names("tools/jobs.py")),
          Arg("limit", "integer", "Page size.", default=20, minimum=1, maximum=100),
          CURSOR_ARG, output=JobPage, title="List jobs", hints=READ_ONLY)
async def list_jobs(client: df.DurableOrchestrationClient, status: Optional[str], workflow: Optional[str],
                    limit: int, cursor: Optional[str], caller: Caller) -> dict[str, Any]:
    """List your jobs (everyone's for an admin), oldest first, with optional status and workflow filters: id,
    workflow, status, progress and times of each (get_job gives the whole status object). Page with
    next_cursor."""
    after = Cursor.decode(cursor)
    orchestrators = {job_registry.job(workflow).orchestrator} if workflow else job_registry.orchestrators()
    jobs, following = await list_jobs_page(client, orchestrators, status, limit, after, caller)
    return {"jobs": [job.model_dump(mode="json", exclude_none=True) for job in jobs],
            "next_cursor": following.encode() if following else None}


@job_tool(bp, JOB_ID_ARG,
          Arg("event", "string", "The event name from the job's input_request.", required=True,
              pattern=EVENT_PATTERN, allowed="the event of the job's input_request"),
          Arg("data", "object", "The input, shaped as the input_request's schema says.", required=True,
              max_bytes=MAX_INPUT_BYTES),
          output=JobStatus, title="Send job input",
          hints={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": False})
async def send_job_input(client: df.DurableOrchestrationClient, job_id: str, event: str,
                         data: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """Send the input a job asked for (its input_request: event, prompt, schema). The data is checked
    against the schema; returns the job's status object once the job has taken the input."""
    job, raw = await _fetch(client, job_id, caller)
    if job.status in TERMINAL:
        raise ToolError(f"Job {job_id} is {job.status}; it takes no more input.")
    asked = pending_request(raw)
    if job.status == "suspended" and asked is not None:
        raise ToolError(f"Job {job_id} is suspended: it asked for input (event '{asked.get('event')}') and takes it "
                        f"once it is resumed. Allowed: input once its status is waiting_for_input again.")
    if job.input_request is None:
        raise ToolError(f"Job {job_id} is {job.status} and has not asked for input. Allowed: input once its "
                        f"status is waiting_for_input (wait_for_job returns then).")
    request = job.input_request
    if event != request.event:
        raise ToolError(f"Job {job_id} is waiting for event '{request.event}', not '{event}'. "
                        f"Allowed: event '{request.event}'.")
    if request.data_schema:
        _check_data(data, request.data_schema)
    for instance_id in await instances_asking(client, job_id, event) or [job_id]:
        await client.raise_event(instance_id, event, data)
    taken = await settled(client, job_id, caller,
                          lambda j: j.input_request is None or j.input_request.event != event)
    return taken.public()


def _check_data(data: Any, schema: dict[str, Any]) -> None:
    """`data` against the schema the job published (jsonschema), worded like argument errors."""
    error = best_match(Draft202012Validator(schema).iter_errors(data))
    if error is None:
        return
    where = f" at '{'.'.join(map(str, error.absolute_path))}'" if error.absolute_path else ""
    schema_text = json.dumps(schema, separators=(",", ":"))
    if len(schema_text) > MAX_SCHEMA_CHARS:
        schema_text = schema_text[:MAX_SCHEMA_CHARS - 1] + "…"
    message = error.message if len(error.message) <= MAX_SCHEMA_CHARS else error.message[:MAX_SCHEMA_CHARS - 1] + "…"
    raise ToolError(f"Argument 'data' does not match the job's input schema{where}: {message}. "
                    f"Allowed: data matching {schema_text}.")


@job_tool(bp, JOB_ID_ARG, Arg("reason", "string", "Why, recorded with the job.", max_length=1000),
          output=JobStatus, title="Cancel job",
          hints={"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True, "openWorldHint": False})
async def cancel_job(client: df.DurableOrchestrationClient, job_id: str, reason: Optional[str],
                     caller: Caller) -> dict[str, Any]:
    """Cancel a job that has not ended, and its running steps; finished steps keep their results.
    Canceling a canceled job again changes nothing else and returns its status (the tool is
    idempotent: a client may repeat a call whose answer it lost)."""
    job = await fetch_job(client, job_id, caller)
    reason = reason or "canceled by the user"
    if job.status in TERMINAL and job.status != "canceled":
        raise ToolError(f"Job {job_id} already {job.status}; only a job that has not ended can be canceled.")
    if job.status != "canceled":
        await client.terminate(job_id, reason)
        job = await settled(client, job_id, caller, lambda j: j.status in TERMINAL)
    if job.status == "canceled":
        await cancel_steps(client, job_id, reason, SETTLE_SECONDS)
    return job.public()


@job_tool(bp, JOB_ID_ARG, output=JobStatus, title="Retry job",
          hints={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False})
async def retry_job(client: df.DurableOrchestrationClient, job_id: str, caller: Caller) -> dict[str, Any]:
    """Continue a failed job from its failure; steps that finished are not run again. A job that is
    running or completed (as a retried job is) has nothing to retry: its status comes back unchanged,
    so repeating a call whose answer was lost is safe (the tool is idempotent), also while the first call
    is still in flight: the backend refuses a second rewind (HTTP 410: the job is no longer failed), and
    that call answers with the status the first one's rewind gave the job (issue 21 §1.4's kind)."""
    job = await fetch_job(client, job_id, caller)
    if job.status in RETRIED:
        return job.public()
    if job.status != "failed":
        raise ToolError(f"Job {job_id} is {job.status}; only a failed job can be retried.")
    try:
        await client.rewind(job_id, "retried by the user")
    except Exception:
        job = await fetch_job(client, job_id, caller)
        if job.status not in RETRIED:  # not a racing retry: the backend's own refusal or failure
            raise
        return job.public()
    return (await settled(client, job_id, caller, lambda j: j.status != "failed")).public()
