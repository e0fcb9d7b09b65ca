"""Workflow launchers: MCP tools that start a job and return at once with its status object, and
the HTTP starter (`POST /api/jobs/{workflow}`) that answers 202 with Azure's check-status payload.

A launcher is one decorated function that turns its checked arguments into the orchestration's
input; `launcher` registers the MCP tool of the workflow's name (with `idempotency_key` added) and
the same arguments for the HTTP starter, so both check input in one place (tools/arguments.py):

    @launcher(bp, "run_swarm", "Run a swarm", Arg("goal", "string", "...", required=True), ...)
    def run_swarm(goal: str, ...) -> dict:
        \"\"\"The tool's description.\"\"\"
        return {"goal": goal, ...}

The workflow's orchestrator is named in `job_status.WORKFLOWS`.
"""
from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

import azure.durable_functions as df
import azure.functions as func

from orchestrations.agents.builtin_tools import BUILTIN_TOOLS
from orchestrations.agents.model_config import ModelNotConfiguredError, require_model
from orchestrations.swarm.workflow import (DEFAULT_MAX_WORKERS, DEFAULT_QUALITY_THRESHOLD, MAX_FIX_ROUNDS,
                                           MAX_WORKERS_LIMIT)
from orchestrations.trip import DEFAULT_APPROVAL_TIMEOUT_SECONDS, MAX_APPROVAL_TIMEOUT_SECONDS

from .arguments import Arg, ToolError, validate_arguments
from .backend_errors import BackendUnavailable, backend_reason, unavailable
from .caller import STARTED_BY, Caller, caller_from_headers
from .idempotency import IDEMPOTENCY_ARG, start_once
from .job_status import LAUNCHER_METADATA, JobStatus, orchestrator_of, without_key
from .jobs import fetch_job
from .tool import job_tool, public_message

bp = df.Blueprint()

MAX_TASK_CHARS = 20_000
IDEMPOTENCY_HEADER = "Idempotency-Key"

SpecBuilder = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Launcher:
    args: tuple[Arg, ...]
    build: SpecBuilder


LAUNCHERS: dict[str, Launcher] = {}


async def launch(client: df.DurableOrchestrationClient, workflow: str, spec: dict[str, Any],
                 idempotency_key: Optional[str], caller: Caller) -> JobStatus:
    """Start the workflow's job for `caller` (or find the one of `idempotency_key`) and return its status
    object. A signed-in caller's job gets an id in their namespace and records who started it (tools/caller.py)."""
    try:
        require_model()
    except ModelNotConfiguredError as error:
        raise ToolError(f"No job was started: {error}") from None
    orchestrator = orchestrator_of(workflow)
    if caller.signed_in:
        spec = {**spec, STARTED_BY: caller.record()}
    try:
        if idempotency_key is None:
            job_id = await client.start_new(orchestrator, caller.new_job_id(), spec)
        else:
            job_id = await start_once(client, orchestrator, workflow, spec, idempotency_key, caller)
    except ToolError:
        raise
    except Exception as error:  # the backend failed the start: say why, once, in words
        reason = backend_reason(error)
        if reason is None:
            raise
        raise unavailable("No job was started", reason) from None
    return await fetch_job(client, job_id, caller)


def spec_of(build: SpecBuilder, values: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """The orchestration input `build` makes of checked arguments; a builder that names other jobs (a
    code swarm's `base`) takes `caller`, to refuse another person's job as it refuses an unknown one."""
    if "caller" in inspect.signature(build).parameters:
        return build(**values, caller=caller)
    return build(**values)


def launcher(bp: df.Blueprint, workflow: str, title: str, *args: Arg) -> Callable[[SpecBuilder], SpecBuilder]:
    """Register `build` (checked arguments -> orchestration input) as the workflow's MCP launcher (named
    `workflow`, titled `title` for people) and HTTP starter arguments."""

    def register(build: SpecBuilder) -> SpecBuilder:
        async def start(client: df.DurableOrchestrationClient, idempotency_key: Optional[str], caller: Caller,
                        **values: Any) -> dict[str, Any]:
            return (await launch(client, workflow, spec_of(build, values, caller), idempotency_key, caller)).public()

        start.__name__, start.__doc__ = workflow, build.__doc__
        all_args = (*args, IDEMPOTENCY_ARG)
        job_tool(bp, *all_args, output=JobStatus, title=title, metadata=LAUNCHER_METADATA,
                 hints={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False,
                        "openWorldHint": True})(start)
        LAUNCHERS[workflow] = Launcher(all_args, build)
        return build

    return register


def _text(name: str, description: str, required: bool = True) -> Arg:
    return Arg(name, "string", description, required=required, max_length=MAX_TASK_CHARS)


@launcher(bp, "run_agent", "Run an agent",
          _text("task", "What the agent should do."),
          _text("instructions", "System instructions for the agent.", required=False),
          Arg("tools", "array", "Built-in tools the agent may call.", items="string", choices=tuple(BUILTIN_TOOLS)),
          Arg("model", "string", "Model name (default: the configured model).", max_length=200))
def run_agent(task: str, instructions: Optional[str], tools: Optional[list[str]], model: Optional[str]) -> dict:
    """Start a durable agent job that survives crashes and rate limits; returns at once with the job's
    status object. Follow it with wait_for_job or get_job."""
    return {"task": task, "instructions": instructions, "tools": tools or [], "model": model}


@launcher(bp, "run_swarm", "Run a swarm",
          _text("goal", "What the team of agents should produce."),
          Arg("max_workers", "integer", "At most this many specialist agents.", default=DEFAULT_MAX_WORKERS,
              minimum=1, maximum=MAX_WORKERS_LIMIT),
          Arg("quality_threshold", "integer", f"The judge's score (0-100) the result must reach; below it a fixer "
              f"repairs it, at most {MAX_FIX_ROUNDS} rounds.", default=DEFAULT_QUALITY_THRESHOLD,
              minimum=0, maximum=100))
def run_swarm(goal: str, max_workers: int, quality_threshold: int) -> dict:
    """Start a swarm job: a planner writes a shared contract and tasks, specialist agents work in parallel,
    a judge scores the result and a fixer repairs it while the score is below the threshold. Returns at
    once with the job's status object; follow it with wait_for_job or get_job."""
    return {"goal": goal, "max_workers": max_workers, "quality_threshold": quality_threshold}


@launcher(bp, "plan_trip", "Plan a trip",
          _text("request", "The trip you want: who, when, budget, what you like."),
          Arg("approval_timeout_seconds", "integer", "How long the job waits for your approval before it is "
              "canceled, in seconds (24 hours by default).", default=DEFAULT_APPROVAL_TIMEOUT_SECONDS,
              minimum=1, maximum=MAX_APPROVAL_TIMEOUT_SECONDS))
def plan_trip(request: str, approval_timeout_seconds: int) -> dict:
    """Start a trip-planning job: destination, itinerary and local recommendations agents, then the job
    waits for your approval (status waiting_for_input; answer with send_job_input) and books the trip.
    Returns at once with the job's status object."""
    return {"request": request, "approval_timeout_seconds": approval_timeout_seconds}


def _json_response(body: dict[str, Any], status_code: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status_code, mimetype="application/json")


@bp.route(route="jobs/{workflow}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_job_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """HTTP starter: body = the launcher's arguments as a JSON object, `Idempotency-Key` header optional;
    202 with the check-status payload, 400 with {"error"} for bad input, 404 for an unknown workflow."""
    workflow = req.route_params.get("workflow", "")
    found = LAUNCHERS.get(workflow)
    if found is None:
        return _json_response({"error": f"Unknown workflow '{workflow}'. Allowed: {', '.join(LAUNCHERS)}."}, 404)
    try:
        try:
            body = json.loads(req.get_body() or b"{}")
        except ValueError:
            raise ToolError("The body is not JSON. Allowed: a JSON object of the launcher's arguments.") from None
        if not isinstance(body, dict):
            raise ToolError("The body is not a JSON object. Allowed: a JSON object of the launcher's arguments.")
        header = req.headers.get(IDEMPOTENCY_HEADER)
        if header is not None:
            body = {**body, IDEMPOTENCY_ARG.name: header}
        values = validate_arguments(workflow, found.args, body)
        key = values.pop(IDEMPOTENCY_ARG.name)
        caller = caller_from_headers(req.headers)
        job = await launch(client, workflow, spec_of(found.build, values, caller), key, caller)
    except BackendUnavailable as error:
        return _json_response({"error": str(error)}, 503)
    except ToolError as error:
        return _json_response({"error": str(error)}, 400)
    except Exception as error:  # the Durable backend failed in a way not seen before: say so, without a stack
        return _json_response({"error": f"No job was started: {public_message(error)}"}, 503)
    if not caller.signed_in:
        return client.create_check_status_response(req, job.job_id)
    # a team member gets Azure's check-status payload without the system key the extension puts in its URLs:
    # that key opens the management API to every job (the operator's, issue 20)
    payload = {name: without_key(url) for name, url in client.create_http_management_payload(job.job_id).items()
               if isinstance(url, str)}
    return func.HttpResponse(json.dumps(payload), status_code=202, mimetype="application/json",
                             headers={"Location": payload["statusQueryGetUri"]})
