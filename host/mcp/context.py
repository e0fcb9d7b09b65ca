"""The invocation context JSON an MCP function receives, and the client state behind `Mcp-Session-Id`.

Azure's streamable endpoint is stateless: at `initialize` it answers with an `Mcp-Session-Id`
that encodes the client's state and reads it back on every later request
(StreamableHttpRequestHandler.cs). The local host does the same with an unencrypted,
self-describing token (base64url JSON of a random id and the client's `clientInfo`), so tools
see a session id and client info on every call and a host restart breaks no client.

The context shapes follow ToolInvocationContext.cs / ResourceInvocationContext.cs /
PromptInvocationContext.cs and McpTriggerTransportHelper.cs; nulls are omitted, as Azure's
serializer does.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from mcp.server import ServerRequestContext
from starlette.requests import Request

from host.bounded import bounded
from host.http.bodies import parse_json
from host.mcp.sessions import sse_key

SESSION_HEADER = "mcp-session-id"
PRINCIPAL_HEADER = "x-ms-client-principal"  # and the -id, -name, -idp headers: host/identity/client_principal.py
PRINCIPAL_ID_HEADER = "x-ms-client-principal-id"
PRINCIPAL_IDP_HEADER = "x-ms-client-principal-idp"
SSE_MESSAGE_SUFFIX = "/message"
STREAMABLE = "http-streamable"
SSE = "http-sse"
CLIENT_INFO_FIELDS = ("name", "title", "version", "description", "websiteUrl")


class InvalidClientState(ValueError):
    """An `Mcp-Session-Id` this host never issued."""


def _client_summary(client_info: dict[str, Any] | None) -> dict[str, str] | None:
    """What of `clientInfo` the token keeps: its short text fields, each at most 200 characters, so
    the header stays small whatever the client sends (issue 8 item 4; icons are dropped)."""
    if client_info is None:
        return None
    return {key: bounded(value) for key, value in client_info.items()
            if key in CLIENT_INFO_FIELDS and isinstance(value, str)}


def new_session_id(client_info: dict[str, Any] | None, capabilities: dict[str, Any] | None = None,
                   caller: str = "") -> str:
    """The token handed out with the `initialize` response (a few hundred bytes at most). Besides a random id
    and the client's info it keeps whether the client declared elicitation (its modes, bounded), so that a
    later request of the session may ask it (host/mcp/back_channel.py), and, for a signed-in caller
    (`request_caller`), a digest of who they are: the session is theirs (`ClientState.belongs_to`)."""
    state: dict[str, Any] = {"id": secrets.token_hex(8), "client": _client_summary(client_info)}
    if caller:
        state["caller"] = _caller_digest(caller)
    elicitation = (capabilities or {}).get("elicitation")
    if isinstance(elicitation, dict):
        state["elicitation"] = {mode: {} for mode in ("form", "url") if mode in elicitation} or {"form": {}}
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def _session_state(session_id: str) -> dict[str, Any] | None:
    """The token's state (`id`, `client`), or None when this host never issued it."""
    try:
        padded = session_id + "=" * (-len(session_id) % 4)
        state = parse_json(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("id"), str) else None


@dataclass(frozen=True)
class ClientState:
    """What an `Mcp-Session-Id` token says: the session's key (host/mcp/sessions.py), the client's info, and
    the capabilities it declared that the host uses (`{"elicitation": {...}}`; an empty declaration of
    elicitation means form mode: MCP 2025-11-25, Elicitation, Capabilities)."""

    key: str
    client_info: dict[str, Any] | None
    capabilities: dict[str, Any] | None
    caller: str = ""  # the digest of the signed-in caller whose initialize began the session

    @property
    def can_elicit(self) -> bool:
        return bool(self.capabilities and "elicitation" in self.capabilities)

    def belongs_to(self, caller: str) -> bool:
        """Whether `caller` (`request_caller`) is the one who began the session: a session is its creator's,
        and anyone else's request naming it is answered as one with a token this host never issued (the MCP
        SDK's rule for its stateful sessions; issue 20 with issue 21 §1.3)."""
        return self.caller == (_caller_digest(caller) if caller else "")


def client_state(session_id: str) -> ClientState:
    """The token's state; `InvalidClientState` for a token this host never issued."""
    state = _session_state(session_id)
    if state is None:
        raise InvalidClientState(session_id)
    client, elicitation, caller = state.get("client"), state.get("elicitation"), state.get("caller")
    return ClientState(f"http:{state['id']}", client if isinstance(client, dict) else None,
                       {"elicitation": elicitation} if isinstance(elicitation, dict) else None,
                       caller if isinstance(caller, str) else "")


def _caller_digest(caller: str) -> str:
    return hashlib.sha256(caller.encode()).hexdigest()[:32]


def client_info_from_session_id(session_id: str) -> dict[str, Any] | None:
    return client_state(session_id).client_info


def _transport(request: Request | None) -> tuple[dict[str, Any], str | None]:
    """The `transport` object and the session id the function sees, for one HTTP request."""
    if request is None:
        return {"name": "unknown"}, None
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    transport: dict[str, Any] = {"name": STREAMABLE, "properties": {"headers": headers}}
    if request.url.path.endswith(SSE_MESSAGE_SUFFIX):
        transport["name"] = SSE
        return transport, request.query_params.get("session_id")
    session_id = headers.get(SESSION_HEADER)
    if session_id:
        transport["sessionId"] = session_id
    return transport, session_id


def is_legacy_sse(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether the request came over the legacy HTTP+SSE transport (its message endpoint)."""
    return isinstance(ctx.request, Request) and ctx.request.url.path.endswith(SSE_MESSAGE_SUFFIX)


def session_key(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """Which session a request belongs to (host/mcp/sessions.py): `sse:<id>` for a legacy SSE connection (the
    `session_id` its endpoint event named, normalised as the SDK reads it), `http:<id>` for a Streamable HTTP
    client that keeps its `Mcp-Session-Id` (the random id inside the token); None for a request of no session."""
    request = ctx.request if isinstance(ctx.request, Request) else None
    if request is None:
        return None
    if request.url.path.endswith(SSE_MESSAGE_SUFFIX):
        session_id = request.query_params.get("session_id")
        return sse_key(session_id) if session_id else None
    token = request.headers.get(SESSION_HEADER)
    try:
        return client_state(token).key if token else None
    except InvalidClientState:
        return None


def _client_info(ctx: ServerRequestContext[Any, Any], session_id: str | None, transport: dict[str, Any]) -> Any:
    """From the SDK when it knows the client (SSE, 2026-07-28 envelopes), else from our session token."""
    params = ctx.session.client_params
    if params is not None and params.client_info is not None:
        return params.client_info.model_dump(by_alias=True, exclude_none=True, mode="json")
    if transport["name"] == STREAMABLE and session_id:
        try:
            return client_info_from_session_id(session_id)
        except InvalidClientState:
            return None
    return None


def caller_key(ctx: ServerRequestContext[Any, Any]) -> str:
    """Who made this request, for what the host keeps per caller (MCP tasks, resource watchers, sessions:
    issue 20): `request_caller` of its HTTP request."""
    return request_caller(ctx.request) if isinstance(ctx.request, Request) else ""


def request_caller(request: Request) -> str:
    """The identity provider and principal id the host's resource server put in the request (host/identity;
    a client cannot send them), or "" for a caller let in by a key or on an anonymous endpoint."""
    principal_id = request.headers.get(PRINCIPAL_ID_HEADER)
    return f"{request.headers.get(PRINCIPAL_IDP_HEADER, '')}|{principal_id}" if principal_id else ""


def caller_headers(ctx: ServerRequestContext[Any, Any]) -> dict[str, str]:
    """The identity headers of this request (App Service's X-MS-CLIENT-PRINCIPAL*, set by the host's resource
    server: host/identity), kept so that the host can later call a tool as this caller (`OnBehalf`); {} for a
    caller let in by a key or on an anonymous endpoint."""
    request = ctx.request if isinstance(ctx.request, Request) else None
    if request is None:
        return {}
    return {name: value for name, value in request.headers.items() if name.startswith(PRINCIPAL_HEADER)}


@dataclass(frozen=True)
class OnBehalf:
    """A call the host makes itself, with no client on the line, as the caller whose request set something up
    (host/mcp/tasks.py: a task recording how its job ended): that request's identity headers (`caller_headers`),
    so that the tool sees the same caller and answers for the same jobs (tools/caller.py)."""

    headers: dict[str, str]


def invocation_context(ctx: ServerRequestContext[Any, Any] | OnBehalf, fields: dict[str, Any],
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The context dict: `fields` (name+arguments, or uri) plus session, client and transport; for a call the
    host makes itself (`OnBehalf`), no session or client and only the identity headers it keeps."""
    if isinstance(ctx, OnBehalf):
        return {**fields, "transport": {"name": "unknown", "properties": {"headers": dict(ctx.headers)}},
                **(extra or {})}
    transport, session_id = _transport(ctx.request if isinstance(ctx.request, Request) else None)
    context = dict(fields)
    if session_id:
        context["sessionid"] = session_id
    client_info = _client_info(ctx, session_id, transport)
    if client_info:
        context["clientinfo"] = client_info
    context["transport"] = transport
    context.update(extra or {})
    return context
