"""Workflow launchers: MCP tools that start a job and return at once with its status object, and
the HTTP starter (`POST /api/jobs/{workflow}`) that answers 202 with Azure's check-status payload.

One launcher per job of tools/job_registry.py, built when this module is imported (after the job
modules: agent_jobs.register_packages imports `orchestrations` first): the MCP tool of the job's
name, with the job's arguments plus `budget` and `idempotency_key` (every job's: tools/budget_arg.py,
tools/idempotency.py), and the same arguments for the HTTP starter,
so both check input in one place (tools/arguments.py) and start jobs in one place (`launch`).

`launch` is the one path every job starts through (checks, then the Durable start): what every job
needs at its start belongs there.
"""
from __future__ import annotations

import inspect
import json
from typing import Any, Optional

import azure.durable_functions as df
import azure.functions as func

from orchestrations.agents.model_config import ModelNotConfiguredError, require_model

from . import job_registry
from .arguments import ToolError, validate_arguments
from .backend_errors import BackendUnavailable, backend_reason, unavailable
from .budget_arg import BUDGET_ARG, with_budget
from .caller import STARTED_BY, Caller, caller_from_headers
from .conversations import CONTINUE_FROM, CONTINUE_FROM_ARG, continued_input, previous_conversation
from .idempotency import IDEMPOTENCY_ARG, start_once
from .job_registry import JobDeclaration, JobDeclarationError
from .job_status import LAUNCHER_METADATA, JobStatus, without_key
from .jobs import fetch_job
from .tool import TOOLS, job_tool, public_message

bp = df.Blueprint()

IDEMPOTENCY_HEADER = "Idempotency-Key"
LAUNCHER_HINTS = {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": True}


def launcher_args(job: JobDeclaration) -> tuple:
    """What the job's launcher takes: the job's own arguments, `continue_from` when the job continues
    conversations (tools/conversations.py), then `budget` and `idempotency_key`."""
    return (*job.args, *((CONTINUE_FROM_ARG,) if job.continues else ()), BUDGET_ARG, IDEMPOTENCY_ARG)


async def launch(client: df.DurableOrchestrationClient, job: JobDeclaration, values: dict[str, Any],
                 idempotency_key: Optional[str], caller: Caller) -> JobStatus:
    """Start `job` for `caller` with its checked argument `values` (or find the job of `idempotency_key`)
    and return its status object; `ToolError` when a check refuses the launch or the budget (`values`'
    `budget`, tools/budget_arg.py), `BackendUnavailable` when the Durable backend cannot start it. The
    orchestration's input is `values`, as the job's function receives them, with the job's budget and the
    conversation of the caller's job `continue_from` when given (tools/conversations.py); a signed-in
    caller's job gets an id in their namespace and records who started it (tools/caller.py)."""
    continue_from = values.get(CONTINUE_FROM)
    budgeted = with_budget({}, values.get(BUDGET_ARG.name))
    values = {name: value for name, value in values.items() if name not in (CONTINUE_FROM, BUDGET_ARG.name)}
    if job.check is not None:
        run_check(job, values, caller)
    try:
        require_model()
    except ModelNotConfiguredError as error:
        raise ToolError(f"No job was started: {error}") from None
    try:
        conversation = await previous_conversation(client, continue_from, caller) if continue_from else None
        spec = {**continued_input(values, conversation), **budgeted}
        spec = {**spec, STARTED_BY: caller.record()} if caller.signed_in else spec
        if idempotency_key is None:
            job_id = await client.start_new(job.orchestrator, caller.new_job_id(), spec)
        else:
            job_id = await start_once(client, job.orchestrator, job.name, spec, idempotency_key, caller)
    except ToolError:
        raise
    except Exception as error:  # the backend failed the start: say why, once, in words
        reason = backend_reason(error)
        if reason is None:
            raise
        raise unavailable("No job was started", reason) from None
    return await fetch_job(client, job_id, caller)


def run_check(job: JobDeclaration, values: dict[str, Any], caller: Caller) -> None:
    """The job's launch check with its arguments, and `caller` when it takes it (a check that names other
    jobs, as a code swarm's `base`, refuses another person's job as it refuses an unknown one)."""
    arguments = {arg.name: values[arg.name] for arg in job.args}
    if "caller" in inspect.signature(job.check).parameters:
        arguments["caller"] = caller
    job.check(**arguments)


def register_launcher(bp: df.Blueprint, job: JobDeclaration) -> None:
    """Register the job's MCP launcher (named after the job, titled for people) on `bp`;
    `JobDeclarationError` when a tool already has the job's name."""
    if job.name in TOOLS:
        raise JobDeclarationError(f"Job '{job.name}' ({job.source}) has the name of the {job.name} tool: give it "
                                  f"another name with @bp.job(name=...).")

    async def start(client: df.DurableOrchestrationClient, idempotency_key: Optional[str], caller: Caller,
                    **values: Any) -> dict[str, Any]:
        return (await launch(client, job, values, idempotency_key, caller)).public()

    start.__name__, start.__doc__ = job.name, job.description
    job_tool(bp, *launcher_args(job), output=JobStatus, title=job.title, metadata=LAUNCHER_METADATA,
             hints=LAUNCHER_HINTS)(start)


for declared in job_registry.jobs():
    register_launcher(bp, declared)
job_registry.close("tools/launchers.py")


def _json_response(body: dict[str, Any], status_code: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status_code, mimetype="application/json")


@bp.route(route="jobs/{workflow}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_job_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """HTTP starter: body = the launcher's arguments as a JSON object, `Idempotency-Key` header optional;
    202 with the check-status payload, 400 with {"error"} for bad input, 404 for an unknown workflow."""
    workflow = req.route_params.get("workflow", "")
    try:
        job = job_registry.job(workflow)
    except ToolError as error:
        return _json_response({"error": str(error)}, 404)
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
        values = validate_arguments(workflow, launcher_args(job), body)
        key = values.pop(IDEMPOTENCY_ARG.name)
        caller = caller_from_headers(req.headers)
        started = await launch(client, job, values, key, caller)
    except BackendUnavailable as error:
        return _json_response({"error": str(error)}, 503)
    except ToolError as error:
        return _json_response({"error": str(error)}, 400)
    except Exception as error:  # the Durable backend failed in a way not seen before: say so, without a stack
        return _json_response({"error": f"No job was started: {public_message(error)}"}, 503)
    if not caller.signed_in:
        return client.create_check_status_response(req, started.job_id)
    # a team member gets Azure's check-status payload without the system key the extension puts in its URLs:
    # that key opens the management API to every job (the operator's, issue 20)
    payload = {name: without_key(url) for name, url in client.create_http_management_payload(started.job_id).items()
               if isinstance(url, str)}
    return func.HttpResponse(json.dumps(payload), status_code=202, mimetype="application/json",
                             headers={"Location": payload["statusQueryGetUri"]})
