"""What the local host adds for jobs on top of the Azure extension's MCP surface: MCP Tasks and
elicitation, for tools whose `_meta` declares a job contract (host/mcp/job_tools.py).

One `Server.middleware` (the SDK's hook around every request) does it, so the app's tools and the
edge of the server stay as they are:

- `tools/list` on a connection with the Tasks utility (2025-11-25; host/mcp/capabilities.py declares
  `capabilities.tasks` there): tools with role `start` list `execution.taskSupport: "optional"`;
  2026-07-28 `server/discover` lists the tasks extension (`Server.extensions`).
- `tools/call` of a `start` tool that asks for a task: the task answer (host/mcp/tasks.py).
- `tools/call` of a `wait` tool whose result is a job waiting for input, from a client that declared
  elicitation: the person is asked (form mode, the job's input schema) and a valid answer is sent
  as the job's input, then the tool runs again; decline and cancel are reported in the result and
  leave the job as it is. Over 2025-11-25 the question is an `elicitation/create` request on the
  call's own connection: the legacy SSE stream, or, on Streamable HTTP, the stream of the call's own
  POST when the client keeps its `Mcp-Session-Id` (host/mcp/back_channel.py); a client that does not
  sees the job waiting, as without elicitation. Over 2026-07-28 it is a multi-round-trip
  `InputRequiredResult` (SEP-2322): the client answers by calling the tool again with `inputResponses`.
- `tasks/get|result|list|cancel|update`: request handlers.
"""
from __future__ import annotations

import base64
import json
import logging
from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.shared.exceptions import NoBackChannelError

from host.http.bodies import parse_json
from host.mcp.job_input import answer_data, elicitation_params, request_key
from host.mcp.job_tools import WAITING, JobContract, JobTools, contract_of, status_of
from host.mcp.capabilities import has_tasks
from host.mcp.tasks import EXTENSION_ID, TaskParams, Tasks, UpdateTaskParams, can_elicit, modern, wants_task

log = logging.getLogger("host.mcp")

Ctx = ServerRequestContext[Any, Any]
MAX_INPUT_ROUNDS = 5  # questions asked within one wait call


def _state(job_id: str, key: str) -> str:
    """MRTR `requestState`: which job's which input request the answer is for. Attacker-controlled on
    return (SEP-2322), and harmless: it can only name a job and request the caller could name anyway."""
    return base64.urlsafe_b64encode(json.dumps([job_id, key]).encode()).decode()


def _read_state(text: Any) -> tuple[str, str] | None:
    try:
        job_id, key = parse_json(base64.urlsafe_b64decode(str(text).encode()))
        return str(job_id), str(key)
    except (ValueError, TypeError):
        return None


def _with_note(result: types.CallToolResult, note: str) -> dict[str, Any]:
    wire = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    wire["content"] = [*wire.get("content", []), {"type": "text", "text": note}]
    return wire


class JobsMiddleware:
    """The `Server.middleware` entry; see the module docstring."""

    def __init__(self, jobs: JobTools, tasks: Tasks):
        self.jobs = jobs
        self.tasks = tasks

    async def __call__(self, ctx: Ctx, call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call":
            name = str((ctx.params or {}).get("name") or "")
            contract = self.jobs.contract(name)
            if contract is not None and contract.role == "start":
                return await self._start(ctx, name, contract, call_next)
            if contract is not None and contract.role == "wait":
                return await self._wait(ctx, contract, call_next)
        result = await call_next(ctx)
        if ctx.method == "tools/list" and isinstance(result, dict) and has_tasks(ctx.protocol_version):
            for tool in result.get("tools", []):
                if (contract := contract_of(types.Tool.model_validate(tool))) and contract.role == "start":
                    tool["execution"] = {"taskSupport": "optional"}
        return result

    async def _start(self, ctx: Ctx, name: str, contract: JobContract, call_next: CallNext) -> HandlerResult:
        asked, ttl_ms = wants_task(ctx)
        result = await call_next(ctx)
        if not asked or not isinstance(result, dict):
            return result
        started = types.CallToolResult.model_validate(result)
        return self.tasks.create(ctx, name, contract, started, ttl_ms) or result

    async def _wait(self, ctx: Ctx, contract: JobContract, call_next: CallNext) -> HandlerResult:
        params = dict(ctx.params or {})
        answered = await self._take_answer(ctx, contract, params)
        if answered is not None:
            return answered
        for _ in range(MAX_INPUT_ROUNDS):
            result = await call_next(ctx)
            waiting = self._input_request(result)
            if waiting is None or ctx.session.client_capabilities is None \
                    or ctx.session.client_capabilities.elicitation is None:
                return result
            job, request = waiting
            key = request_key(request, job)
            if modern(ctx):
                return {"resultType": "input_required", "requestState": _state(job[contract.id_field], key),
                        "inputRequests": {key: {"method": "elicitation/create",
                                                "params": elicitation_params(request)}}}
            if not can_elicit(ctx):
                return result
            answer = await self._ask(ctx, request)
            if answer is None:
                return result
            if answer.action != "accept":
                return _with_note(types.CallToolResult.model_validate(result),
                                  _declined(answer.action, request, str(params.get("name")), contract, job))
            sent = await self._send(ctx, contract, job[contract.id_field], request, answer.content)
            if sent is not None:
                return sent
        return result

    @staticmethod
    def _input_request(result: HandlerResult) -> tuple[dict[str, Any], dict[str, Any]] | None:
        if not isinstance(result, dict):
            return None
        job = status_of(types.CallToolResult.model_validate(result))
        request = job.get("input_request") if job and job.get("status") == WAITING else None
        return (job, request) if isinstance(request, dict) else None

    async def _ask(self, ctx: Ctx, request: dict[str, Any]) -> types.ElicitResult | None:
        params = elicitation_params(request)
        try:
            return await ctx.session.elicit_form(params["message"], params["requestedSchema"],
                                                 related_request_id=ctx.request_id)
        except NoBackChannelError:
            return None

    async def _send(self, ctx: Ctx, contract: JobContract, job_id: str, request: dict[str, Any],
                    content: Any) -> dict[str, Any] | None:
        """Send an accepted answer as the job's input; a result to return when it could not be sent."""
        data, problem = answer_data(request, content)
        if problem is None:
            sent = await self.jobs.send_input(ctx, contract, job_id, str(request.get("event")), data)
            if not sent.is_error:
                return None
            return sent.model_dump(by_alias=True, exclude_none=True, mode="json")
        status = await self.jobs.status(ctx, contract, job_id)
        return _with_note(status, f"The answer was not sent to the job: {problem}.")

    async def _take_answer(self, ctx: Ctx, contract: JobContract, params: dict[str, Any]) -> HandlerResult:
        """2026-07-28 retry carrying the person's answer: send it, then wait on (None), or report."""
        state = _read_state(params.get("requestState")) if params.get("requestState") else None
        responses = params.get("inputResponses")
        if state is None or not isinstance(responses, dict):
            return None
        job_id, key = state
        result = await self.jobs.status(ctx, contract, job_id)
        job = status_of(result) or {}
        request = job.get("input_request") if job.get("status") == WAITING else None
        response = responses.get(key)
        if not isinstance(request, dict) or request_key(request, job) != key or not isinstance(response, dict):
            return None  # answered already, or the job moved on: just wait on
        if response.get("action") != "accept":
            return _with_note(result, _declined(str(response.get("action")), request, str(params.get("name")),
                                                contract, job))
        return await self._send(ctx, contract, job_id, request, response.get("content"))


def _declined(action: str, request: dict[str, Any], wait_tool: str, contract: JobContract,
              job: dict[str, Any]) -> str:
    """What a declined or dismissed question leaves, and the calls that go on from there, with the job's id and
    event filled in, as every job result says what to do next (issue 21 §4)."""
    how = "declined" if action == "decline" else "dismissed"
    job_id, event = json.dumps(job.get(contract.id_field)), json.dumps(request.get("event"))
    answer = (f"{contract.input_tool}(job_id={job_id}, event={event}, data=<their answer>) sends it"
              if contract.input_tool else "the job's input tool sends it")
    return (f"The person {how} the job's input request ({request.get('event')}); the job is unchanged and "
            f"still waits. Next: when the person decides, {answer}; {wait_tool}(job_id={job_id}) asks them again.")


def install(server: Server, jobs: JobTools, tasks: Tasks) -> None:
    """Add the middleware, the `tasks/*` methods and the tasks extension to the SDK server."""
    server.middleware.append(JobsMiddleware(jobs, tasks))
    if jobs.starts_jobs():
        server.extensions[EXTENSION_ID] = {}
    server.add_request_handler("tasks/get", TaskParams, tasks.get)
    server.add_request_handler("tasks/result", TaskParams, tasks.result)
    server.add_request_handler("tasks/cancel", TaskParams, tasks.cancel)
    server.add_request_handler("tasks/list", types.PaginatedRequestParams, tasks.list)
    server.add_request_handler("tasks/update", UpdateTaskParams, tasks.update)
