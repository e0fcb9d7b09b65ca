"""Who is calling (issue 20 §1, §3): the local host as an OAuth 2.1 resource server for a configured issuer,
against the real host and the fake OIDC issuer (testing/fake_oidc.py, an outside service).

- the official MCP Python SDK client performs the OAuth flow it implements: 401, protected resource metadata,
  authorization server metadata, dynamic registration, authorization code with PKCE, token, retry;
- every bad token (none, guessed, expired, not yet valid, wrong audience, wrong issuer, `alg: none`, an HMAC
  over the public key, another issuer's key, no subject) is a 401 naming the metadata, and changes nothing;
- the issuer rotates its signing key: the host reads its JWKS again and accepts the new key's tokens;
- principal headers a client sends are dropped: a forged admin is still who their token says.
"""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from testing.mcp_client import call
from testing.team import mcp_url, signed_in

CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "run_agent", "arguments": {"task": "Say hello"}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def host(team):
    return team


def prm_url(host) -> str:
    return f"{host.base_url}/.well-known/oauth-protected-resource/runtime/webhooks/mcp"


def post(host, token: str | None = None, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(mcp_url(host), json=CALL, headers={**ACCEPT, **auth, **headers}, timeout=30)


async def jobs_of(host, issuer, user: str) -> list[str]:
    async with signed_in(host, issuer.token(user, mcp_url(host))) as client:
        return [job["job_id"] for job in (await call(client, "list_jobs", limit=100))["jobs"]]


def test_the_metadata_names_the_issuer_and_the_401_links_it(host, issuer):
    document = httpx.get(prm_url(host)).json()
    assert document["resource"] == mcp_url(host) and document["authorization_servers"] == [issuer.issuer]
    assert document["bearer_methods_supported"] == ["header"]
    root = httpx.get(f"{host.base_url}/.well-known/oauth-protected-resource").json()
    assert root["resource"] == host.base_url
    assert httpx.get(f"{host.base_url}/.well-known/oauth-protected-resource/elsewhere").status_code == 404
    refused = post(host, **{"x-functions-key": host.mcp_key})  # a key is no sign-in here
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == f'Bearer resource_metadata="{prm_url(host)}"'
    assert refused.json()["error"]["message"].startswith("Unauthorized")
    api = httpx.get(f"{host.base_url}/api/job-view/jobs", headers={"x-functions-key": "test-function-key"})
    assert api.status_code == 401
    challenge = api.headers["WWW-Authenticate"]
    assert f'resource_metadata="{host.base_url}/.well-known/oauth-protected-resource"' in challenge


async def test_the_sdk_client_signs_in_with_the_oauth_flow(host, issuer):
    """The official Python client's OAuthClientProvider, with a browser that follows the issuer's redirect."""

    class Memory:
        tokens: OAuthToken | None = None
        client: OAuthClientInformationFull | None = None

        async def get_tokens(self):
            return self.tokens

        async def set_tokens(self, tokens):
            self.tokens = tokens

        async def get_client_info(self):
            return self.client

        async def set_client_info(self, client_info):
            self.client = client_info

    redirected: list[str] = []

    async def browser(url: str) -> None:  # the person signs in; the issuer redirects back with the code
        response = httpx.get(url, follow_redirects=False)
        assert response.status_code == 302, response.text
        redirected.append(response.headers["location"])

    async def callback() -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(redirected[-1]).query)
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query["iss"][0])

    issuer.sign_in_as("bob")
    registrations, tokens = issuer.registrations, issuer.tokens_issued
    auth = OAuthClientProvider(
        mcp_url(host), OAuthClientMetadata(client_name="test client", redirect_uris=["http://127.0.0.1:1/callback"],
                                           grant_types=["authorization_code", "refresh_token"],
                                           token_endpoint_auth_method="none"),
        Memory(), redirect_handler=browser, callback_handler=callback)
    async with httpx2.AsyncClient(auth=auth, timeout=60) as http:
        async with Client(streamable_http_client(mcp_url(host), http_client=http), mode="legacy") as client:
            job = await call(client, "run_agent", task="Say hello")
    assert (issuer.registrations, issuer.tokens_issued) == (registrations + 1, tokens + 1)
    claims = jwt.decode(auth.context.current_tokens.access_token, options={"verify_signature": False})
    assert claims["aud"] == mcp_url(host) and claims["sub"] == "bob-0002"  # RFC 8707: the resource it asked for
    assert job["job_id"] in await jobs_of(host, issuer, "bob")


async def test_a_rotated_signing_key_is_fetched_and_accepted(host, issuer):
    async with signed_in(host, issuer.token("alice", mcp_url(host))) as client:
        await call(client, "list_jobs")
    reads = issuer.jwks_reads
    new_key = issuer.rotate()
    async with signed_in(host, issuer.token("alice", mcp_url(host), key=new_key)) as client:
        await call(client, "list_jobs")
    assert issuer.jwks_reads == reads + 1
    async with signed_in(host, issuer.token("alice", mcp_url(host))) as client:  # known key: no new read
        await call(client, "list_jobs")
    assert issuer.jwks_reads == reads + 1


def bad_tokens(host, issuer) -> dict[str, str]:
    audience = mcp_url(host)
    claims = jwt.decode(issuer.token("alice", audience), options={"verify_signature": False})
    return {
        "guessed": base64.urlsafe_b64encode(b"let me in").decode(),
        "expired": issuer.token("alice", audience, lifetime=-120),
        "not yet valid": issuer.token("alice", audience, nbf=int(claims["iat"]) + 600),
        "wrong audience": issuer.token("alice", "api://someone-else"),
        "wrong issuer": issuer.token("alice", audience, iss="https://evil.example"),
        "alg none": issuer.unsigned_token("alice", audience),
        "hmac over the public key": issuer.hmac_token("alice", audience),
        "another issuer's key": issuer.token("alice", audience, key=issuer.foreign_key()),
        "no subject": issuer.token("alice", audience, sub=None),
    }


async def test_every_bad_token_is_refused_with_the_metadata_link_and_changes_nothing(host, issuer):
    before = await jobs_of(host, issuer, "alice")
    reasons = {}
    for case, token in bad_tokens(host, issuer).items():
        response = post(host, token)
        assert response.status_code == 401, (case, response.text)
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith(f'Bearer resource_metadata="{prm_url(host)}"'), case
        assert 'error="invalid_token"' in challenge, case
        reasons[case] = response.json()["error"]["message"]
    assert await jobs_of(host, issuer, "alice") == before
    assert reasons["expired"] == "Unauthorized: the token has expired."
    assert reasons["not yet valid"] == "Unauthorized: the token is not valid yet."
    assert reasons["wrong audience"] == "Unauthorized: the token is not for this resource (audience)."
    assert reasons["wrong issuer"] == "Unauthorized: the token is from another issuer."
    assert reasons["alg none"] == "Unauthorized: the token's algorithm 'none' is not accepted."
    assert reasons["hmac over the public key"] == "Unauthorized: the token's algorithm 'HS256' is not accepted."
    assert reasons["another issuer's key"] == "Unauthorized: the token is not signed by a key of the issuer."
    assert reasons["no subject"] == "Unauthorized: the token has no sub claim."
    assert reasons["guessed"] == "Unauthorized: the token is not a JWT."


async def test_principal_headers_from_a_client_are_dropped(host, issuer):
    forged = base64.b64encode(json.dumps({"auth_typ": "aad", "claims": [{"typ": "roles", "val": "Jobs.Admin"}],
                                          "name_typ": "name", "role_typ": "roles"}).encode()).decode()
    forgery = {"X-MS-CLIENT-PRINCIPAL": forged, "X-MS-CLIENT-PRINCIPAL-ID": "carol-0003",
               "X-MS-CLIENT-PRINCIPAL-IDP": "aad"}
    assert post(host, **forgery).status_code == 401  # headers are no sign-in
    async with signed_in(host, issuer.token("carol", mcp_url(host))) as admin:
        carols = await call(admin, "run_agent", task="Say hello")
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {issuer.token('bob', mcp_url(host))}",
                                           **forgery}, timeout=60) as http:
        async with Client(streamable_http_client(mcp_url(host), http_client=http), mode="legacy") as client:
            result = await client.call_tool("get_job", {"job_id": carols["job_id"]})
            listed = await call(client, "list_jobs", limit=100)
    assert result.is_error and result.content[0].text.startswith(f"Unknown job '{carols['job_id']}'")
    assert carols["job_id"] not in [job["job_id"] for job in listed["jobs"]]
