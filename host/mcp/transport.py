"""The HTTP side of the MCP endpoints: checks every request, then hands it to the SDK transport.

Host (421) and Origin (403) are checked for the whole host by host/http/guard.py. Then, in order,
each answered with a JSON-RPC error body and the matching status: the `mcp_extension` key at auth
level System (401), the method (405), and for POSTs the content type (415), the size (413, over
4 MiB), the JSON and its JSON-RPC shape (400, host/mcp/message_shape.py), and, on the streamable
endpoint, the Accept header (406, Azure requires both `application/json` and `text/event-stream`).

The streamable endpoint is stateless, like Azure's: a request whose client asked for progress
(`_meta.progressToken`), and every 2026-07-28-style request, goes to an SDK manager that may answer
with an SSE stream, so progress notifications can precede the result (and, at 2026-07-28, closing the
request cancels it); everything else goes to a JSON-response manager, which is faster (the SDK drops
notifications in JSON mode). `initialize` responses carry an `Mcp-Session-Id` client-state token, as
Azure's do; a `notifications/cancelled` from the same session cancels the named request
(host/mcp/cancellation.py). A request answered as JSON ends when its client disconnects (the SDK's
JSON mode does not watch for it). A `tools/call` or `tasks/result` of a session whose client declared
elicitation goes to the back channel (host/mcp/back_channel.py), which may ask the client on the
POST's own stream and takes the client's answers, POSTed with the session.
"""
from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import quote

import anyio
from mcp.server.streamable_http import check_accept_headers
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types import DEFAULT_NEGOTIATED_VERSION, PARSE_ERROR, RequestId
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from mcp.shared.dispatcher import as_request_id
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from host.bounded import bounded
from host.http.bodies import MalformedJson, parse_json, read_limited_body
from host.http.connections import stop_answer
from host.http.guard import is_json_content_type
from host.keys import key_matches, presented_key
from host.mcp.cancellation import InFlightRequests, ResponseWatch
from host.mcp.back_channel import BackChannel
from host.mcp.context import (
    SESSION_HEADER,
    ClientState,
    InvalidClientState,
    client_state,
    new_session_id,
    request_caller,
)
from host.mcp.message_shape import shape_error
from host.mcp.sessions import SseSessions
from host.mcp.wire import SERVER_ERROR, error_message, sse_message_event

MAX_BODY_BYTES = 4 * 1024 * 1024

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


def jsonrpc_error(status: int, message: str, code: int = SERVER_ERROR,
                  headers: dict[str, str] | None = None, message_id: str | int | None = None) -> Response:
    return Response(json.dumps(error_message(message_id, code, message)), status_code=status, headers=headers,
                    media_type="application/json")


class Replaying:
    """A `receive` that yields the already-read body once, then defers to the real one (disconnects);
    `raw` is the real one, for whoever watches for the client going away while the app has the request."""

    def __init__(self, body: bytes, receive: Receive):
        self.body = body
        self.raw = receive
        self._sent = False

    async def __call__(self) -> Message:
        if not self._sent:
            self._sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        return await self.raw()


class GatedEndpoint:
    """An ASGI endpoint behind a key (when `keys` is given), one method, and (for POSTs) content-type
    and size checks; `jsonrpc` endpoints also get their body checked before the SDK reads it."""

    def __init__(self, keys: list[str] | None, method: str,
                 handler: Callable[[Request, Send, bytes], Awaitable[None]], jsonrpc: bool = True):
        self.keys = keys
        self.method = method
        self.handler = handler
        self.jsonrpc = jsonrpc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        error = None
        if self.keys is not None and not key_matches(presented_key(request.headers, request.query_params),
                                                     *self.keys):
            error = jsonrpc_error(401, "Unauthorized: this MCP endpoint requires the mcp_extension system key "
                                       "in the x-functions-key header or the code query parameter.")
        if error is None and request.method != self.method:
            error = jsonrpc_error(405, f"Method Not Allowed: use {self.method}", headers={"Allow": self.method})
        body = b""
        if error is None and self.method == "POST":
            error, body = await self._post_body(request)
            request = Request(scope, Replaying(body, receive))
        if error is not None:
            await error(scope, receive, send)
            return
        if self.jsonrpc and body:
            _answer_stop_with_id(scope, _request_id(_peek(body)))
        await self.handler(request, send, body)

    async def _post_body(self, request: Request) -> tuple[Response | None, bytes]:
        if not is_json_content_type(request.headers.get("content-type", "")):
            return jsonrpc_error(415, "Unsupported Media Type: Content-Type must be application/json"), b""
        body = await read_limited_body(request, MAX_BODY_BYTES)
        if body is None:
            return jsonrpc_error(413, f"Payload Too Large: request bodies are limited to {MAX_BODY_BYTES} bytes"), b""
        return (jsonrpc_body_error(body) if self.jsonrpc else None), body


def jsonrpc_body_error(body: bytes) -> Response | None:
    """What the SDK must not see: JSON nested too deep (it would fail in the SDK or in tool code: issue 9
    item 5), and anything but one well-formed JSON-RPC message (host/mcp/message_shape.py: the SDK would
    answer with a pydantic dump, or take a message with a bad id for a notification)."""
    try:
        value = parse_json(body)
    except MalformedJson as exc:
        return jsonrpc_error(400, f"Parse error: {exc}", code=PARSE_ERROR)
    error = shape_error(value)
    if error is not None:
        return jsonrpc_error(400, error.message, code=error.code, message_id=error.id)
    return None


def _peek(body: bytes) -> dict[str, Any]:
    """The JSON-RPC message when the body is a single object; the SDK reports anything malformed."""
    try:
        message = json.loads(body)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def _single_exchange_era(request: Request) -> bool:
    """A 2026-07-28-style request (a protocol version header the handshake era does not know; the SDK's
    manager routes on the same test). Those go to the SSE manager: in JSON mode the SDK does not watch for
    the client closing the request, which is how such a client cancels (issue 9 item 8)."""
    version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
    return version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS


def _request_id(message: dict[str, Any]) -> RequestId | None:
    """The id of a JSON-RPC request (None for a notification, a response, or anything else)."""
    return as_request_id(message.get("id")) if "method" in message else None


def _answer_stop_with_id(scope: Scope, request_id: RequestId | None) -> None:
    """A request the host stops before its response started gets its 503 as a JSON-RPC error carrying
    its own id, so the client can match it to the request (host/http/connections.py, CleanEndings)."""
    answer = stop_answer(scope)
    if answer is not None and request_id is not None:
        answer.response = lambda refusal: jsonrpc_error(refusal.status, refusal.message, message_id=request_id)


def _end_stream_with_errors(scope: Scope, owed: Callable[[], Iterable[RequestId]]) -> None:
    """An SSE stream the host stops while under way ends with one `message` event per request it still owes
    an answer (`owed()`), each the JSON-RPC error saying why, before its last chunk: a client waiting on the
    stream gets the reason instead of "stream ended without a response" (CleanEndings)."""
    answer = stop_answer(scope)
    if answer is not None:
        answer.last_chunk = lambda refusal: b"".join(
            sse_message_event(error_message(request_id, SERVER_ERROR, refusal.message)) for request_id in owed())


def _params(message: dict[str, Any]) -> dict[str, Any]:
    params = message.get("params")
    return params if isinstance(params, dict) else {}


def _with_header(send: Send, name: bytes, value: bytes) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 200:
            message = {**message, "headers": [*message.get("headers", []), (name, value)]}
        await send(message)

    return sender


async def _until_done_or_gone(answer: Awaitable[None], receive: Receive) -> None:
    """Run `answer` until it ends or the client disconnects, whichever comes first: what a request holds
    (a wait, a tool call, a `tasks/result`) ends with the client that asked (issue 21 §1.3). The body was
    read before, so the only message the client's side of the connection can still bring is its end."""
    raw = receive.raw if isinstance(receive, Replaying) else receive
    async with anyio.create_task_group() as group:
        async def gone() -> None:
            while (await raw())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(gone)
        await answer
        group.cancel_scope.cancel()


class StreamableHttp:
    """`POST /runtime/webhooks/mcp`: Accept check, client state, and the routing: to the SDK's stateless JSON or
    SSE manager, or, for a request that may ask its client, to the back channel (host/mcp/back_channel.py), which
    also takes the client's answers."""

    def __init__(self, json_app: Handler, sse_app: Handler, back_channel: BackChannel):
        self.json_app = json_app
        self.sse_app = sse_app
        self.back_channel = back_channel
        self.in_flight = InFlightRequests()

    async def __call__(self, request: Request, send: Send, body: bytes) -> None:
        scope, receive = request.scope, request.receive
        message = _peek(body)
        request_id = _request_id(message)
        has_json, has_sse = check_accept_headers(request)
        if not (has_json and has_sse):
            await jsonrpc_error(406, "Not Acceptable: Client must accept both application/json and "
                                     "text/event-stream", message_id=request_id)(scope, receive, send)
            return
        session_id = request.headers.get(SESSION_HEADER)
        state = None
        if session_id:
            try:
                state = client_state(session_id)
                if not state.belongs_to(request_caller(request)):  # another person's session: as a forged one
                    raise InvalidClientState(session_id)
            except InvalidClientState:
                await jsonrpc_error(400, "Invalid client state.", message_id=request_id)(scope, receive, send)
                return
        elif message.get("method") == "initialize":
            params = _params(message)
            client_info, capabilities = params.get("clientInfo"), params.get("capabilities")
            token = new_session_id(client_info if isinstance(client_info, dict) else None,
                                   capabilities if isinstance(capabilities, dict) else None, request_caller(request))
            send = _with_header(send, SESSION_HEADER.encode(), token.encode())
        if _is_answer(message) and state is not None:
            await self._answer(message, state, scope, receive, send)
            return
        app = self._app_for(request, message, state)
        if session_id and message.get("method") == "notifications/cancelled":
            self.in_flight.cancel(session_id, _params(message).get("requestId"))
        if request_id is None:
            await app(scope, receive, send)
            return
        response = ResponseWatch(send)
        _end_stream_with_errors(scope, lambda: [request_id] if response.sse and request_id not in response.answered
                                else [])
        tracked = self.in_flight.track(session_id, request_id) if session_id else contextlib.nullcontext(None)
        with tracked as cancelled_by_client:
            if app is self.json_app:  # the SDK's JSON mode does not notice the client leaving: the call ran on
                await _until_done_or_gone(app(scope, receive, response.send), receive)
            else:
                await app(scope, receive, response.send)
        if cancelled_by_client is not None and cancelled_by_client.cancelled_caught:
            await response.end_cancelled(request_id)

    def _app_for(self, request: Request, message: dict[str, Any], state: ClientState | None) -> Handler:
        """The back channel for a request that may ask its client (its session's client declared elicitation);
        the SSE manager when the client asked for progress, and for every 2026-07-28 request; else JSON."""
        if state is not None and state.can_elicit and message.get("method") in ASKING_METHODS \
                and not _single_exchange_era(request):
            return functools.partial(
                self.back_channel.serve, session=state.key, client_info=state.client_info,
                client_capabilities=state.capabilities,
                protocol_version=request.headers.get(MCP_PROTOCOL_VERSION_HEADER) or DEFAULT_NEGOTIATED_VERSION)
        wants_progress = progress_token_from_params(message.get("params")) is not None
        return self.sse_app if wants_progress or _single_exchange_era(request) else self.json_app

    async def _answer(self, message: dict[str, Any], state: ClientState, scope: Scope, receive: Receive,
                      send: Send) -> None:
        """A session's answer to a request the host sent it: 202 once it reached the call that asked, else 400
        (MCP 2025-11-25, Transports, Streamable HTTP: a response the server accepts is answered 202; one it
        cannot accept, an HTTP error). An answer without a session reaches the SDK, which accepts and drops it."""
        if await self.back_channel.deliver(state.key, message):
            await Response(status_code=202)(scope, receive, send)
            return
        await jsonrpc_error(400, f"Bad Request: no request of this session waits for an answer with id "
                                 f"{bounded(json.dumps(message.get('id')), 80)} (the call that asked has ended, or "
                                 f"the host restarted since).")(scope, receive, send)


ASKING_METHODS = ("tools/call", "tasks/result")  # the requests that may ask the person for a job's input


def _is_answer(message: dict[str, Any]) -> bool:
    """A JSON-RPC response (to a request the server sent), as opposed to a request or a notification."""
    return "method" not in message and "id" in message and ("result" in message or "error" in message)


class SseConnection:
    """`GET /runtime/webhooks/mcp/sse`: the legacy HTTP+SSE transport's long-lived stream.

    Azure's `endpoint` event repeats the `code` query parameter so a client authenticated by URL
    can post its messages; the SDK's does not, so it is added to the event here. The stream's
    requests still unanswered when the host stops get their error on it, and the session ends with the
    stream (host/mcp/sessions.py).
    """

    def __init__(self, serve: Handler, sessions: SseSessions):
        self.serve = serve
        self.sessions = sessions

    async def __call__(self, request: Request, send: Send, _body: bytes) -> None:
        code = request.query_params.get("code")
        if code:
            send = _with_code_in_endpoint(send, quote(code, safe="").encode())
        with self.sessions.stream() as stream:
            _end_stream_with_errors(request.scope, stream.owed)
            await self.serve(request.scope, request.receive, stream.wrap(send))


def _with_code_in_endpoint(send: Send, code: bytes) -> Send:
    rewritten = False

    async def sender(message: Message) -> None:
        nonlocal rewritten
        body = message.get("body", b"")
        if not rewritten and message["type"] == "http.response.body" and b"?session_id=" in body:
            message = {**message, "body": body.replace(b"?session_id=", b"?code=" + code + b"&session_id=", 1)}
            rewritten = True
        await send(message)

    return sender


class SseMessages:
    """`POST /runtime/webhooks/mcp/message`: the SDK's message endpoint, its session refusals ("session_id is
    required", "Invalid session ID", "Could not find session": plain text) answered as JSON-RPC errors
    that say what to do, as Azure's do (SseRequestHandler.WriteInvalidSessionResponse: "... Please connect
    to the /sse endpoint to initiate your session.")."""

    HINT = ("Please connect to the /sse endpoint to initiate your session, and post to the URL its endpoint "
            "event names.")

    def __init__(self, serve: Handler, sessions: SseSessions):
        self.serve = serve
        self.sessions = sessions

    async def __call__(self, request: Request, send: Send, body: bytes) -> None:
        refused: Message | None = None
        session_id, request_id = request.query_params.get("session_id", ""), _request_id(_peek(body))
        if request_id is not None:
            self.sessions.posted(session_id, request_id)

        async def sender(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message["status"] >= 400:
                refused = message
                if request_id is not None:
                    self.sessions.refused(session_id, request_id)
                return
            if refused is None:
                await send(message)
                return
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                reason = message.get("body", b"").decode("utf-8", errors="replace").strip().rstrip(".")
                await jsonrpc_error(refused["status"], f"{bounded(reason, 100)}. {self.HINT}", message_id=request_id)(
                    request.scope, request.receive, send)

        await self.serve(request.scope, request.receive, sender)
