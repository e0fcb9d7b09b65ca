"""Tools that start or follow durable jobs, as their `_meta` declares them: what lets the local host
offer MCP Tasks and elicitation for any app without knowing its tools by name.

A tool opts in with a `_meta` entry (the trigger binding's `metadata`, which Azure lists unchanged):

    "durable-job": {"role": "start" | "wait",   # starts a job / returns (and may wait for) its status
                    "status": "get_job",         # tool: {<id field>: id} -> the job's status object
                    "input": "send_job_input",   # tool: {<id field>: id, "event", "data"} -> status object
                    "cancel": "cancel_job",      # tool: {<id field>: id, "reason"} -> status object
                    "id": "job_id"}              # the field of the status object (and argument) naming the job

The status object these tools return (as structuredContent, or JSON text) must have: the id field;
`status`, one of pending, running, waiting_for_input, suspended, completed, failed, canceled;
optionally `progress.message`, `created_at`/`updated_at` (ISO 8601), `error`, and, while waiting
for input, `input_request: {event, prompt, schema?, details?}`. (The app's `JobStatus` is such an object and
publishes its JSON Schema as the tools' output schema.)

The host calls these tools exactly as a client's `tools/call` would (same handler, same context).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import mcp_types as types

from host.mcp.catalog import McpCatalog

JOB_META = "durable-job"
TERMINAL = frozenset({"completed", "failed", "canceled"})
WAITING = "waiting_for_input"

CallTool = Callable[[Any, types.CallToolRequestParams], Awaitable[types.CallToolResult]]


@dataclass(frozen=True)
class JobContract:
    """What a tool's `durable-job` metadata says (see the module docstring)."""

    role: str
    status_tool: str
    input_tool: str | None = None
    cancel_tool: str | None = None
    id_field: str = "job_id"


def contract_of(tool: types.Tool | None) -> JobContract | None:
    """The tool's job contract, or None when it declares none (or a malformed one)."""
    entry = (tool.meta or {}).get(JOB_META) if tool is not None else None
    if not isinstance(entry, dict) or entry.get("role") not in ("start", "wait") \
            or not isinstance(entry.get("status"), str):
        return None
    return JobContract(role=entry["role"], status_tool=entry["status"], input_tool=entry.get("input"),
                       cancel_tool=entry.get("cancel"), id_field=str(entry.get("id") or "job_id"))


def status_of(result: types.CallToolResult) -> dict[str, Any] | None:
    """The status object in a tool result (structured content, else JSON text); None for errors."""
    if result.is_error:
        return None
    if isinstance(result.structured_content, dict):
        return result.structured_content
    text = "".join(block.text for block in result.content if isinstance(block, types.TextContent))
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def result_text(result: types.CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, types.TextContent))


class JobTools:
    """Calls a job's tools through the server's own `tools/call` handler."""

    def __init__(self, catalog: McpCatalog, call_tool: CallTool):
        self.catalog = catalog
        self._call_tool = call_tool

    def starts_jobs(self) -> bool:
        """Whether any tool starts jobs (and so may answer with a task)."""
        return any((contract := contract_of(tool)) and contract.role == "start"
                   for tool in self.catalog.tools_result.tools)

    def contract(self, tool_name: str) -> JobContract | None:
        tool = self.catalog.tool(tool_name)
        return contract_of(tool.listing if tool else None)

    async def call(self, ctx: Any, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        return await self._call_tool(ctx, types.CallToolRequestParams(name=name, arguments=arguments))

    async def status(self, ctx: Any, contract: JobContract, job_id: str) -> types.CallToolResult:
        return await self.call(ctx, contract.status_tool, {contract.id_field: job_id})

    async def send_input(self, ctx: Any, contract: JobContract, job_id: str, event: str,
                         data: Any) -> types.CallToolResult:
        if contract.input_tool is None:
            return types.CallToolResult(content=[types.TextContent(text="This job takes no input.")], is_error=True)
        return await self.call(ctx, contract.input_tool, {contract.id_field: job_id, "event": event, "data": data})

    async def cancel(self, ctx: Any, contract: JobContract, job_id: str, reason: str) -> types.CallToolResult:
        if contract.cancel_tool is None:
            return types.CallToolResult(content=[types.TextContent(text="This job cannot be canceled.")],
                                        is_error=True)
        return await self.call(ctx, contract.cancel_tool, {contract.id_field: job_id, "reason": reason})
