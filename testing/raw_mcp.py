"""MCP over plain HTTP at any protocol version, for tests that need a version, or a message, the official client does
not send: the Streamable HTTP endpoint (one POST per message; the answer as JSON or as an SSE stream) and the
legacy HTTP+SSE transport (a GET stream carrying the answers, and the message endpoint its `endpoint` event names).

    async with raw_client(host, "sse", "2025-06-18") as client:
        capabilities = (await client.initialize())["capabilities"]
        result = await client.request("tools/list", {})
        client.notifications  # what the server sent that answered nothing
"""
from __future__ import annotations

import abc
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2

from .host_process import HostProcess

ACCEPT = "application/json, text/event-stream"


def _events(text: str) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an SSE body (its `data:` lines)."""
    return [json.loads(line[5:].strip()) for line in text.splitlines() if line.startswith("data:")
            and line[5:].strip().startswith("{")]


class RawClient(abc.ABC):
    """One client session; `request` returns a result, or the error object (`code`, `message`)."""

    def __init__(self, http: httpx2.AsyncClient, url: str, version: str):
        self.http = http
        self.url = url
        self.version = version
        self.notifications: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    async def initialize(self, capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self.request("initialize", {"protocolVersion": self.version, "capabilities": capabilities or {},
                                                   "clientInfo": {"name": "raw-test", "version": "1"}})
        await self.notify("notifications/initialized")
        return result

    @abc.abstractmethod
    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a request; its result, or its error object."""

    @abc.abstractmethod
    async def notify(self, method: str) -> None:
        """Send a notification (no params)."""

    def _outcome(self, message: dict[str, Any]) -> dict[str, Any]:
        return message["result"] if "result" in message else message["error"]


class StreamableClient(RawClient):
    """The stateless Streamable HTTP endpoint; keeps the `Mcp-Session-Id` the initialize answer hands out."""

    session_id: str | None = None

    def _headers(self) -> dict[str, str]:
        headers = {"accept": ACCEPT, "mcp-protocol-version": self.version}
        if self.session_id:
            headers["mcp-session-id"] = self.session_id
        return headers

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = next(self._ids)
        response = await self.http.post(self.url, headers=self._headers(), json={
            "jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        self.session_id = self.session_id or response.headers.get("mcp-session-id")
        messages = _events(response.text) if response.headers.get("content-type", "").startswith(
            "text/event-stream") else [response.json()]
        self.notifications += [message for message in messages if "id" not in message]
        return self._outcome(next(message for message in messages if message.get("id") == request_id))

    async def notify(self, method: str) -> None:
        await self.http.post(self.url, headers=self._headers(), json={"jsonrpc": "2.0", "method": method})


class SseClient(RawClient):
    """The legacy HTTP+SSE transport: answers and notifications arrive on the GET stream."""

    def __init__(self, http: httpx2.AsyncClient, url: str, version: str):
        super().__init__(http, url, version)
        self.endpoint: str | None = None
        self._answers: dict[Any, dict[str, Any]] = {}
        self._arrived = anyio.Event()

    async def listen(self, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with self.http.stream("GET", f"{self.url}/sse", headers={"accept": "text/event-stream"}) as stream:
            event = None
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "endpoint":
                    self.endpoint = line[5:].strip()
                    task_status.started()
                elif line.startswith("data:"):
                    message = json.loads(line[5:].strip())
                    if "id" in message and "method" not in message:
                        self._answers[message["id"]] = message
                    else:
                        self.notifications.append(message)
                    self._arrived.set()
                    self._arrived = anyio.Event()

    async def _post(self, message: dict[str, Any]) -> None:
        origin = self.url.split("/runtime/", 1)[0]
        response = await self.http.post(origin + self.endpoint, json=message)
        assert response.status_code == 202, response.text

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = next(self._ids)
        await self._post({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        with anyio.fail_after(90):
            while request_id not in self._answers:
                await self._arrived.wait()
        return self._outcome(self._answers.pop(request_id))

    async def notify(self, method: str) -> None:
        await self._post({"jsonrpc": "2.0", "method": method})

    async def notified(self, method: str, timeout: float = 60) -> dict[str, Any]:
        """The first notification of `method` the stream brought (waiting for it, bounded)."""
        with anyio.fail_after(timeout):
            while not any(message.get("method") == method for message in self.notifications):
                await self._arrived.wait()
        return next(message for message in self.notifications if message.get("method") == method)


@contextlib.asynccontextmanager
async def raw_client(host: HostProcess, transport: str, version: str) -> AsyncIterator[RawClient]:
    """A plain-HTTP client session: `transport` "streamable" or "sse", speaking protocol `version`."""
    url = f"{host.base_url}/runtime/webhooks/mcp"
    async with httpx2.AsyncClient(headers={"x-functions-key": host.mcp_key}, timeout=90) as http:
        if transport == "streamable":
            yield StreamableClient(http, url, version)
            return
        client = SseClient(http, url, version)
        async with anyio.create_task_group() as group:
            await group.start(client.listen)
            yield client
            group.cancel_scope.cancel()
