"""MCP Tasks on the local host, mapped onto durable jobs: the 2025-11-25 Tasks utility and the
2026-07-28 tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663).

Which tools make tasks: those whose `_meta` declares `"durable-job": {"role": "start", ...}`
(host/mcp/job_tools.py); nothing here knows the app's tool names. A task-augmented call of such a
tool runs the tool as usual (it starts the job and returns its status object at once), and the
answer is a task whose id is the job id:

- 2025-11-25: the request carries `params.task: {ttl?}`; the tool lists `execution.taskSupport:
  "optional"`; the server declares `capabilities.tasks` (list, cancel, requests.tools.call).
  `tasks/get` and `tasks/list` read the job, `tasks/result` waits for its end (asking the person
  with `elicitation/create` meanwhile when the job needs input and the connection can carry it,
  and sending `notifications/tasks/status` on its response stream), `tasks/cancel` cancels it.
- 2026-07-28: the client lists the extension in the request's capabilities; the result is marked
  `resultType: "task"`; `tasks/get` inlines the result or the input request (an `elicitation/create`
  form), `tasks/update` answers it, `tasks/cancel` acknowledges and cancels.

Status mapping: pending/running/suspended -> working, waiting_for_input -> input_required,
completed -> completed, canceled -> cancelled; failed -> failed (2025-11-25; `tasks/result` returns
the status tool's result with `isError`) or completed with that `isError` result (2026-07-28, where
`failed` is for JSON-RPC errors only). `ttl` (ms; 2026: `ttlSeconds`) defaults to 24 hours and is
capped at 7 days; after it the task (not the job) is gone. `pollInterval` is 2 s.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
from datetime import datetime, timezone
from typing import Any

import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from host.http.bodies import parse_json
from host.mcp.context import caller_key
from host.mcp.job_input import answer_data, elicitation_params, request_key
from host.mcp.job_tools import TERMINAL, WAITING, JobContract, JobTools, result_text, status_of
from host.mcp.task_store import TaskRecord, TaskStore

log = logging.getLogger("host.mcp")

EXTENSION_ID = "io.modelcontextprotocol/tasks"
RELATED_TASK = "io.modelcontextprotocol/related-task"
DEFAULT_TTL_MS = 24 * 3600 * 1000
MAX_TTL_MS = 7 * 24 * 3600 * 1000
POLL_INTERVAL_MS = 2000
RESULT_POLL_SECONDS = 0.5
LIST_PAGE_SIZE = 50
TASK_STATUS = {"pending": "working", "running": "working", "suspended": "working", WAITING: "input_required",
               "completed": "completed", "failed": "failed", "canceled": "cancelled"}
CAPABILITY = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}

Ctx = ServerRequestContext[Any, Any]


class UpdateTaskParams(types.RequestParams):
    """`tasks/update` (2026-07-28 tasks extension)."""

    task_id: str = Field(alias="taskId")
    input_responses: dict[str, Any] = Field(default_factory=dict, alias="inputResponses")
    request_state: str | None = Field(default=None, alias="requestState")


class TaskParams(types.RequestParams):
    """`tasks/get`, `tasks/result`, `tasks/cancel` of either era (2026 adds `requestState`)."""

    task_id: str = Field(alias="taskId")
    request_state: str | None = Field(default=None, alias="requestState")


def modern(ctx: Ctx) -> bool:
    """A 2026-07-28 (single-exchange) request, as opposed to one of the handshake era."""
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def wants_task(ctx: Ctx) -> tuple[bool, int | None]:
    """Whether this `tools/call` asks for a task, and the ttl (ms) it asks for."""
    params = ctx.params or {}
    if modern(ctx):
        capabilities = ctx.session.client_capabilities
        return bool(capabilities and capabilities.extensions and EXTENSION_ID in capabilities.extensions), None
    task = params.get("task")
    if not isinstance(task, dict):
        return False, None
    ttl = task.get("ttl")
    return True, int(ttl) if isinstance(ttl, (int, float)) and not isinstance(ttl, bool) and ttl > 0 else None


class Tasks:
    """Task creation and the `tasks/*` methods; see the module docstring."""

    def __init__(self, store: TaskStore, jobs: JobTools):
        self.store = store
        self.jobs = jobs

    # ---- creation ---------------------------------------------------------------------------
    def create(self, ctx: Ctx, tool: str, contract: JobContract, started: types.CallToolResult,
               ttl_ms: int | None) -> dict[str, Any] | None:
        """The task answer for a launch that started a job, or None when it did not (an error result)."""
        job = status_of(started)
        job_id = job.get(contract.id_field) if job else None
        if not isinstance(job_id, str):
            return None
        record = self.store.add(job_id, tool, min(ttl_ms or DEFAULT_TTL_MS, MAX_TTL_MS), caller_key(ctx))
        task = self._task(ctx, record, job)
        if modern(ctx):
            return {"resultType": "task", **task}
        return {"task": task, "_meta": {"io.modelcontextprotocol/model-immediate-response":
                                        f"Started job {job_id}; it runs in the background as task {job_id}."}}

    def _task(self, ctx: Ctx, record: TaskRecord, job: dict[str, Any]) -> dict[str, Any]:
        status = TASK_STATUS.get(str(job.get("status")), "working")
        if modern(ctx) and status == "failed":
            status = "completed"  # 2026: failed is for JSON-RPC errors; the result carries isError
        progress = job.get("progress") if isinstance(job.get("progress"), dict) else {}
        task: dict[str, Any] = {"taskId": record.task_id, "status": status,
                                "statusMessage": job.get("error") or progress.get("message") or status,
                                "createdAt": _iso(record.created_at),
                                "lastUpdatedAt": job.get("updated_at") or _iso(record.created_at)}
        if modern(ctx):
            task["ttlSeconds"] = None if record.ttl_ms is None else record.ttl_ms // 1000
            task["pollIntervalMilliseconds"] = POLL_INTERVAL_MS
        else:
            task["ttl"] = record.ttl_ms
            task["pollInterval"] = POLL_INTERVAL_MS
        return task

    # ---- reading ----------------------------------------------------------------------------
    def _record(self, ctx: Ctx, task_id: str) -> tuple[TaskRecord, JobContract]:
        record = self.store.get(task_id, caller_key(ctx))
        contract = self.jobs.contract(record.tool) if record else None
        if record is None or contract is None:
            raise MCPError(code=types.INVALID_PARAMS, message="Failed to retrieve task: Task not found or expired")
        return record, contract

    async def _job(self, ctx: Ctx, record: TaskRecord, contract: JobContract) -> tuple[dict[str, Any],
                                                                                       types.CallToolResult]:
        result = await self.jobs.status(ctx, contract, record.task_id)
        job = status_of(result)
        if job is None:  # the job is gone (purged) or its status tool failed
            raise MCPError(code=types.INVALID_PARAMS, message=f"Failed to retrieve task: {result_text(result)}")
        return job, result

    async def get(self, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        record, contract = self._record(ctx, params.task_id)
        job, result = await self._job(ctx, record, contract)
        task = self._task(ctx, record, job)
        if modern(ctx):
            if task["status"] == "input_required" and isinstance(job.get("input_request"), dict):
                request = job["input_request"]
                task["inputRequests"] = {request_key(request, job): {"method": "elicitation/create",
                                                                     "params": elicitation_params(request)}}
            elif task["status"] == "completed":
                task["result"] = final_result(result, job)
        return task

    async def list(self, ctx: Ctx, params: types.PaginatedRequestParams) -> dict[str, Any]:
        after = _decode_cursor(params.cursor)
        records = self.store.page(after, LIST_PAGE_SIZE + 1, caller_key(ctx))
        tasks = []
        for record in records[:LIST_PAGE_SIZE]:
            contract = self.jobs.contract(record.tool)
            job = status_of(await self.jobs.status(ctx, contract, record.task_id)) if contract else None
            if job is not None:
                tasks.append(self._task(ctx, record, job))
        following = records[LIST_PAGE_SIZE - 1] if len(records) > LIST_PAGE_SIZE else None
        page: dict[str, Any] = {"tasks": tasks}
        if following is not None:
            page["nextCursor"] = _encode_cursor(following)
        return page

    # ---- result (2025-11-25) ------------------------------------------------------------------
    async def result(self, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        """Block until the job ends; meanwhile ask for input where the connection allows it."""
        record, contract = self._record(ctx, params.task_id)
        last_status = None
        asked: set[str] = set()
        while True:
            job, result = await self._job(ctx, record, contract)
            task = self._task(ctx, record, job)
            if task["status"] != last_status:
                last_status = task["status"]
                await _notify_status(ctx, task)
            if job.get("status") in TERMINAL:
                final = final_result(result, job)
                final["_meta"] = {**(final.get("_meta") or {}), RELATED_TASK: {"taskId": record.task_id}}
                return final
            request = job.get("input_request") if job.get("status") == WAITING else None
            if isinstance(request, dict) and can_elicit(ctx) and request_key(request, job) not in asked:
                asked.add(request_key(request, job))
                await self._elicit(ctx, record, contract, request)
                continue
            await asyncio.sleep(RESULT_POLL_SECONDS)

    async def _elicit(self, ctx: Ctx, record: TaskRecord, contract: JobContract, request: dict[str, Any]) -> None:
        params = elicitation_params(request)
        answer = await ctx.session.send_request(
            types.ElicitRequest(params=types.ElicitRequestFormParams(
                message=params["message"], requested_schema=params["requestedSchema"],
                _meta={RELATED_TASK: {"taskId": record.task_id}})),
            types.ElicitResult, metadata=_related(ctx))
        if answer.action == "accept":
            data, problem = answer_data(request, answer.content)
            if problem is None:
                await self.jobs.send_input(ctx, contract, record.task_id, str(request.get("event")), data)
            else:
                log.info("task %s: input not sent: %s", record.task_id, problem)

    # ---- update (2026) and cancel ------------------------------------------------------------
    async def update(self, ctx: Ctx, params: UpdateTaskParams) -> dict[str, Any]:
        """Answer the outstanding input request; always an empty acknowledgement (SEP-2663)."""
        record = self.store.get(params.task_id, caller_key(ctx))
        contract = self.jobs.contract(record.tool) if record else None
        if record is None or contract is None:
            return {}
        job = status_of(await self.jobs.status(ctx, contract, record.task_id)) or {}
        request = job.get("input_request") if job.get("status") == WAITING else None
        response = params.input_responses.get(request_key(request, job)) if isinstance(request, dict) else None
        if isinstance(response, dict) and response.get("action") == "accept":
            data, problem = answer_data(request, response.get("content"))
            if problem is None:
                await self.jobs.send_input(ctx, contract, record.task_id, str(request.get("event")), data)
        return {}

    async def cancel(self, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        if modern(ctx):
            record = self.store.get(params.task_id, caller_key(ctx))
            contract = self.jobs.contract(record.tool) if record else None
            if record is not None and contract is not None:
                await self.jobs.cancel(ctx, contract, record.task_id, "canceled through MCP tasks/cancel")
            return {}
        record, contract = self._record(ctx, params.task_id)
        job, _ = await self._job(ctx, record, contract)
        if job.get("status") in TERMINAL:
            raise MCPError(code=types.INVALID_PARAMS,
                           message=f"Cannot cancel task: it is already {TASK_STATUS[job['status']]}")
        canceled = await self.jobs.cancel(ctx, contract, record.task_id, "canceled through MCP tasks/cancel")
        job = status_of(canceled) or job
        if job.get("status") != "canceled":
            raise MCPError(code=types.INTERNAL_ERROR, message=f"Cannot cancel task: {result_text(canceled)}")
        return self._task(ctx, record, job)


def final_result(result: types.CallToolResult, job: dict[str, Any]) -> dict[str, Any]:
    """The task's result: the status tool's result, marked `isError` when the job failed or was canceled."""
    final = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    if job.get("status") in ("failed", "canceled"):
        final["isError"] = True
    return final


def can_elicit(ctx: Ctx) -> bool:
    """The client declared form elicitation and this connection can carry a request to it."""
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.elicitation is not None and ctx.session.can_send_request)


def _related(ctx: Ctx) -> ServerMessageMetadata:
    return ServerMessageMetadata(related_request_id=ctx.request_id)


async def _notify_status(ctx: Ctx, task: dict[str, Any]) -> None:
    """`notifications/tasks/status` on this request's stream (dropped where the transport cannot carry it)."""
    try:
        await ctx.session.send_notification(
            types.TaskStatusNotification(params=types.TaskStatusNotificationParams.model_validate(task)),
            related_request_id=ctx.request_id)
    except Exception as error:  # advisory: the client polls anyway (spec: MUST NOT rely on it)
        log.debug("task status notification not sent: %s", error)


def _encode_cursor(record: TaskRecord) -> str:
    return base64.urlsafe_b64encode(json.dumps([record.created_at, record.task_id]).encode()).decode()


def _decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    try:
        created_at, task_id = parse_json(base64.urlsafe_b64decode(cursor.encode()))
        return float(created_at), str(task_id)
    except (ValueError, TypeError):
        raise MCPError(code=types.INVALID_PARAMS, message="Invalid cursor: pass the nextCursor of tasks/list") from None

