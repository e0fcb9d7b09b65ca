"""The local host as an OAuth 2.1 resource server (MCP 2025-11-25 Authorization; RFC 9728; RFC 6750), doing
for the local host what App Service's built-in authentication does in front of the app on Azure.

On every request, whatever the configuration: the `X-MS-CLIENT-PRINCIPAL*` and `X-MS-TOKEN-*` headers a
client sent are dropped (App Service: "External requests aren't allowed to set these headers").

With an issuer configured (`OAuthSettings`):
- `GET /.well-known/oauth-protected-resource` and, for the MCP endpoint, the path-suffixed form
  `/.well-known/oauth-protected-resource/runtime/webhooks/mcp` (RFC 9728 §3.1) answer the protected resource
  metadata: `resource` (the URL the document was asked for, without the well-known part: §3.3),
  `authorization_servers: [issuer]`, `scopes_supported`, `bearer_methods_supported: ["header"]`;
- every other request but the `exempt` ones needs `Authorization: Bearer <JWT>` valid for this resource
  (host/identity/tokens.py); without one: 401 with `WWW-Authenticate: Bearer resource_metadata="<url>"`
  (and `scope` when scopes are configured); with an invalid one the same plus `error="invalid_token"` and
  a short `error_description`. Nothing behind it runs, so nothing changes. When the issuer's keys cannot
  be read: 503 with the reason (a token cannot be judged; clients should not re-authenticate);
- a valid token's request goes on with the caller in App Service's headers (client_principal.py), and as the
  ASGI `user` the MCP SDK reads (`AuthenticatedUser`: client, issuer, subject; not the token), so that the SDK's
  legacy SSE transport binds a session to the person whose stream began it and answers anyone else's message to
  it as to a session that does not exist (issue 20 with issue 21 §1.3).

Accepted audiences: the configured ones, else this host's own resource URLs as the request names them (the
origin, and the MCP endpoint's URL), which is what an RFC 8707 `resource` indicator asks the issuer for.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from host.http.guard import Refusal, Render
from host.identity.client_principal import is_principal_header, principal_headers, principal_id, provider_name
from host.identity.issuer_keys import IssuerUnavailable
from host.identity.settings import OAuthSettings
from host.identity.tokens import InvalidToken, TokenValidator

PRM_PATH = "/.well-known/oauth-protected-resource"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ResourceServer:
    """ASGI middleware (see the module docstring). `resources`: the paths that have their own metadata
    document (the MCP endpoint); `exempt(path)`: paths served without a token; `render(path, refusal)`: the
    error body of each API; `resource_name`: a name for people in the metadata."""

    def __init__(self, app: ASGIApp, settings: OAuthSettings | None, resources: tuple[str, ...],
                 exempt: Callable[[str], bool], render: Render, resource_name: str):
        self.app = app
        self.settings = settings
        self.resources = resources
        self.exempt = exempt
        self.render = render
        self.resource_name = resource_name
        self.validator = TokenValidator(settings) if settings else None
        self.idp = provider_name(settings.issuer) if settings else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if not is_principal_header(k)]}
        path = scope["path"]
        if self.validator is None or self.exempt(path):
            await self.app(scope, receive, send)
            return
        if path == PRM_PATH or path.startswith(PRM_PATH + "/"):
            await self._metadata(scope, path.removeprefix(PRM_PATH))(scope, receive, send)
            return
        headers = Headers(scope=scope)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await self._refuse(scope, "Unauthorized: this server needs a bearer token from its authorization "
                                      "server (see its protected resource metadata).")(scope, receive, send)
            return
        try:
            claims = await self.validator.claims(token.strip(), self._audiences(scope))
        except InvalidToken as error:
            await self._refuse(scope, f"Unauthorized: {error}.", str(error))(scope, receive, send)
            return
        except IssuerUnavailable as error:
            response = self.render(path, Refusal(503, f"Service Unavailable: the token cannot be checked now: "
                                                      f"{error}. Try again later."))
            response.headers["Retry-After"] = "30"
            await response(scope, receive, send)
            return
        scope["headers"] = [*scope["headers"], *principal_headers(claims, self.idp)]
        scope["user"] = authenticated_user(claims)
        await self.app(scope, receive, send)

    # ---- metadata and refusals --------------------------------------------------------------

    def _base(self, scope: Scope) -> str:
        host = Headers(scope=scope).get("host") or "localhost"
        return f"{scope.get('scheme', 'http')}://{host}"

    def _resource_path(self, path: str) -> str:
        """The path whose metadata describes `path`: a resource with its own document, else the origin ('')."""
        for resource in self.resources:
            if path == resource or path.startswith(resource + "/"):
                return resource
        return ""

    def _audiences(self, scope: Scope) -> tuple[str, ...]:
        assert self.settings is not None
        if self.settings.audiences:
            return self.settings.audiences
        base = self._base(scope)
        return (base, f"{base}/", *(f"{base}{resource}" for resource in self.resources))

    def _metadata_url(self, scope: Scope) -> str:
        return f"{self._base(scope)}{PRM_PATH}{self._resource_path(scope['path'])}"

    def _metadata(self, scope: Scope, suffix: str) -> Response:
        assert self.settings is not None
        if scope["method"] not in ("GET", "HEAD"):
            return Response(status_code=405, headers={"Allow": "GET"})
        if suffix not in ("", *self.resources):
            return Response(json.dumps({"error": "No protected resource metadata at this path."}), status_code=404,
                            media_type="application/json")
        document: dict[str, Any] = {"resource": self._base(scope) + suffix,
                                    "authorization_servers": [self.settings.issuer],
                                    "bearer_methods_supported": ["header"],
                                    "resource_name": self.resource_name}
        if self.settings.scopes:
            document["scopes_supported"] = list(self.settings.scopes)
        return Response(json.dumps(document), media_type="application/json", headers={"Cache-Control": "no-store"})

    def _refuse(self, scope: Scope, message: str, description: str | None = None) -> Response:
        assert self.settings is not None
        challenge = [f"resource_metadata={_quoted(self._metadata_url(scope))}"]
        if self.settings.scopes:
            challenge.append(f"scope={_quoted(' '.join(self.settings.scopes))}")
        if description is not None:
            challenge += ['error="invalid_token"', f"error_description={_quoted(description)}"]
        response = self.render(scope["path"], Refusal(401, message))
        response.headers["WWW-Authenticate"] = "Bearer " + ", ".join(challenge)
        return response


def authenticated_user(claims: dict[str, Any]) -> AuthenticatedUser:
    """The MCP SDK's user for a validated token's claims: the client it was issued to (`azp`, Entra v1 `appid`),
    its issuer and the caller's id, which the SDK compares to bind sessions to their creator. The token itself is
    not kept (empty)."""
    client = claims.get("azp") or claims.get("appid") or claims.get("client_id") or ""
    return AuthenticatedUser(AccessToken(token="", client_id=str(client), scopes=[], subject=principal_id(claims),
                                         claims={"iss": claims.get("iss")}))
