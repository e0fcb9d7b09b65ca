"""A team's server for tests: the project's app on a host that signs callers in with the fake OIDC issuer, as
infra/ deploys it behind Entra ID (the MCP key off through the same app setting), and clients for its people."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .fake_oidc import FakeOidcIssuer
from .host_process import HostProcess, project_host

MCP_PATH = "/runtime/webhooks/mcp"
# what infra/app/function-app.bicep sets when Entra ID signs callers in (host.json keeps the key for one person)
ANONYMOUS_MCP = {"AzureFunctionsJobHost__extensions__mcp__system__webhookAuthorizationLevel": "Anonymous"}


def team_host(state: Path, model, site, issuer: FakeOidcIssuer, **env: str) -> HostProcess:
    """The project's app, its model the scripted server, callers signed in by `issuer`."""
    return project_host(state, model, site, MCP_OAUTH_ISSUER=issuer.issuer, **ANONYMOUS_MCP, **env)


def mcp_url(host: HostProcess) -> str:
    return f"{host.base_url}{MCP_PATH}"


@contextlib.asynccontextmanager
async def signed_in(host: HostProcess, token: str, mode: str = "legacy", **options: Any) -> AsyncIterator[Client]:
    """The official client over Streamable HTTP with a bearer token (and no key); `options` go to the Client
    (an elicitation_callback, say)."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=90) as http:
        async with Client(streamable_http_client(mcp_url(host), http_client=http), mode=mode, **options) as client:
            yield client
