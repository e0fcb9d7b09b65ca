"""What the local host declares to a client: per connection, exactly what works on it (issue 21 §1.2; the same
report against another SDK: mark3labs/mcp-go#865).

The SDK derives capabilities from the registered handlers, whatever the connection: the stateless Streamable
HTTP endpoint declared `resources.subscribe: true` and answered every `resources/subscribe` with -32601. What
works depends on three things of the connection: its transport, its protocol version, and whether the client
keeps its session (`Mcp-Session-Id`):

| connection | tasks (`capabilities.tasks`) | `resources.subscribe` | elicitation of job input |
|---|---|---|---|
| legacy SSE, 2025-11-25 | yes | yes: notifications ride the SSE stream | yes (`elicitation/create`) |
| legacy SSE, 2025-06-18 | no (Tasks came with 2025-11-25) | yes | yes |
| legacy SSE, 2025-03-26 | no | yes | no (elicitation came with 2025-06-18) |
| Streamable HTTP, 2025-11-25 | yes | no: stateless, no stream outside a request | yes, on the POST's own stream, while the client keeps its `Mcp-Session-Id` (host/mcp/back_channel.py) |
| Streamable HTTP, 2025-06-18 | no | no | the same as 2025-11-25 |
| Streamable HTTP, 2025-03-26 | no | no | no |
| Streamable HTTP, 2026-07-28 (`server/discover`) | the tasks extension | yes, on `subscriptions/listen` streams | `InputRequiredResult` (SEP-2322) |

Never declared, because the host does none of it: `listChanged` at 2025 versions (the catalog is fixed for the
host's lifetime, so there is never a change to announce; at 2026-07-28 the SDK declares it where listen streams
carry such notifications), `logging`, `completions`. The 2026-07-28 extensions (`capabilities.extensions`, SEP-2133)
are declared in `server/discover` only: the tasks extension does not work on a handshake-era connection.
Elicitation is the client's capability: the host asks only clients that declared it, on connections that can
carry the request (host/mcp/native.py, host/mcp/tasks.py). Sources: MCP 2025-11-25 Lifecycle (Capability
Negotiation), Transports (Streamable HTTP; HTTP+SSE of 2024-11-05), Tasks (Capabilities), Resources
(Subscriptions); 2026-07-28 server/discover.
"""
from __future__ import annotations

from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from host.mcp.context import is_legacy_sse

Ctx = ServerRequestContext[Any, Any]

TASKS_SINCE = "2025-11-25"  # the Tasks utility (2025-11-25 changelog)
ELICITATION_SINCE = "2025-06-18"  # elicitation (2025-06-18 changelog)
TASKS = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}


def has_tasks(protocol_version: str) -> bool:
    """Whether a handshake-era connection of this version has the Tasks utility."""
    return protocol_version not in MODERN_PROTOCOL_VERSIONS and protocol_version >= TASKS_SINCE


def handshake_capabilities(derived: dict[str, Any], *, legacy_sse: bool, protocol_version: str,
                           starts_jobs: bool) -> dict[str, Any]:
    """The `capabilities` of an `initialize` result, from those the SDK derived (`derived`, the wire form)."""
    capabilities = {name: value for name, value in derived.items() if name != "extensions"}
    for name in ("tools", "prompts", "resources"):
        if isinstance(capabilities.get(name), dict):
            capabilities[name] = {**capabilities[name], "listChanged": False}
    if isinstance(capabilities.get("resources"), dict):
        capabilities["resources"]["subscribe"] = legacy_sse
    if starts_jobs and has_tasks(protocol_version):
        capabilities["tasks"] = TASKS
    return capabilities


class DeclaredCapabilities:
    """The `Server.middleware` entry that rewrites each `initialize` result's capabilities for its connection."""

    def __init__(self, starts_jobs: bool):
        self.starts_jobs = starts_jobs

    async def __call__(self, ctx: Ctx, call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method == "initialize" and isinstance(result, dict):
            result["capabilities"] = handshake_capabilities(
                result.get("capabilities") or {}, legacy_sse=is_legacy_sse(ctx),
                protocol_version=str(result.get("protocolVersion")), starts_jobs=self.starts_jobs)
        return result
