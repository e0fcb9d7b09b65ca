"""`notifications/cancelled` on the stateless Streamable HTTP endpoint (2025-11-25 clients).

Issue 9 item 8: cancelling a `wait_for_job` call stopped it over SSE and 2026-07-28 but not here.
Why: in the SDK's stateless mode every POST gets its own transport and dispatcher
(`StreamableHTTPSessionManager._handle_stateless_request`), so the POST carrying the cancellation
reaches a dispatcher that never saw the request it names and drops it, while the request's own
POST runs on to its end. (A 2026-07-28 client cancels by closing the request's stream instead,
which the SDK's per-request entry watches; over SSE one dispatcher sees both.)

The fix keeps, per client session (the `Mcp-Session-Id` state token, which carries a random id)
and JSON-RPC request id, the cancel scope of each request's POST in progress. A cancellation from
the same session cancels that scope: the SDK then terminates the request's transport, which
cancels the tool call, and the POST is answered the way the SDK's 2025 transport answers a
cancelled request: a JSON-RPC error `-32800 Request cancelled` (`_terminate_unanswered_request`).
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import anyio
from mcp.shared.dispatcher import as_request_id, coerce_request_id
from mcp_types import RequestId
from starlette.types import Message, Send

from host.mcp.wire import answered_ids, error_message, sse_message_event

REQUEST_CANCELLED = -32800  # mcp.server.streamable_http.REQUEST_CANCELLED


class InFlightRequests:
    """Cancel scopes of the requests being served, by (session token, request id)."""

    def __init__(self) -> None:
        self._scopes: dict[tuple[str, RequestId], anyio.CancelScope] = {}

    @contextlib.contextmanager
    def track(self, session_id: str, request_id: RequestId) -> Iterator[anyio.CancelScope]:
        """Serve one request inside the yielded scope; a matching `cancel` cancels it."""
        key = (session_id, coerce_request_id(request_id))
        scope = anyio.CancelScope()
        self._scopes[key] = scope
        try:
            with scope:
                yield scope
        finally:
            if self._scopes.get(key) is scope:
                del self._scopes[key]

    def cancel(self, session_id: str, request_id: object) -> None:
        """Cancel the named request of this session, if it is in progress (else nothing: it ended)."""
        request_id = as_request_id(request_id)
        if request_id is not None:
            scope = self._scopes.get((session_id, coerce_request_id(request_id)))
            if scope is not None:
                scope.cancel()


class ResponseWatch:
    """A `send` that remembers how far the response got, so a cancelled request can still be ended."""

    def __init__(self, send: Send):
        self._send = send
        self.started = False
        self.complete = False
        self.sse = False
        self.answered: set[RequestId] = set()  # the responses its SSE stream carried, by id

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.sse = any(k.lower() == b"content-type" and v.startswith(b"text/event-stream")
                           for k, v in message.get("headers", []))
        elif message["type"] == "http.response.body":
            if self.sse and message.get("body"):
                self.answered.update(answered_ids(message["body"]))
            if not message.get("more_body", False):
                self.complete = True
        await self._send(message)

    def last_chunk(self, message: dict) -> bytes:
        """What ends this response's stream under way: `message` as its last SSE event (nothing for JSON)."""
        return sse_message_event(message) if self.sse else b""

    async def end_cancelled(self, request_id: RequestId) -> None:
        """Answer the cancelled request with the SDK's `Request cancelled` error, as JSON or as the
        last event of its SSE stream, unless its response already ended."""
        if self.complete:
            return
        error = error_message(request_id, REQUEST_CANCELLED, "Request cancelled")
        if not self.started:
            await self._send({"type": "http.response.start", "status": 200,
                              "headers": [(b"content-type", b"application/json")]})
            await self._send({"type": "http.response.body", "body": json.dumps(error).encode()})
        else:
            await self._send({"type": "http.response.body", "body": self.last_chunk(error)})
        self.complete = True
