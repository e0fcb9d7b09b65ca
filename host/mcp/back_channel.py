"""Server-to-client requests on the stateless Streamable HTTP endpoint, for a client that keeps its session
(issue 21 §3): how a 2025-11-25 client (VS Code, Claude Code, the TypeScript SDK) is asked for a job's input.

The endpoint is stateless, like Azure's: every POST gets its own SDK transport and dispatcher, so a
server-to-client request has nowhere for its answer to land, and the SDK refuses them there
(`can_send_request=False`). The 2025-11-25 transport allows them all the same (MCP 2025-11-25, Transports,
Streamable HTTP, "Sending Messages to the Server": the server MAY send requests on the SSE stream it opens for
a POST, before that POST's response; the client answers each in a POST of its own, answered 202). What it
takes is a way from the answer's POST back to the request waiting for it, which the session gives: a client
that keeps its `Mcp-Session-Id` (host/mcp/context.py) sends it with its answer.

So a request that may ask the client (a `tools/call`, a `tasks/result`) from a session whose client declared
elicitation at `initialize` (the token keeps it) is served here instead of by the SDK's stateless manager: the
same SDK transport on an SSE stream, with a dispatcher that may send requests, each with an id unique to the
host, and a registry from (session, id) to the dispatcher waiting for the answer. `deliver` routes the
client's answer there. Everything lives as long as the POST: when the client goes away, or the call ends, the
requests it sent end with it (host/mcp/sessions.py). Azure's extension has none of this (it answers every
request itself, statelessly): there, and for clients that do not keep their session, jobs wait for input as
before (`wait_for_job` returns the request, `send_job_input` answers it).
"""
from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectSendStream
from mcp.server import Server
from mcp.server.connection import Connection
from mcp.server.runner import serve_connection
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.shared.dispatcher import CallOptions
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCError, JSONRPCResponse, RequestId, jsonrpc_message_adapter
from starlette.types import Receive, Scope, Send

log = logging.getLogger("host.mcp")

Inbox = MemoryObjectSendStream[SessionMessage | Exception]


class _AskingDispatcher(JSONRPCDispatcher):
    """The SDK's dispatcher, whose requests to the client carry ids unique to the host and are registered, so
    that the client's answer, arriving in another POST, finds its way back (`BackChannel.deliver`)."""

    def __init__(self, *args: Any, waiting: dict[tuple[str, RequestId], Inbox], session: str, inbox: Inbox,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._waiting = waiting
        self._session = session
        self._inbox = inbox

    async def send_raw_request(self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None,
                               *, _related_request_id: RequestId | None = None) -> dict[str, Any]:
        request_id = f"host-{secrets.token_hex(8)}"
        key = (self._session, request_id)
        self._waiting[key] = self._inbox
        try:
            return await super().send_raw_request(method, params, {**(opts or {}), "request_id": request_id},
                                                  _related_request_id=_related_request_id)
        finally:
            self._waiting.pop(key, None)


class BackChannel:
    """Serves the POSTs that may ask their client, and routes the client's answers back."""

    def __init__(self, server: Server[Any]):
        self.server = server
        self._waiting: dict[tuple[str, RequestId], Inbox] = {}
        self._tasks: TaskGroup | None = None
        self._lifespan: Any = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.server.lifespan(self.server) as state, anyio.create_task_group() as tasks:
            self._tasks, self._lifespan = tasks, state
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                self._tasks = None

    async def deliver(self, session: str, message: Mapping[str, Any]) -> bool:
        """A client's answer (a JSON-RPC response) to a request of ours; False when nothing of that session waits
        for it (the call it belonged to ended, or the host restarted since)."""
        request_id = message.get("id")
        inbox = self._waiting.get((session, request_id)) if isinstance(request_id, str) else None
        if inbox is None:
            return False
        answer = jsonrpc_message_adapter.validate_python(dict(message), by_name=False)
        if not isinstance(answer, JSONRPCResponse | JSONRPCError):
            return False
        try:
            await inbox.send(SessionMessage(answer))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return False
        return True

    async def serve(self, scope: Scope, receive: Receive, send: Send, *, session: str, protocol_version: str,
                    client_info: Any, client_capabilities: Any) -> None:
        """One POST, answered as an SSE stream that may carry requests to the client before the response."""
        assert self._tasks is not None, "BackChannel.running() is not entered"
        transport = StreamableHTTPServerTransport(mcp_session_id=None, is_json_response_enabled=False)

        async def run(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            try:
                await serve_on(task_status)
            except Exception:  # the host's task group must outlive any one request
                log.exception("MCP request with a back channel failed")

        async def serve_on(task_status: TaskStatus[None]) -> None:
            async with transport.connect() as (read, write):
                inbox, merged = anyio.create_memory_object_stream[SessionMessage | Exception](16)
                dispatcher = _AskingDispatcher(merged, write, waiting=self._waiting, session=session, inbox=inbox,
                                               inline_methods=frozenset({"initialize"}))
                connection = Connection.from_envelope(protocol_version, client_info, client_capabilities)
                task_status.started()
                async with anyio.create_task_group() as both:
                    async def forward() -> None:  # the POST's own message, then its end
                        async with inbox:
                            with contextlib.suppress(anyio.ClosedResourceError):  # the transport's teardown: EOF
                                async for item in read:
                                    await inbox.send(item)

                    both.start_soon(forward)
                    await serve_connection(self.server, dispatcher, connection=connection,
                                           lifespan_state=self._lifespan)
                    both.cancel_scope.cancel()

        try:
            await self._tasks.start(run)
            await transport.handle_request(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await transport.terminate()
