"""The public job status object: one definition (`JobStatus`, and `JobSummary` for list items),
built from a Durable status payload and the custom status that `orchestrations/job_status.py` writes.

`JobStatus.model_json_schema()` is the object's JSON Schema. Status values: `STATUSES`.
Rules the builder applies:

- `waiting_for_input` is a running job whose custom status holds an input request;
- an orchestration cannot terminate itself, so one that ends as canceled on its own (plan_trip's
  approval timeout) completes with progress stage "canceled" and the reason as message; such a job
  is reported as canceled, with the reason in `error` and its output kept;
- a job that has ended invites nothing: no input request, and a progress message that says what
  ended it, whatever the workflow wrote last (`_ended`);
- a failed job keeps the stage it failed in, and its `error` is one readable sentence built
  from the Durable failure text (`failure_sentence`): which step failed, why, and what
  `retry_job` will do (issue 9.4);
- links carry no key: status objects reach model transcripts (issue 8.2). A person adds the
  `durabletask_extension` key (`&code=`: the links already have a query) to use them;
- every object says what to do next in one sentence (`next_step`, with the call to make and the job's id
  filled in; issue 21 §4): wait for a running job, answer a job waiting for input, find a finished job's
  result, what `retry_job` would do for a failed one.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Literal, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from azure.durable_functions import DurableOrchestrationClient
from pydantic import BaseModel, ConfigDict, Field

# custom status and output arrive as JSON text or as values, like event data
from orchestrations.failures import failure_reason
from orchestrations.job_status import MAX_MESSAGE_CHARS, event_data
from orchestrations.wording import shorten

from . import job_registry
from .arguments import Arg
from .job_usage import Usage, UsageCounts, summary_usage

Status = Literal["pending", "running", "waiting_for_input", "suspended", "completed", "failed", "canceled"]
STATUSES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]
# Durable runtime status -> ours; "running" becomes "waiting_for_input" when the job asked for input
STATUS_MAP = {
    "Pending": "pending",
    "Running": "running",
    "ContinuedAsNew": "running",
    "Suspended": "suspended",
    "Completed": "completed",
    "Failed": "failed",
    "Terminated": "canceled",
    "Canceled": "canceled",
}
TERMINAL = {"completed", "failed", "canceled"}
RUNTIME_FILTERS = {
    "pending": ["Pending"],
    "running": ["Running", "ContinuedAsNew"],
    "waiting_for_input": ["Running"],
    "suspended": ["Suspended"],
    "completed": ["Completed"],
    "failed": ["Failed"],
    "canceled": ["Terminated", "Canceled", "Completed"],  # Completed: ended itself as canceled
}
VIEW_ROUTE = "job-view"  # the job view's page: GET /api/job-view (tools/job_view.py)
VIEW_APP_URI = "ui://jobs/job-view.html"  # the same view as an MCP App (io.modelcontextprotocol/ui)
# Tool `_meta` (JSON text): "ui" shows a tool's result in the job view, in clients that render MCP
# Apps; "durable-job" tells a host which tools start and follow a job (the local host turns them into
# MCP Tasks and asks for input with elicitation: host/mcp/job_tools.py). Azure lists both unchanged.
_VIEW = {"ui": {"resourceUri": VIEW_APP_URI}}
_JOB_TOOLS = {"status": "get_job", "input": "send_job_input", "cancel": "cancel_job", "id": "job_id"}
VIEW_TOOL_METADATA = json.dumps(_VIEW)
LAUNCHER_METADATA = json.dumps({**_VIEW, "durable-job": {"role": "start", **_JOB_TOOLS}})
WAIT_METADATA = json.dumps({"durable-job": {"role": "wait", **_JOB_TOOLS}})
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9:_.\-]{0,127}$"
JOB_ID_ARG = Arg("job_id", "string", "The job id a launcher returned.", required=True, pattern=JOB_ID_PATTERN,
                 allowed="the job_id a launcher returned (letters, digits and : _ . -, at most 128 characters)")


class Progress(BaseModel):
    """Where the job is: a stage name, a sentence, and counts when the stage has them."""

    stage: str
    message: str
    completed: Optional[int] = None
    total: Optional[int] = None


class InputRequest(BaseModel):
    """What a job waiting for input asks: `prompt` is for the person who decides (an elicitation form
    shows it as is), `how_to_answer` for the model or script that answers with send_job_input."""

    model_config = ConfigDict(populate_by_name=True)

    event: str
    prompt: str = Field(description="the question, worded for the person who decides")
    how_to_answer: Optional[str] = Field(default=None, description="the send_job_input call that answers it")
    data_schema: Optional[dict[str, Any]] = Field(default=None, alias="schema",
                                                  description="JSON Schema that data must match")
    details: Optional[Any] = Field(default=None, description="what the decision is about (e.g. the proposal)")


_VALUE_WORDS = {"boolean": "true or false", "string": "text", "integer": "a whole number", "number": "a number"}


def how_to_answer(job_id: str, event: str, schema: Any) -> str:
    """`send_job_input(job_id="...", event="...", data={"approved": true or false, "comment"?: text})`:
    the data's fields from the request's JSON Schema (`?` marks an optional one)."""
    data = "a JSON object"
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(properties, dict) and properties:
        required = set(schema.get("required") or [])
        fields = [f"{json.dumps(name)}{'' if name in required else '?'}: "
                  f"{_VALUE_WORDS.get(spec.get('type'), 'a value') if isinstance(spec, dict) else 'a value'}"
                  for name, spec in properties.items()]
        data = "{" + ", ".join(fields) + "}"
    return f"send_job_input(job_id={json.dumps(job_id)}, event={json.dumps(event)}, data={data})"


class Links(BaseModel):
    """Durable management API URLs of the job, without a key (add `code=<durabletask_extension key>`),
    and `view_url`: the job's page in the job view (tools/job_view.py), which asks for the key itself; for
    a completed code swarm also its downloads (add the function key: `x-functions-key` or `code=`)."""

    status_url: str
    send_event_url: str
    terminate_url: str
    rewind_url: str
    view_url: Optional[str] = None
    zip_url: Optional[str] = Field(default=None, description="a completed code swarm's tree as a zip (function key)")
    bundle_url: Optional[str] = Field(default=None, description="a completed code swarm's history as a git bundle "
                                                                "(function key)")


class JobSummary(BaseModel):
    """A `list_jobs` item: the light part of the status object (`usage`: the totals the job's own custom
    status holds, tools/job_usage.py)."""

    job_id: str
    workflow: Optional[str]
    status: Status
    next_step: str = Field(description="what to do next, as the call to make with this job's id filled in")
    progress: Progress
    usage: Optional[UsageCounts] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None


class JobStatus(JobSummary):
    """What launchers, get_job, wait_for_job, send_job_input, cancel_job and retry_job return (`usage`:
    the job's model calls so far, in total and per agent, tools/job_usage.py)."""

    usage: Optional[Usage] = None
    input_request: Optional[InputRequest] = None
    output: Optional[Any] = None
    error: Optional[str] = None
    links: Optional[Links] = None

    def public(self) -> dict[str, Any]:
        """The object as tools return it (absent fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def client_status(status: Any) -> dict[str, Any]:
    """The SDK's DurableOrchestrationStatus as a management-API payload (camelCase keys)."""
    runtime = status.runtime_status
    return {
        "instanceId": status.instance_id,
        "name": status.name,
        "runtimeStatus": getattr(runtime, "value", runtime),
        "customStatus": status.custom_status,
        "output": status.output,
        "createdTime": _iso(status.created_time),
        "lastUpdatedTime": _iso(status.last_updated_time),
    }


def without_key(url: str) -> str:
    """`url` with its `code` (a system key) taken out of the query."""
    parts = urlsplit(url)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "code"]
    return urlunsplit(parts._replace(query=urlencode(query, safe="{}")))


def links_for(client: DurableOrchestrationClient, job_id: str) -> Links:
    """The job's management URLs as the SDK builds them, with the system key taken out."""
    payload = client.create_http_management_payload(job_id)
    origin = payload["statusQueryGetUri"].split("/runtime/webhooks/", 1)[0]  # the app's own, on both hosts
    return Links(status_url=without_key(payload["statusQueryGetUri"]),
                 send_event_url=without_key(payload["sendEventPostUri"]),
                 terminate_url=without_key(payload["terminatePostUri"]),
                 rewind_url=without_key(payload["rewindPostUri"]),
                 view_url=f"{origin}/api/{VIEW_ROUTE}#/jobs/{job_id}")


# ---------------------------------------------------------------------------------------------
# Failure text -> one sentence

def failure_sentence(workflow: str | None, progress: Progress | None, output: Any) -> str:
    """"<workflow> failed at step '<stage>' (<message>): <reason>. <what retry_job does>." (issue 9.4)"""
    reason, depth = failure_reason(output)
    where = f" at step '{progress.stage}' ({progress.message})" if progress else " before its first step"
    return f"{workflow or 'The job'} failed{where}: {reason}. {_retry_words(depth)}."


def _retry_words(depth: int) -> str:
    """What retry_job does for a failure `depth` functions deep (`failure_reason`)."""
    if depth >= 2:  # a step (activity or sub-orchestration) failed inside the workflow
        return "retry_job runs the failed step again; the steps that finished are not repeated"
    # the workflow's own code stopped: replaying it reaches the same point
    return "retry_job would stop at the same point, as the finished steps are replayed; start a new job"


# ---------------------------------------------------------------------------------------------
# What to do next (issue 21 §4: a client model that read "pending" said so and stopped)


def next_step(job_id: str, status: str, request: dict[str, Any] | None, output: Any) -> str:
    """One short sentence a client model can follow, read on every call: the call that moves the job on, with
    its id filled in, or that there is nothing left to do; the same words in every tool that returns a job."""
    job = json.dumps(job_id)
    if status in ("pending", "running"):
        return f"Next: wait_for_job(job_id={job}) returns when it ends or needs input; call it again while it runs."
    if status == "waiting_for_input" and request is not None:
        answer = how_to_answer(job_id, str(request.get("event", "")), request.get("schema"))
        return f"Next: ask the person its question (input_request.prompt), then {answer}."
    if status == "suspended":
        return (f"Suspended: nothing to do until it is resumed (Durable management API); then "
                f"wait_for_job(job_id={job}).")
    if status == "failed":
        depth = failure_reason(output)[1]
        if depth >= 2:
            return f"Next: retry_job(job_id={job}) {_retry_words(depth).removeprefix('retry_job ')}."
        return f"Failed in its own logic: {_retry_words(depth)}."
    if status == "canceled":
        return "Canceled: nothing left to do; start a new job to run it again."
    return f"Done: get_job(job_id={job}) shows its result (output)."


# ---------------------------------------------------------------------------------------------
# Status payload -> status object


def _custom(raw: dict[str, Any]) -> dict[str, Any]:
    custom = event_data(raw.get("customStatus"))
    return custom if isinstance(custom, dict) else {}


def _progress(custom: dict[str, Any]) -> Progress | None:
    try:
        return Progress.model_validate(custom["progress"])
    except (KeyError, ValueError):
        return None


def _summary_fields(raw: dict[str, Any]) -> dict[str, Any]:
    runtime = raw.get("runtimeStatus") or "Pending"
    status = STATUS_MAP.get(runtime, "running")
    custom = _custom(raw)
    progress = _progress(custom)
    if status == "running" and custom.get("input_request"):
        status = "waiting_for_input"
    if status == "completed" and progress is not None and progress.stage == "canceled":
        status = "canceled"
    if progress is None:
        progress = Progress(stage=status, message=f"job is {status.replace('_', ' ')}")
    elif status in TERMINAL:
        progress = _ended(status, progress, custom, event_data(raw.get("output")))
    elif status == "suspended":
        progress = _suspended(progress, pending_request(raw))
    job_id = raw.get("instanceId")
    return {"job_id": job_id, "workflow": job_registry.workflow_of(raw.get("name")), "status": status,
            "next_step": next_step(str(job_id), status, pending_request(raw), event_data(raw.get("output"))),
            "progress": progress, "created_at": raw.get("createdTime"), "updated_at": raw.get("lastUpdatedTime")}


def summary(raw: dict[str, Any]) -> JobSummary:
    """A list item from a management-API status payload."""
    return JobSummary(**_summary_fields(raw), usage=summary_usage(raw))


def _ended(status: str, progress: Progress, custom: dict[str, Any], output: Any) -> Progress:
    """A terminal job's progress invites nothing: its message says what ended the job, whatever the
    workflow wrote last (an approval prompt, "judging ...", "model call 3"). The workflow's own last
    word is kept when it already says so (stage "completed" or "canceled", no input request). A
    failed job keeps the stage it failed in (issue 9.4); the others take their status as stage."""
    if progress.stage == status and not custom.get("input_request"):
        return progress
    if status == "failed":
        return progress.model_copy(update={"message": f"failed: {failure_reason(output)[0]}"})
    ended = "completed" if status == "completed" else f"canceled: {output or 'canceled'}"
    if progress.stage not in (status, "waiting_for_input"):
        ended = ended.replace(status, f"{status} at step '{progress.stage}'", 1)
    return progress.model_copy(update={"stage": status, "message": shorten(ended, MAX_MESSAGE_CHARS)})


def _suspended(progress: Progress, request: dict[str, Any] | None) -> Progress:
    """A suspended job does nothing until it is resumed (Durable management API), whatever the workflow
    wrote last: its message says so, and what it waits for when it had asked for input (it takes no
    input while suspended: send_job_input says so too)."""
    if request is not None:
        message = f"suspended while waiting for input ('{request.get('event')}'); it takes input once resumed"
    else:
        message = f"suspended at step '{progress.stage}': {progress.message}"
    return progress.model_copy(update={"message": shorten(message, MAX_MESSAGE_CHARS)})


def pending_request(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The input request a live job's custom status holds (a suspended job's too), or None."""
    if STATUS_MAP.get(raw.get("runtimeStatus") or "Pending", "running") in TERMINAL:
        return None
    request = _custom(raw).get("input_request")
    return request if isinstance(request, dict) else None


def status_object(raw: dict[str, Any], links: Links | None = None, details: Any = None,
                  usage: Usage | None = None) -> JobStatus:
    """The whole status object from a management-API status payload; `details` fills the input
    request's details when the caller fetched them (see `orchestrations/job_status.py`), `usage` is the
    job's usage (tools/job_usage.py)."""
    fields = _summary_fields(raw)
    status, progress = fields["status"], fields["progress"]
    custom = _custom(raw)
    job = JobStatus(**fields, links=links, usage=usage)
    output = event_data(raw.get("output"))
    if status == "waiting_for_input":
        request = dict(custom["input_request"])
        request.pop("details_ref", None)
        request["how_to_answer"] = how_to_answer(job.job_id, request.get("event", ""), request.get("schema"))
        job.input_request = InputRequest.model_validate(
            {**request, "details": details if details is not None else request.get("details")})
    elif status == "completed":
        job.output = output
        job.next_step = "Done: its result is in output."
        downloads = job_registry.downloads(job.workflow)
        if links is not None and downloads:
            origin = links.status_url.split("/runtime/webhooks/", 1)[0]
            job.links = links.model_copy(update={f"{kind}_url": f"{origin}/api/workspaces/{job.job_id}/{kind}"
                                                 for kind in downloads})
            job.next_step += " Its files: " + ", ".join(f"links.{kind}_url" for kind in downloads) + "."
    elif status == "failed":
        job.error = failure_sentence(job.workflow, _progress(custom), output)
    elif raw.get("runtimeStatus") == "Completed":  # ended itself as canceled
        job.output = output
        job.error = f"canceled: {progress.message}"
    elif status == "canceled":
        job.error = f"canceled: {output}" if output else "canceled"
    return job
