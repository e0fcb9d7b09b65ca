"""The official `mcp` client pointed at a host, and small helpers that call the app's job tools."""
from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator

import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from .host_process import HostProcess

TERMINAL = ("completed", "failed", "canceled")


@contextlib.asynccontextmanager
async def connect(host: HostProcess, sse: bool = False, mode: str = "legacy") -> AsyncIterator[Client]:
    """A client session over Streamable HTTP (default) or legacy SSE, with the host's MCP key; on Streamable
    HTTP, `mode` "legacy" speaks the 2025-11-25 handshake era, "auto" the 2026-07-28 one."""
    url = f"{host.base_url}/runtime/webhooks/mcp"
    if sse:
        async with Client(sse_client(f"{url}/sse?code={host.mcp_key}"), mode="legacy") as client:
            yield client
        return
    async with httpx2.AsyncClient(headers={"x-functions-key": host.mcp_key}, timeout=90) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client


async def call(client: Client, tool: str, **arguments) -> dict:
    """Call a tool that must succeed; returns its JSON text result as data."""
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text
    assert not result.is_error, text
    return json.loads(text)


async def call_error(client: Client, tool: str, **arguments) -> str:
    """Call a tool that must fail; returns the error text."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.content[0].text
    return result.content[0].text


async def wait_until(client: Client, job_id: str, statuses=TERMINAL, timeout: float = 60) -> dict:
    """Call wait_for_job until the job reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        job = await call(client, "wait_for_job", job_id=job_id, timeout_seconds=10)
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, job
