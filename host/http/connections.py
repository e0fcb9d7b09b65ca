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
import errno
import logging
import socket
from typing import Any

import h11
import uvicorn
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from host.bounded import bounded
from host.config import ConnectionLimits

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


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), before anything else starts (issue 9 item 10: a busy port must
    fail at once with one line, not after the banner with uvicorn's traceback). Port 0 picks a free one.

    Raises PortUnavailable. SO_REUSEADDR, as uvicorn sets it: a port in TIME_WAIT is reused, one
    another server listens on is not.
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
    return sock


class QuietDisconnects:
    """ASGI middleware: a request whose client went away mid-body (or missed its body deadline) just
    ends; Starlette's ClientDisconnect would otherwise reach uvicorn's log as a traceback."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            log.info("%s %s: the client went away before its request was in", scope.get("method"),
                     bounded(scope.get("path", "")))
