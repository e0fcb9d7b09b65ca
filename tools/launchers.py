"""Workflow launchers: MCP tools that start a job and return at once with its status object, and
an HTTP starter (`POST /api/jobs/{workflow}`) that answers 202 with the check-status links."""

import json
from typing import Any, Optional

import azure.durable_functions as df
import azure.functions as func

from orchestrations.builtin_tools import validate_tool_names
from orchestrations.model_config import require_model

from .job_status import JobError, orchestrator_of
from .jobs import as_text, fetch_job

bp = df.Blueprint()

MAX_TASK_CHARS = 20_000


def agent_spec(task: Any, instructions: Any = None, tools: Any = None, model: Any = None) -> dict[str, Any]:
    if not isinstance(task, str) or not task.strip():
        raise JobError("task is required: say what the agent should do")
    if len(task) > MAX_TASK_CHARS:
        raise JobError(f"task is {len(task)} characters; the limit is {MAX_TASK_CHARS}")
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


SPEC_BUILDERS = {"run_agent": agent_spec}


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


