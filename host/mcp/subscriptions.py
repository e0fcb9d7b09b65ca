"""Resource subscriptions on the local host: a subscribed client hears `notifications/resources/updated`
when a resource's contents change, without polling.

Generic: the host knows nothing of what a resource holds. While anyone subscribes to a URI, one
watcher reads the resource through the server's own `resources/read` handler every
`CHECK_SECONDS` and, when the contents differ from the last read, tells every subscriber. For the
app's `job://{job_id}` and `job://{job_id}/steps` that is a change of the job's status, progress,
input request or steps. Two ways to subscribe:

- 2026-07-28: `subscriptions/listen` with `resourceSubscriptions` (the SDK's `ListenHandler` and
  an in-process `SubscriptionBus`); the stream is the listen request's response.
- 2025-11-25: `resources/subscribe` / `resources/unsubscribe` on a connection that carries
  notifications to the client: the legacy SSE transport. The subscription belongs to the session and
  ends with it, unsubscribed or not (host/mcp/sessions.py). On the stateless Streamable HTTP endpoint
  (like Azure's) there is no such channel: the initialize result does not declare `subscribe` there
  (host/mcp/capabilities.py), and the request is refused with an error that says where it works.

Per caller (issue 20): a watcher reads a resource as the caller who subscribed (host/mcp/context.caller_key),
one watcher per caller and URI, and a listen stream hears only its own caller's watchers; so another
person's job is, to a subscriber, a resource that never changes, like an unknown one.

Azure's extension has neither (it declares no `resources.subscribe`): README host table.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
from mcp.shared.exceptions import MCPError

from host.mcp.context import caller_key, session_key
from host.mcp.sessions import Session, Sessions

log = logging.getLogger("host.mcp")

CHECK_SECONDS = 1.0
Ctx = ServerRequestContext[Any, Any]
ReadResource = Callable[[Ctx, types.ReadResourceRequestParams], Awaitable[types.ReadResourceResult]]
Notify = Callable[[str], Awaitable[None]]
WatchKey = tuple[str, str]  # (caller, uri)


class ResourceWatch:
    """Watchers of subscribed URIs, one per caller and URI, and who to tell when one changes."""

    def __init__(self, read: ReadResource):
        self._read = read
        self._subscribers: dict[WatchKey, dict[object, Notify]] = {}
        self._watchers: dict[WatchKey, asyncio.Task[None]] = {}

    def add(self, ctx: Ctx, uri: str, owner: object, notify: Notify) -> None:
        key = (caller_key(ctx), uri)
        self._subscribers.setdefault(key, {})[owner] = notify
        if key not in self._watchers:
            self._watchers[key] = asyncio.create_task(self._watch(ctx, key))

    def remove(self, key: WatchKey, owner: object) -> None:
        subscribers = self._subscribers.get(key, {})
        subscribers.pop(owner, None)
        if not subscribers:
            self._subscribers.pop(key, None)
            watcher = self._watchers.pop(key, None)
            if watcher is not None:
                watcher.cancel()

    async def _fingerprint(self, ctx: Ctx, uri: str) -> str:
        try:
            result = await self._read(ctx, types.ReadResourceRequestParams(uri=uri))
        except MCPError as error:  # gone or failing: that is a state too
            return f"error: {error.error.message}"
        return hashlib.sha256(result.model_dump_json(by_alias=True).encode()).hexdigest()

    async def _watch(self, ctx: Ctx, key: WatchKey) -> None:
        uri = key[1]
        last = await self._fingerprint(ctx, uri)
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            current = await self._fingerprint(ctx, uri)
            if current == last:
                continue
            last = current
            for owner, notify in list(self._subscribers.get(key, {}).items()):
                try:
                    await notify(uri)
                except Exception as error:  # the subscriber's connection is gone
                    log.debug("dropping a subscription to %s: %s", uri, error)
                    self.remove(key, owner)

    def close(self) -> None:
        for watcher in self._watchers.values():
            watcher.cancel()
        self._watchers.clear()
        self._subscribers.clear()


class Subscriptions:
    """The subscription methods of both eras, over one `ResourceWatch`; listen streams get a bus per caller.
    A `resources/subscribe` belongs to its session (host/mcp/sessions.py) and ends with it, unsubscribed or
    not (issue 21 §1.3)."""

    def __init__(self, read: ReadResource, sessions: Sessions):
        self.watch = ResourceWatch(read)
        self.sessions = sessions
        sessions.on_end(self._session_ended)
        self._buses: dict[str, tuple[InMemorySubscriptionBus, ListenHandler]] = {}
        self._listeners: dict[WatchKey, int] = {}  # open listen streams per caller and URI

    async def subscribe(self, ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        session = self.sessions.get(session_key(ctx))
        if session is None or not ctx.session.can_send_request:
            raise MCPError(code=types.METHOD_NOT_FOUND, message=(
                "resources/subscribe needs a connection that carries notifications to the client: use the "
                "legacy SSE endpoint (/runtime/webhooks/mcp/sse), or subscriptions/listen (2026-07-28)"))
        notify = ctx.session.send_resource_updated  # the connection's own channel, not this request's
        session.subscriptions[(caller_key(ctx), params.uri)] = notify
        self.watch.add(ctx, params.uri, session.key, notify)
        return types.EmptyResult()

    async def unsubscribe(self, ctx: Ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        key = (caller_key(ctx), params.uri)
        session = self.sessions.get(session_key(ctx))
        if session is not None and session.subscriptions.pop(key, None) is not None:
            self.watch.remove(key, session.key)
        return types.EmptyResult()

    def _session_ended(self, session: Session) -> None:
        for key in session.subscriptions:
            self.watch.remove(key, session.key)
        session.subscriptions.clear()

    def _bus(self, caller: str) -> tuple[InMemorySubscriptionBus, ListenHandler]:
        if caller not in self._buses:
            bus = InMemorySubscriptionBus()
            self._buses[caller] = (bus, ListenHandler(bus))
        return self._buses[caller]

    async def listen(self, ctx: Ctx, params: types.SubscriptionsListenRequestParams) -> types.SubscriptionsListenResult:
        """One listen stream; its resource subscriptions are watched while it is open."""
        caller = caller_key(ctx)
        bus, listen = self._bus(caller)
        keys = [(caller, uri) for uri in dict.fromkeys(params.notifications.resource_subscriptions or [])]
        for key in keys:
            self._listeners[key] = self._listeners.get(key, 0) + 1
            if self._listeners[key] == 1:
                self.watch.add(ctx, key[1], bus, self._publisher(bus))
        try:
            return await listen(ctx, params)
        finally:
            for key in keys:
                self._listeners[key] -= 1
                if not self._listeners[key]:
                    del self._listeners[key]
                    self.watch.remove(key, bus)

    @staticmethod
    def _publisher(bus: InMemorySubscriptionBus) -> Notify:
        async def publish(uri: str) -> None:
            await bus.publish(ResourceUpdated(uri=uri))

        return publish

    def close(self) -> None:
        for _, listen in self._buses.values():
            listen.close()
        self.watch.close()


def install(server: Server, subscriptions: Subscriptions) -> None:
    server.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscriptions.subscribe)
    server.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, subscriptions.unsubscribe)
    server.add_request_handler("subscriptions/listen", types.SubscriptionsListenRequestParams, subscriptions.listen)

