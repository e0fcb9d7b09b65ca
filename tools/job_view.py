"""The job view: a jobs list and a job's page (status, progress, step timeline, input, cancel,
retry), served by the app itself so it works the same on Azure and on the local host; and the
same page as an MCP App, plus the jobs as MCP resources.

HTTP (all under /api/job-view):
  GET  /api/job-view                          the page (HTML, one document, no data, no key in it)
  GET  /api/job-view/jobs?status&workflow&cursor&limit   a page of jobs (JSON, function key)
  GET  /api/job-view/jobs/{job_id}            {"job": status object, "steps": timeline} (function key)
  POST /api/job-view/jobs/{job_id}/input      {"event", "data"} -> status object (function key)
  POST /api/job-view/jobs/{job_id}/cancel     {"reason"?} -> status object (function key)
  POST /api/job-view/jobs/{job_id}/retry      -> status object (function key)

The page itself is anonymous because it holds nothing but code: it asks for the function key once
(or takes it from a link ending in `?code=<key>`: after the `#`, which browsers never send to a server,
e.g. `/api/job-view#/jobs/<id>?code=<key>`; or as the page's query), keeps it in
the browser's session storage and sends it in `x-functions-key` with every data request. So no
link the tools hand out (and so nothing that reaches a model) carries a key: a job's `view_url`
is the page plus `#/jobs/<id>`. Errors are JSON `{"error": message}` with 400 (bad input), 404
(unknown job) or 500.

MCP: `job://{job_id}` (the status object), `job://{job_id}/steps` (the timeline) and
`ui://jobs/job-view.html` (the page as an MCP App, `text/html;profile=mcp-app`; it shows the job
of the tool result it is attached to and reads updates through the host's `tools/call` and
`resources/read`).
"""

import base64
import hashlib
import json
from pathlib import Path
from typing import Any, Awaitable, Callable

import azure.durable_functions as df
import azure.functions as func

from .arguments import ToolError
from . import job_registry
from .caller import Caller, caller_from_headers, caller_of
from .job_status import STATUSES, VIEW_APP_URI, VIEW_ROUTE, client_status
from .job_timeline import load_steps
from .tool import TOOLS

bp = df.Blueprint()

APP_MIME_TYPE = "text/html;profile=mcp-app"
JOB_URI = "job://{job_id}"
STEPS_URI = "job://{job_id}/steps"
STATIC = Path(__file__).parent / "view"
ACTIONS = {"input": "send_job_input", "cancel": "cancel_job", "retry": "retry_job"}


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def page(mode: str) -> str:
    """The view as one HTML document: `web` (served over HTTP) or `app` (an MCP App). Its inline
    JSON config lists the status filter values (from the status object's definition) and the workflows
    (the app's declared jobs, tools/job_registry.py)."""
    config = json.dumps({"statuses": list(STATUSES), "workflows": list(job_registry.names())})
    return (_static("job_view.html").replace("{{mode}}", mode).replace("{{config}}", config.replace("</", "<\\/"))
            .replace("/*{{style}}*/", _static("job_view.css")).replace("/*{{script}}*/", _static("job_view.js")))


def content_security_policy() -> str:
    """Only this page's own inline script and style run (by hash); data comes from this origin only."""
    return (f"default-src 'none'; script-src '{_sha256(_static('job_view.js'))}'; "
            f"style-src '{_sha256(_static('job_view.css'))}'; connect-src 'self'; img-src 'self' data:; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def json_response(value: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(value, default=str), status_code=status, mimetype="application/json",
                             headers={"Cache-Control": "no-store"})


async def answered(action: Callable[[], Awaitable[Any]]) -> func.HttpResponse:
    """Run a view request; a ToolError is the caller's mistake (404 for an unknown job, else 400)."""
    try:
        return json_response(await action())
    except ToolError as error:
        return json_response({"error": str(error)}, 404 if str(error).startswith("Unknown job") else 400)


def request_json(req: func.HttpRequest) -> dict[str, Any]:
    if not req.get_body():
        return {}
    try:
        body = req.get_json()
    except ValueError:
        raise ToolError("The request body must be JSON.") from None
    if not isinstance(body, dict):
        raise ToolError("The request body must be a JSON object.")
    return body


async def run(name: str, client: df.DurableOrchestrationClient, arguments: dict[str, Any], caller: Caller) -> Any:
    """Run a job tool for `caller` with its own argument checks, as an MCP call would."""
    return await TOOLS[name].run(name, client, arguments, caller)


async def job_steps(client: df.DurableOrchestrationClient, job_id: str) -> list[dict[str, Any]]:
    """The step timeline of a job that exists (the caller checked it with get_job)."""
    return await load_steps(client, client_status(await client.get_status(job_id)))


async def job_with_steps(client: df.DurableOrchestrationClient, job_id: str, caller: Caller) -> dict[str, Any]:
    """The status object and the step timeline of one job."""
    job = await run("get_job", client, {"job_id": job_id}, caller)
    return {"job": job, "steps": await job_steps(client, job_id)}


@bp.route(route=VIEW_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def job_view_page(req: func.HttpRequest) -> func.HttpResponse:
    """The job view page: code only, so it needs no key; its data requests do."""
    return func.HttpResponse(page("web"), mimetype="text/html", headers={
        "Content-Security-Policy": content_security_policy(), "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


@bp.route(route=f"{VIEW_ROUTE}/jobs", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def job_view_list(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    # `code` is the function key when it comes in the query (Azure's form, as the banner says), not a filter
    arguments = {name: value for name, value in req.params.items() if value != "" and name != "code"}
    return await answered(lambda: run("list_jobs", client, arguments, caller_from_headers(req.headers)))


@bp.route(route=VIEW_ROUTE + "/jobs/{job_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def job_view_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await answered(lambda: job_with_steps(client, req.route_params.get("job_id", ""),
                                                 caller_from_headers(req.headers)))


@bp.route(route=VIEW_ROUTE + "/jobs/{job_id}/{action}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def job_view_action(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """input: {"event", "data"}; cancel: {"reason"?}; retry: {} -> the job's status object."""
    action = req.route_params.get("action", "")

    async def act() -> Any:
        if action not in ACTIONS:
            raise ToolError(f"Unknown action '{action}'. Allowed: {', '.join(ACTIONS)}.")
        arguments = {**request_json(req), "job_id": req.route_params.get("job_id", "")}
        if action == "cancel":
            arguments.setdefault("reason", "canceled from the job view")
        return await run(ACTIONS[action], client, arguments, caller_from_headers(req.headers))

    return await answered(act)


def job_of(context: Any, suffix: str = "") -> tuple[str, Caller]:
    """The job id in a `job://<id>[suffix]` resource URI of the trigger context, and who asks."""
    call = json.loads(context) if isinstance(context, (str, bytes)) else dict(context)
    job_id = str(call.get("uri", "")).removeprefix("job://")
    return (job_id.removesuffix(suffix) if suffix else job_id), caller_of(call)


@bp.mcp_resource_trigger(arg_name="context", uri=JOB_URI, resource_name="job", title="Job status",
                         description="A job's status object: status, progress, input request, output or error.",
                         mime_type="application/json")
@bp.durable_client_input(client_name="client")
async def job_resource(context: str, client: df.DurableOrchestrationClient) -> str:
    job_id, caller = job_of(context)
    return json.dumps(await run("get_job", client, {"job_id": job_id}, caller))


@bp.mcp_resource_trigger(arg_name="context", uri=STEPS_URI, resource_name="job_steps", title="Job steps",
                         description="A job's step timeline: agent steps, model and tool calls, sub-orchestrations, "
                                     "with start, duration, retries and previews of input and output.",
                         mime_type="application/json")
@bp.durable_client_input(client_name="client")
async def job_steps_resource(context: str, client: df.DurableOrchestrationClient) -> str:
    job_id, caller = job_of(context, "/steps")
    await run("get_job", client, {"job_id": job_id}, caller)  # checks the id, the caller and that the job exists
    return json.dumps({"job_id": job_id, "steps": await job_steps(client, job_id)})


@bp.mcp_resource_trigger(arg_name="context", uri=VIEW_APP_URI, resource_name="job_view", title="Job view",
                         description="A live view of a job: progress, step timeline, input, cancel and retry.",
                         mime_type=APP_MIME_TYPE, metadata=json.dumps({"ui": {"prefersBorder": True}}))
def job_view_app(context: str) -> str:
    return page("app")

