"""How long a client may take to send a request, and how many may connect (issue 8 item 5).

uvicorn bounds the idle time between requests (`timeout_keep_alive`) and, with
`limit_concurrency`, the connections and requests it serves at once; it has no deadline for
receiving a request: a connection that sends nothing, a few header bytes, or a body shorter than
its Content-Length is held forever (300 such connections held the host). `DeadlineH11Protocol`
adds two deadlines to uvicorn's h11 protocol, measured by the event loop:

- header_timeout: from the connection's start, or from the first byte of a later request on a
  kept-alive connection, until its request line and headers are in;
- body_timeout: from the headers until the whole body is in (a false Content-Length ends here).

A missed deadline is answered `408 Request Timeout` (when any of the request arrived) and the
connection closed; the app sees the client disconnect. Responses are never timed: a long
`wait_for_job` or an SSE stream is the server's own doing.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import h11
import uvicorn
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from host.bounded import bounded
from host.config import ConnectionLimits
from host.http.guard import Refusal, Render

log = logging.getLogger("host.http")

TIMEOUT_BODY = b"Request Timeout: the request was not received in time; the connection is closed.\n"


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with request-receipt deadlines (class attributes, in seconds)."""

    header_timeout: float = ConnectionLimits.header_timeout
    body_timeout: float = ConnectionLimits.body_timeout

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None
        self._first_request = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._update_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_deadline(None)
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        self._update_deadline()

    def _update_deadline(self) -> None:
        """Which part of a request we wait for now: its head, its body, or nothing."""
        state = self.conn.their_state
        if self.transport is None or self.transport.is_closing():
            waiting = None
        elif state is h11.SEND_BODY:
            waiting = "body"
        elif state is h11.IDLE and (self._first_request or self.conn.trailing_data[0]):
            waiting = "head"
        else:
            waiting = None
        if state is not h11.IDLE:
            self._first_request = False
        if waiting != self._waiting_for:
            self._set_deadline(waiting)

    def _set_deadline(self, waiting: str | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._waiting_for = waiting
        if waiting is not None:
            seconds = self.header_timeout if waiting == "head" else self.body_timeout
            self._deadline = self.loop.call_later(seconds, self._deadline_missed)

    def _deadline_missed(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._waiting_for == "body" and self.cycle is not None and not self.cycle.response_started:
            self._answer_408_and_disconnect_app()
        elif self._waiting_for == "head" and self.conn.trailing_data[0]:
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                                 b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
                                 % (len(TIMEOUT_BODY), TIMEOUT_BODY))
        log.info("closed a connection from %s: its request %s did not arrive in time",
                 self.client[0] if self.client else "?", self._waiting_for)
        self.transport.close()

    def _answer_408_and_disconnect_app(self) -> None:
        """The app is reading the body: answer for it, then let it see a disconnect (its sends are dropped)."""
        cycle = self.cycle
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
        for event in (h11.Response(status_code=408, headers=headers, reason=b"Request Timeout"),
                      h11.Data(data=TIMEOUT_BODY), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        cycle.response_started = cycle.response_complete = True
        cycle.disconnected = True
        cycle.message_event.set()


def uvicorn_config(app: ASGIApp, host: str, port: int, limits: ConnectionLimits) -> uvicorn.Config:
    """uvicorn's configuration for the host: deadlines, keep-alive and the connection limit from `limits`.

    uvicorn logs through the host's handlers (log_config=None), so its records are bounded like any
    other (host/bounded.py).
    """
    protocol = type("DeadlineH11Protocol", (DeadlineH11Protocol,),
                    {"header_timeout": limits.header_timeout, "body_timeout": limits.body_timeout})
    return uvicorn.Config(app, host=host, port=port, http=protocol, log_level="warning", log_config=None,
                          lifespan="on", timeout_graceful_shutdown=5, timeout_keep_alive=limits.keep_alive_timeout,
                          limit_concurrency=limits.max_connections)


class PortUnavailable(Exception):
    """The address cannot be listened on: `str()` is one line a person can act on; `in_use` when
    another server has the port (then the caller's hint says how to pick another)."""

    def __init__(self, message: str, in_use: bool):
        super().__init__(message)
        self.in_use = in_use


BACKLOG = 2048  # uvicorn's default


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), before anything else starts (issue 9 item 10: a busy port must
    fail at once with one line, not after the banner with uvicorn's traceback). Port 0 picks a free one.

    Raises PortUnavailable. SO_REUSEADDR, as uvicorn sets it: a port in TIME_WAIT is reused, one
    another server listens on is not. It listens at once: the engine starts (and resumes pending work) before
    uvicorn serves, and an activity with a durable client binding that calls the management API then must
    find its request queued, not refused ("Cannot connect to host": a job resumed after a crash failed so).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP, and
    # accepted connections inherit the listener's proto; with Nagle on, each response waited ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(f"port {port} on {host} is already in use (another server listens there)",
                                  in_use=True) from None
        raise PortUnavailable(f"cannot listen on {host} port {port}: {exc.strerror or exc}", in_use=False) from None
    sock.listen(BACKLOG)
    return sock


STOPPING = Refusal(503, "Service Unavailable: the host is shutting down; try again once it is back.")
STOP_ANSWER = "host.stop_answer"  # the ASGI scope key of each request's StopAnswer


class StopAnswer:
    """How one request in progress is answered when the host stops: `response(refusal)` when its response
    has not started, `last_chunk(refusal)` (bytes) closing a stream already under way.

    `CleanEndings` puts one in each request's ASGI scope under STOP_ANSWER, with its API's defaults (the
    error in the API's shape; an empty last chunk); a layer that knows more about the request replaces them
    (the MCP transports: the JSON-RPC request id; the error as the stream's last SSE event).
    """

    def __init__(self, response: Callable[[Refusal], Response]):
        self.response = response
        self.last_chunk: Callable[[Refusal], bytes] = lambda _refusal: b""


def stop_answer(scope: Scope) -> StopAnswer | None:
    """This request's StopAnswer (None when the app runs without `CleanEndings`)."""
    return scope.get(STOP_ANSWER)


class CleanEndings:
    """ASGI middleware: every request ends cleanly, also when the host stops.

    - A request whose client went away mid-body (or missed its body deadline) just ends; Starlette's
      ClientDisconnect would otherwise reach uvicorn's log as a traceback.
    - `stop()` (the host shuts down: Ctrl+C) ends the requests in progress at once, each with its
      `StopAnswer`: one still waiting for its answer (a tool call, a long poll) gets 503 in its API's
      error shape (`render`, or the request's own, e.g. a JSON-RPC error with its id); a stream already
      under way gets its last chunk (empty, or the stream's own, e.g. an SSE event with the JSON-RPC
      error), so the client sees it end. Requests arriving after it get the 503 too (`render`: their
      bodies are not read). uvicorn would otherwise wait `timeout_graceful_shutdown`, then cancel them
      with an ERROR and a traceback in the log and a bare 500 for the client. A streamed response the
      app stops without its last chunk (sse-starlette stops its streams on uvicorn's exit signal) gets
      that chunk the same way.
    """

    def __init__(self, app: ASGIApp, render: Render):
        self.app = app
        self.render = render
        self._in_flight: set[anyio.CancelScope] = set()
        self._stopping = False
        self._stopped = False

    def stopping(self) -> None:
        """The host was told to stop (the signal; `stop` follows on the event loop): a stream the app closes from
        now on (sse-starlette closes its streams on uvicorn's exit signal, which can come first) still gets its
        StopAnswer's last chunk. Only sets a flag: it runs in the signal handler."""
        self._stopping = True

    def stop(self) -> None:
        self._stopping = self._stopped = True
        for cancel_scope in list(self._in_flight):
            cancel_scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._stopped:
            await self.render(scope["path"], STOPPING)(scope, receive, send)
            return
        answer = scope[STOP_ANSWER] = StopAnswer(lambda refusal: self.render(scope["path"], refusal))
        started = completed = False

        async def sender(message: Message) -> None:
            nonlocal started, completed
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                if self._stopping and started and not message.get("body"):  # a stream closed for the stop
                    message = {**message, "body": answer.last_chunk(STOPPING)}
                completed = True
            await send(message)

        with anyio.CancelScope() as cancel_scope:
            self._in_flight.add(cancel_scope)
            try:
                await self.app(scope, receive, sender)
            except ClientDisconnect:
                log.debug("%s %s: the client went away before its request was in", scope.get("method"),
                         bounded(scope.get("path", "")))
                return
            finally:
                self._in_flight.discard(cancel_scope)
        with contextlib.suppress(Exception):  # the client may be gone already
            if not started and cancel_scope.cancelled_caught:
                await answer.response(STOPPING)(scope, receive, send)
            elif not completed:
                await send({"type": "http.response.body", "body": answer.last_chunk(STOPPING), "more_body": False})


class StoppingServer(uvicorn.Server):
    """uvicorn's server, stopping the way the host wants on Ctrl+C or SIGTERM:

    - `on_stop` first ends the requests in progress (`CleanEndings.stop`), so the graceful shutdown
      has nothing to wait for;
    - a second Ctrl+C (uvicorn's "force quit") skips uvicorn's wait for connections, but still runs
      the app's own shutdown (quick: the state database is closed, async activities cancelled), which
      uvicorn would skip, leaving a pending lifespan task to be cancelled with an ERROR and a traceback;
    - `run()` then returns. uvicorn re-raises the signal instead, which ends `asyncio.run` with a
      CancelledError and a KeyboardInterrupt traceback (SIGINT), or kills the process (SIGTERM).
    """

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None],
                 on_signal: Callable[[], None] = lambda: None):
        super().__init__(config)
        self._on_stop = on_stop
        self._on_signal = on_signal
        self._held: list[int] = []

    def handle_exit(self, sig: int, frame: Any) -> None:
        """uvicorn's, after `on_signal` (called in the signal handler: it must only set flags)."""
        self._on_signal()
        super().handle_exit(sig, frame)

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's run, with a Ctrl+C that comes before its handlers are in place (while asyncio makes
        the event loop) held and acted on once they are: raised there, KeyboardInterrupt left a
        half-made loop whose `__del__` printed a traceback."""
        if threading.current_thread() is not threading.main_thread():
            return super().run(sockets)
        previous = {sig: signal.signal(sig, lambda received, _frame: self._held.append(received))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return super().run(sockets)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in self._held:
            self.handle_exit(sig, None)
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_stop()
        await super().shutdown(sockets)
        if self.force_exit:
            await self.lifespan.shutdown()
