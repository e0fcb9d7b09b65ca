"""MCP Tasks on the local host, mapped onto durable jobs: the 2025-11-25 Tasks utility and the
2026-07-28 tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663).

Which tools make tasks: those whose `_meta` declares `"durable-job": {"role": "start", ...}`
(host/mcp/job_tools.py); nothing here knows the app's tool names. A task-augmented call of such a
tool runs the tool as usual (it starts the job and returns its status object at once), and the
answer is a task whose id is the job id:

- 2025-11-25: the request carries `params.task: {ttl?}`; the tool lists `execution.taskSupport:
  "optional"`; the server declares `capabilities.tasks` (list, cancel, requests.tools.call).
  `tasks/get` and `tasks/list` read the job, `tasks/result` waits for its end (asking the person
  with `elicitation/create` meanwhile when the job needs input and the connection can carry it: legacy
  SSE, or the `tasks/result` POST's own stream for a client that keeps its session, host/mcp/back_channel.py;
  and sending `notifications/tasks/status` on its response stream), `tasks/cancel` cancels it.
- 2026-07-28: the client lists the extension in the request's capabilities; the result is marked
  `resultType: "task"`; `tasks/get` inlines the result or the input request (an `elicitation/create`
  form), `tasks/update` answers it, `tasks/cancel` acknowledges and cancels.

A task that reached a terminal status keeps it, whatever its job does next (MCP 2025-11-25, Tasks, Task
Status Lifecycle: completed, failed and cancelled "MUST NOT transition to any other status"; the same report
against another SDK: a2aproject/a2a-js#636). The first time the host sees the job ended (any `tasks/*` read,
or just before the engine rewinds, restarts, replaces or purges the job: `before_job_changes`, which reads the
job as the task's creator, `OnBehalf` of the identity its task record keeps: issue 20), the task's
outcome and final result are recorded (host/mcp/task_store.py) and answered from then on: a failed job that
`retry_job` continues is followed as a job (`get_job`, `wait_for_job`), its task stays failed (issue 21 §1.1).
A job purged before it ended leaves its task cancelled.

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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from host.http.bodies import parse_json
from host.mcp.capabilities import has_tasks
from host.mcp.context import OnBehalf, caller_headers, caller_key
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


def require_tasks(ctx: Ctx) -> None:
    """`tasks/*` exist only where Tasks do (host/mcp/capabilities.py): -32601 at a handshake version before
    2025-11-25, as for any method the connection's version does not have."""
    if not modern(ctx) and not has_tasks(ctx.protocol_version):
        raise MCPError(code=types.METHOD_NOT_FOUND, message=f"Method not found: MCP Tasks came with protocol "
                                                            f"version 2025-11-25; this connection speaks "
                                                            f"{ctx.protocol_version}")


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
    if not isinstance(task, dict) or not has_tasks(ctx.protocol_version):  # no Tasks utility: a normal call
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
        record = self.store.add(job_id, tool, min(ttl_ms or DEFAULT_TTL_MS, MAX_TTL_MS), caller_key(ctx),
                                caller_headers(ctx))
        if record.outcome is not None:  # the same job launched again (an idempotency key): its task as it ended
            view = TaskView.settled(record.outcome)
        elif job.get("status") in TERMINAL:
            view = self._settle(record, outcome_of(started, job))
        else:
            view = TaskView.live(job)
        task = self._task(ctx, record, view)
        if modern(ctx):
            return {"resultType": "task", **task}
        return {"task": task, "_meta": {"io.modelcontextprotocol/model-immediate-response":
                                        f"Started job {job_id}; it runs in the background as task {job_id}."}}

    def _task(self, ctx: Ctx, record: TaskRecord, view: TaskView) -> dict[str, Any]:
        status = TASK_STATUS.get(view.status, "working")
        if modern(ctx) and status == "failed":
            status = "completed"  # 2026: failed is for JSON-RPC errors; the result carries isError
        task: dict[str, Any] = {"taskId": record.task_id, "status": status, "statusMessage": view.message or status,
                                "createdAt": _iso(record.created_at),
                                "lastUpdatedAt": view.updated_at or _iso(record.created_at)}
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

    async def _view(self, ctx: Ctx | None, record: TaskRecord, contract: JobContract) -> TaskView:
        """The task as it stands: its recorded outcome once it has one, else its job, read now (and the
        outcome recorded if the job has ended)."""
        if record.outcome is not None:
            return TaskView.settled(record.outcome)
        result = await self.jobs.status(ctx, contract, record.task_id)
        job = status_of(result)
        if job is None:  # the job is gone (purged) or its status tool failed
            raise MCPError(code=types.INVALID_PARAMS, message=f"Failed to retrieve task: {result_text(result)}")
        if job.get("status") not in TERMINAL:
            return TaskView.live(job)
        return self._settle(record, outcome_of(result, job))

    def _settle(self, record: TaskRecord, outcome: dict[str, Any]) -> TaskView:
        """Record the task's outcome; the first one recorded stays, and is the one answered."""
        settled = self.store.settle(record, outcome)
        return TaskView.settled(settled.outcome if settled is not None and settled.outcome else outcome)

    async def before_job_changes(self, job_ids: list[str], removed: bool) -> None:
        """Called by the engine before it rewinds, restarts or replaces ended jobs, or purges jobs
        (`removed`): the tasks of those jobs record their outcome first, so that it stays theirs."""
        for job_id in job_ids:
            record = self.store.find(job_id)
            contract = self.jobs.contract(record.tool) if record is not None and record.outcome is None else None
            if contract is None:
                continue
            result = await self.jobs.status(OnBehalf(record.principal), contract, job_id)
            job = status_of(result)
            if job is not None and job.get("status") in TERMINAL:
                self._settle(record, outcome_of(result, job))
            elif removed:
                self._settle(record, purged_outcome(job_id, job))

    async def get(self, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        require_tasks(ctx)
        record, contract = self._record(ctx, params.task_id)
        view = await self._view(ctx, record, contract)
        task = self._task(ctx, record, view)
        if modern(ctx):
            request = view.input_request()
            if task["status"] == "input_required" and request is not None:
                task["inputRequests"] = {request_key(request, view.job): {"method": "elicitation/create",
                                                                          "params": elicitation_params(request)}}
            elif task["status"] == "completed":
                task["result"] = view.result
        return task

    async def list(self, ctx: Ctx, params: types.PaginatedRequestParams) -> dict[str, Any]:
        require_tasks(ctx)
        after = _decode_cursor(params.cursor)
        records = self.store.page(after, LIST_PAGE_SIZE + 1, caller_key(ctx))
        tasks = []
        for record in records[:LIST_PAGE_SIZE]:
            contract = self.jobs.contract(record.tool)
            try:
                view = await self._view(ctx, record, contract) if contract else None
            except MCPError:  # its job is gone
                view = None
            if view is not None:
                tasks.append(self._task(ctx, record, view))
        following = records[LIST_PAGE_SIZE - 1] if len(records) > LIST_PAGE_SIZE else None
        page: dict[str, Any] = {"tasks": tasks}
        if following is not None:
            page["nextCursor"] = _encode_cursor(following)
        return page

    # ---- result (2025-11-25) ------------------------------------------------------------------
    async def result(self, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        """Block until the job ends; meanwhile ask for input where the connection allows it."""
        require_tasks(ctx)
        record, contract = self._record(ctx, params.task_id)
        last_status = None
        asked: set[str] = set()
        while True:
            view = await self._view(ctx, record, contract)
            task = self._task(ctx, record, view)
            if task["status"] != last_status:
                last_status = task["status"]
                await _notify_status(ctx, task)
            if view.result is not None:
                return {**view.result, "_meta": {**(view.result.get("_meta") or {}),
                                                 RELATED_TASK: {"taskId": record.task_id}}}
            request = view.input_request()
            if request is not None and can_elicit(ctx) and request_key(request, view.job) not in asked:
                asked.add(request_key(request, view.job))
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
        require_tasks(ctx)
        record = self.store.get(params.task_id, caller_key(ctx))
        contract = self.jobs.contract(record.tool) if record else None
        if record is None or contract is None:
            return {}
        try:
            view = await self._view(ctx, record, contract)
        except MCPError:
            return {}
        request = view.input_request()
        response = params.input_responses.get(request_key(request, view.job)) if request is not None else None
        if isinstance(response, dict) and response.get("action") == "accept":
            data, problem = answer_data(request, response.get("content"))
            if problem is None:
                await self.jobs.send_input(ctx, contract, record.task_id, str(request.get("event")), data)
        return {}

    async def cancel(self, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        """Cancel the task's job; the task is cancelled from then on (spec: it MUST remain cancelled). A task
        already terminal is refused with -32602 (2025-11-25) or acknowledged as is (2026-07-28)."""
        require_tasks(ctx)
        if modern(ctx):
            record = self.store.get(params.task_id, caller_key(ctx))
            contract = self.jobs.contract(record.tool) if record else None
            if record is not None and contract is not None and record.outcome is None:
                canceled = await self.jobs.cancel(ctx, contract, record.task_id, "canceled through MCP tasks/cancel")
                if (job := status_of(canceled)) is not None and job.get("status") in TERMINAL:
                    self._settle(record, outcome_of(canceled, job))
            return {}
        record, contract = self._record(ctx, params.task_id)
        view = await self._view(ctx, record, contract)
        if view.result is not None:
            raise MCPError(code=types.INVALID_PARAMS,
                           message=f"Cannot cancel task: it is already {TASK_STATUS[view.status]}")
        canceled = await self.jobs.cancel(ctx, contract, record.task_id, "canceled through MCP tasks/cancel")
        job = status_of(canceled)
        if job is None or job.get("status") != "canceled":
            raise MCPError(code=types.INTERNAL_ERROR, message=f"Cannot cancel task: {result_text(canceled)}")
        return self._task(ctx, record, self._settle(record, outcome_of(canceled, job)))


@dataclass(frozen=True)
class TaskView:
    """A task as it stands: `status` in the job's words (pending ... canceled), and either its live job
    (`job`, the status object: input requests) or, once terminal, its final result (`result`)."""

    status: str
    message: str | None
    updated_at: str | None
    job: dict[str, Any] | None = None
    result: dict[str, Any] | None = None

    @classmethod
    def live(cls, job: dict[str, Any]) -> "TaskView":
        progress = job.get("progress") if isinstance(job.get("progress"), dict) else {}
        return cls(str(job.get("status")), job.get("error") or progress.get("message"), job.get("updated_at"), job)

    @classmethod
    def settled(cls, outcome: dict[str, Any]) -> "TaskView":
        return cls(outcome["status"], outcome.get("message"), outcome.get("updated_at"), result=outcome["result"])

    def input_request(self) -> dict[str, Any] | None:
        request = self.job.get("input_request") if self.job and self.status == WAITING else None
        return request if isinstance(request, dict) else None


def outcome_of(result: types.CallToolResult, job: dict[str, Any]) -> dict[str, Any]:
    """What a task keeps of its job once the job has ended: status, message, time and the final result."""
    view = TaskView.live(job)
    return {"status": view.status, "message": view.message, "updated_at": view.updated_at,
            "result": final_result(result, job)}


def purged_outcome(job_id: str, job: dict[str, Any] | None) -> dict[str, Any]:
    """A task whose job was purged before it ended: cancelled (the request did not complete)."""
    message = f"Job {job_id} was purged before it ended."
    return {"status": "canceled", "message": message, "updated_at": (job or {}).get("updated_at"),
            "result": {"content": [{"type": "text", "text": message}], "isError": True}}


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

