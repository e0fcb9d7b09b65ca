"""What each MCP session holds on the local host, kept in one place, and the end of all of it with the session
(issue 21 §1.3: subscriptions outlived their client, modelcontextprotocol/servers#4710).

A session is named by `host.mcp.context.session_key`:

- `sse:<id>`, a legacy HTTP+SSE connection: it begins when its GET stream's `endpoint` event names it and ends
  when that stream closes (the client went away, or the host stops): `SseSessions.stream`. It holds its
  resource subscriptions (host/mcp/subscriptions.py) and the requests posted to it that its stream has not
  answered yet (answered with an error if the host stops first).
- `http:<id>`, a Streamable HTTP client that keeps its `Mcp-Session-Id`: the endpoint is stateless, like
  Azure's, so such a session holds nothing between its requests. What one request holds (its waits, the
  elicitations it sent the client, its progress URL) lives in that request's POST and ends with it
  (host/mcp/back_channel.py, host/mcp/progress.py).

Whatever keeps state per session registers a hook with `on_end`; the hooks run once, when the session ends,
so nothing a client set up outlives it. A caller check (who may use which session) belongs here too.
"""
from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mcp_types import RequestId
from starlette.types import Message, Send

from host.mcp.wire import answered_ids

log = logging.getLogger("host.mcp")

_SESSION_IN_ENDPOINT = re.compile(rb"[?&]session_id=([0-9A-Za-z_-]+)")


@dataclass
class Session:
    """One live session and what it holds."""

    key: str
    subscriptions: dict[tuple[str, str], Any] = field(default_factory=dict)  # (caller, resource URI) -> its notifier
    unanswered: dict[RequestId, None] = field(default_factory=dict)  # requests its stream still owes


class Sessions:
    """The live sessions, by key; `on_end` hooks release what a session held when it ends."""

    def __init__(self) -> None:
        self._live: dict[str, Session] = {}
        self._on_end: list[Callable[[Session], None]] = []

    def on_end(self, release: Callable[[Session], None]) -> None:
        self._on_end.append(release)

    def begin(self, key: str) -> Session:
        return self._live.setdefault(key, Session(key))

    def get(self, key: str | None) -> Session | None:
        """The live session of that key (None when it ended, or never began)."""
        return self._live.get(key) if key is not None else None

    def end(self, key: str) -> None:
        """End the session: every hook releases what it held (once; a hook that fails is logged)."""
        session = self._live.pop(key, None)
        if session is None:
            return
        held = len(session.subscriptions)
        for release in self._on_end:
            try:
                release(session)
            except Exception:  # one holder's failure must not keep the others' state alive
                log.exception("releasing what MCP session %s held failed", key)
        if held:
            log.info("MCP session %s ended; its %d resource subscription(s) ended with it", key, held)

    def close(self) -> None:
        for key in list(self._live):
            self.end(key)


class SseStream:
    """One legacy SSE GET stream being served: `wrap(send)` learns the session its `endpoint` event names
    (beginning it) and drops each request its `message` events answer; `owed()` is what it still owes."""

    def __init__(self, sessions: Sessions):
        self.sessions = sessions
        self.session: Session | None = None

    def wrap(self, send: Send) -> Send:
        async def sender(message: Message) -> None:
            body = message.get("body", b"") if message["type"] == "http.response.body" else b""
            found = None if self.session else _SESSION_IN_ENDPOINT.search(body)
            if found:
                self.session = self.sessions.begin(sse_key(found.group(1).decode()))
            for request_id in answered_ids(body) if self.session is not None else ():
                self.session.unanswered.pop(request_id, None)
            await send(message)

        return sender

    def owed(self) -> list[RequestId]:
        """The requests posted to the session that the stream has not answered (also once the session ended:
        the host's shutdown ends sessions, then answers them)."""
        return list(self.session.unanswered) if self.session is not None else []


class SseSessions:
    """The legacy SSE side of `Sessions`: a session per GET stream, and the requests posted to it that the
    stream has not answered yet (when the host stops, the stream answers them with the error before it ends:
    host/http/connections.py)."""

    def __init__(self, sessions: Sessions):
        self.sessions = sessions

    @contextlib.contextmanager
    def stream(self) -> Iterator[SseStream]:
        """While one SSE stream is served; the session it began ends with it."""
        stream = SseStream(self.sessions)
        try:
            yield stream
        finally:
            if stream.session is not None:
                self.sessions.end(stream.session.key)

    def posted(self, session_id: str, request_id: RequestId) -> None:
        """A request was posted to this session (nothing when the session is not open)."""
        session = self.sessions.get(sse_key(session_id))
        if session is not None:
            session.unanswered[request_id] = None

    def refused(self, session_id: str, request_id: RequestId) -> None:
        """The session's message endpoint refused the request: its stream owes no answer."""
        session = self.sessions.get(sse_key(session_id))
        if session is not None:
            session.unanswered.pop(request_id, None)


def sse_key(session_id: str) -> str:
    """`sse:<hex>`: the SDK reads a session id as a UUID (with dashes or without), so both name one session."""
    try:
        return f"sse:{uuid.UUID(hex=session_id).hex}"
    except ValueError:
        return f"sse:{session_id}"
