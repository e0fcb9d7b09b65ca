"""Workflow launchers: MCP tools that start a job and return at once with its status object, and
an HTTP starter (`POST /api/jobs/{workflow}`) that answers 202 with the check-status links."""

import json
import math
from typing import Any, Optional

import azure.durable_functions as df
import azure.functions as func

from orchestrations.builtin_tools import validate_tool_names
from orchestrations.model_config import require_model
from orchestrations.swarm import DEFAULT_MAX_WORKERS, DEFAULT_QUALITY_THRESHOLD, MAX_FIX_ROUNDS, MAX_WORKERS_LIMIT
from orchestrations.trip import DEFAULT_APPROVAL_TIMEOUT_SECONDS, MAX_APPROVAL_TIMEOUT_SECONDS

from .job_status import JobError, orchestrator_of
from .jobs import as_text, fetch_job

bp = df.Blueprint()

MAX_TASK_CHARS = 20_000


def required_text(name: str, value: Any, hint: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise JobError(f"{name} is required: {hint}")
    if len(value) > MAX_TASK_CHARS:
        raise JobError(f"{name} is {len(value)} characters; the limit is {MAX_TASK_CHARS}")
    return value


def bounded_int(name: str, value: Any, default: int, low: int, high: int) -> int:
    """An optional whole-number argument; MCP clients may send it as a number or as text."""
    if value is None or value == "":
        return default
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not number.is_integer() or not low <= number <= high:
        raise JobError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(number)


def agent_spec(task: Any, instructions: Any = None, tools: Any = None, model: Any = None) -> dict[str, Any]:
    required_text("task", task, "say what the agent should do")
    if instructions is not None and not isinstance(instructions, str):
        raise JobError("instructions must be a string")
    if model is not None and not isinstance(model, str):
        raise JobError("model must be a string")
    if isinstance(tools, str):
        tools = [t.strip() for t in tools.split(",") if t.strip()]
    try:
        names = validate_tool_names(tools)
    except ValueError as exc:
        raise JobError(str(exc)) from None
    return {"task": task, "instructions": instructions, "tools": names, "model": model}


def swarm_spec(goal: Any, max_workers: Any = None, quality_threshold: Any = None) -> dict[str, Any]:
    return {"goal": required_text("goal", goal, "say what the swarm should produce"),
            "max_workers": bounded_int("max_workers", max_workers, DEFAULT_MAX_WORKERS, 1, MAX_WORKERS_LIMIT),
            "quality_threshold": bounded_int("quality_threshold", quality_threshold, DEFAULT_QUALITY_THRESHOLD,
                                             0, 100)}


def trip_spec(request: Any, approval_timeout_seconds: Any = None) -> dict[str, Any]:
    return {"request": required_text("request", request, "describe the trip you want"),
            "approval_timeout_seconds": bounded_int("approval_timeout_seconds", approval_timeout_seconds,
                                                    DEFAULT_APPROVAL_TIMEOUT_SECONDS, 1,
                                                    MAX_APPROVAL_TIMEOUT_SECONDS)}


SPEC_BUILDERS = {"run_agent": agent_spec, "run_swarm": swarm_spec, "plan_trip": trip_spec}


async def launch(client: df.DurableOrchestrationClient, workflow: str, spec: dict[str, Any]) -> dict[str, Any]:
    try:
        require_model()
    except RuntimeError as exc:
        raise JobError(str(exc)) from None
    job_id = await client.start_new(orchestrator_of(workflow), None, spec)
    return await fetch_job(client, job_id)


@bp.mcp_tool()
@bp.mcp_tool_property(arg_name="task", description="What the agent should do.")
@bp.mcp_tool_property(arg_name="instructions", is_required=False, description="System instructions for the agent.")
@bp.mcp_tool_property(arg_name="tools", is_required=False, as_array=True,
                      description="Built-in tools the agent may call: fetch_url, calculate.")
@bp.mcp_tool_property(arg_name="model", is_required=False, description="Model name (default: configured model).")
@bp.durable_client_input(client_name="client")
async def run_agent(task: str, client, instructions: Optional[str] = None, tools: Optional[list[str]] = None,
                    model: Optional[str] = None) -> str:
    """Start a durable agent job that survives crashes and rate limits; returns at once with the job's
    status object. Follow it with wait_for_job or get_job."""
    return as_text(await launch(client, "run_agent", agent_spec(task, instructions, tools, model)))


@bp.mcp_tool()
@bp.mcp_tool_property(arg_name="goal", description="What the team of agents should produce.")
@bp.mcp_tool_property(arg_name="max_workers", is_required=False,
                      description=f"At most this many specialist agents, 1-{MAX_WORKERS_LIMIT} "
                                  f"(default {DEFAULT_MAX_WORKERS}).")
@bp.mcp_tool_property(arg_name="quality_threshold", is_required=False,
                      description=f"The judge's score (0-100) the result must reach; below it a fixer repairs "
                                  f"it, at most {MAX_FIX_ROUNDS} rounds (default {DEFAULT_QUALITY_THRESHOLD}).")
@bp.durable_client_input(client_name="client")
async def run_swarm(goal: str, client, max_workers: Optional[int] = None,
                    quality_threshold: Optional[int] = None) -> str:
    """Start a swarm job: a planner writes a shared contract and tasks, specialist agents work in parallel,
    a judge scores the result and a fixer repairs it while the score is below the threshold. Returns at
    once with the job's status object; follow it with wait_for_job or get_job."""
    return as_text(await launch(client, "run_swarm", swarm_spec(goal, max_workers, quality_threshold)))


@bp.mcp_tool()
@bp.mcp_tool_property(arg_name="request", description="The trip you want: who, when, budget, what you like.")
@bp.mcp_tool_property(arg_name="approval_timeout_seconds", is_required=False,
                      description="How long the job waits for your approval before it is canceled "
                                  f"(default {DEFAULT_APPROVAL_TIMEOUT_SECONDS}, i.e. 24 hours).")
@bp.durable_client_input(client_name="client")
async def plan_trip(request: str, client, approval_timeout_seconds: Optional[int] = None) -> str:
    """Start a trip-planning job: destination, itinerary and local recommendations agents, then the job
    waits for your approval (status waiting_for_input; answer with send_job_input) and books the trip.
    Returns at once with the job's status object."""
    return as_text(await launch(client, "plan_trip", trip_spec(request, approval_timeout_seconds)))


@bp.route(route="jobs/{workflow}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_job_http(req: func.HttpRequest, client) -> func.HttpResponse:
    """HTTP starter: body = the launcher's arguments as JSON; 202 with the check-status links."""
    workflow = req.route_params.get("workflow", "")
    builder = SPEC_BUILDERS.get(workflow)
    if builder is None:
        return func.HttpResponse(json.dumps({"error": f"Unknown workflow {workflow!r}"}), status_code=404,
                                 mimetype="application/json")
    try:
        body = req.get_json() if req.get_body() else {}
        spec = builder(**body) if isinstance(body, dict) else builder(body)
        require_model()
        job_id = await client.start_new(orchestrator_of(workflow), None, spec)
    except (ValueError, TypeError, RuntimeError) as exc:
        return func.HttpResponse(json.dumps({"error": str(exc)}), status_code=400, mimetype="application/json")
    return client.create_check_status_response(req, job_id)


