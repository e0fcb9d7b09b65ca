"""Who may talk to the host at all: the checks every endpoint shares (issue 8 item 1).

- Host (421) and Origin (403), on every request: a web page must not reach the host through DNS
  rebinding (a foreign name resolving to 127.0.0.1) or by posting across origins (CSRF). Allowed:
  loopback names and the bind address with any port, plus `allowed_hosts` entries (`name` or
  `name:*` for any port, `name:port` for exactly that authority). An Origin must be http(s) with an
  allowed authority; browsers send one with every cross-origin request and every POST, so a request
  without one comes from a non-browser client (curl, the Durable SDK).
- Content type (415), for state-changing requests to endpoints that take no key (the SDK's rpc base,
  health): a body must be declared `application/json` (or `+json`); an empty body may come with
  any other type (the SDK's aiohttp sends `application/octet-stream` for terminate, suspend, ...)
  except the three a page can send without a CORS preflight: `text/plain`,
  `application/x-www-form-urlencoded` and `multipart/form-data` (Fetch standard, "CORS-safelisted
  request-header").

The MCP endpoints apply the same rules (the MCP spec's DNS-rebinding advice; its content type is
always JSON), answered with JSON-RPC error bodies.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_BIND = frozenset({"0.0.0.0", "::", ""})
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CORS_SAFELISTED_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
ALLOWED_HOSTS_HINT = "Allow other names with the MCP_ALLOWED_HOSTS environment variable or --allowed-host."


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: the HTTP status and a message for the client."""

    status: int
    message: str


def _hostname(authority: str) -> str:
    """`host[:port]` → host, lower-cased, IPv6 brackets removed ('' when malformed)."""
    try:
        return (urlsplit(f"//{authority}").hostname or "").lower()
    except ValueError:
        return ""


def _has_port(authority: str) -> bool:
    try:
        return urlsplit(f"//{authority}").port is not None
    except ValueError:
        return False


class RequestGuard:
    """The Host and Origin allow-list of one host."""

    def __init__(self, bind_host: str, allowed_hosts: Iterable[str] = ()):
        self._hostnames = set(LOOPBACK_HOSTS)
        self._authorities: set[str] = set()
        if bind_host.lower() not in WILDCARD_BIND:
            self._hostnames.add(_hostname(bind_host) or bind_host.lower())
        for entry in (h.strip().lower() for h in allowed_hosts):
            if not entry:
                continue
            if entry.endswith(":*") or not _has_port(entry):
                self._hostnames.add(_hostname(entry.removesuffix(":*")))
            else:
                self._authorities.add(entry)

    def _host_allowed(self, authority: str) -> bool:
        authority = authority.lower()
        return authority in self._authorities or _hostname(authority) in self._hostnames

    def _origin_allowed(self, origin: str) -> bool:
        try:
            parts = urlsplit(origin)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            return False
        return parts.scheme in ("http", "https") and bool(parts.netloc) and self._host_allowed(parts.netloc)

    def refusal(self, headers: Headers) -> Refusal | None:
        """421 for a foreign Host, 403 for a foreign Origin, else None."""
        if not self._host_allowed(headers.get("host", "")):
            return Refusal(421, f"Misdirected Request: invalid Host header. {ALLOWED_HOSTS_HINT}")
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin):
            return Refusal(403, "Forbidden: invalid Origin header")
        return None


def _media_type(value: str) -> str:
    return value.split(";")[0].strip().lower()


def is_json_content_type(value: str) -> bool:
    """`application/json` or a `+json` type, any parameters."""
    media = _media_type(value)
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def content_type_refusal(method: str, headers: Headers) -> Refusal | None:
    """415 for a state-changing request whose body is not declared JSON (see the module docstring)."""
    if method.upper() not in STATE_CHANGING_METHODS:
        return None
    content_type = headers.get("content-type", "")
    if is_json_content_type(content_type):
        return None
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    if not has_body and _media_type(content_type) not in CORS_SAFELISTED_TYPES:
        return None
    return Refusal(415, "Unsupported Media Type: Content-Type must be application/json")


Render = Callable[[str, Refusal], Response]


class GuardMiddleware:
    """ASGI middleware: every HTTP request passes the Host/Origin check before any route sees it.

    `render(path, refusal)` shapes the answer, so each API keeps its own error body.
    """

    def __init__(self, app: ASGIApp, guard: RequestGuard, render: Render):
        self.app = app
        self.guard = guard
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.guard.refusal(Headers(scope=scope))
            if refusal is not None:
                await self.render(scope["path"], refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)
