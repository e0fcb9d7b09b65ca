"""Progress reporting for MCP tool functions, usable unchanged on Azure and on the local host.

The Azure MCP extension has no way for a function to report progress, so a tool that wants to
tell the client "step 3 of 10" needs help from the host running it. The local host gives that
help through the tool's context: when the MCP client asked for progress (it sent a
`progressToken`), the context JSON the function receives carries

    "progress": {"url": "http://127.0.0.1:<port>/runtime/webhooks/mcp/progress/<token>"}

and every POST of `{"progress": p, "total": t, "message": m}` to that URL becomes an MCP
`notifications/progress` on the caller's request. The URL is valid only while that one tool call
runs. On Azure (or when the client sent no token) the key is absent and reporting does nothing,
so tool code never needs to know where it runs. This module must not import the host: it ships
with the function app.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Union

import httpx

from .http_client import shared_client

log = logging.getLogger(__name__)

REPORT_TIMEOUT_SECONDS = 5.0

ToolContext = Union[str, bytes, Mapping[str, Any], None]


def progress_url(context: ToolContext) -> str | None:
    """The progress URL the host put into a tool's context, or None (Azure, or no progressToken)."""
    if isinstance(context, (str, bytes)):
        try:
            context = json.loads(context)
        except ValueError:
            return None
    if not isinstance(context, Mapping):
        return None
    progress = context.get("progress")
    url = progress.get("url") if isinstance(progress, Mapping) else None
    return url if isinstance(url, str) and url else None


async def report_progress(
    context: ToolContext,
    progress: float,
    total: float | None = None,
    message: str | None = None,
) -> None:
    """Tell the MCP client how far this tool call has got; a harmless no-op where unsupported.

    Args:
        context: the tool's invocation context, as the function received it: the JSON string of a
            raw `mcp_tool_trigger`, or the dict of a parameter annotated `func.MCPToolContext`
            with `@app.mcp_tool()`.
        progress: work done so far; should increase with every call (MCP requires it).
        total: total amount of work, when known (e.g. `progress=3, total=10`).
        message: a short human-readable status line.

    Delivery problems never raise: progress is advisory, so a failed report is logged and the
    tool carries on. Await it from async tool code; a synchronous tool (run in a worker thread)
    can use `asyncio.run(report_progress(...))`.
    """
    url = progress_url(context)
    if url is None:
        return
    payload: dict[str, Any] = {"progress": progress}
    if total is not None:
        payload["total"] = total
    if message is not None:
        payload["message"] = message
    try:
        response = await shared_client().post(url, json=payload, timeout=REPORT_TIMEOUT_SECONDS)
        if response.status_code >= 400:
            log.warning("progress report refused by the host: HTTP %s %s", response.status_code, response.text)
    except httpx.HTTPError as exc:
        log.warning("progress report failed: %s", exc)
