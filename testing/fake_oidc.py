"""A fake OpenID Connect issuer over real HTTP: the authorization server the tests' users sign in with.

An identity provider (Entra ID, or any OIDC provider) is outside the project, so a fake is right; it speaks
the protocols the real ones do, so the real clients run their real flows against it:

- discovery: `/.well-known/openid-configuration` and RFC 8414 `/.well-known/oauth-authorization-server`;
- `/jwks`: the public keys; `rotate()` makes a new signing key and publishes it beside the old ones;
- `/register`: dynamic client registration (RFC 7591), public clients (`token_endpoint_auth_method` none);
- `/authorize`: the authorization code grant with PKCE (S256 only, RFC 7636). The person at the browser is
  whoever `sign_in_as()` names (the test's choice); it redirects to the registered redirect URI with the code,
  the state and `iss` (RFC 9207);
- `/token`: code + verifier (and refresh tokens) for an access token: an RS256 JWT whose `aud` is the RFC 8707
  `resource` the client asked for (else `default_audience`), `sub`, `name`, `preferred_username` and, for an
  admin, `roles`.

`token(user, ...)` mints a token directly (the TypeScript client and the token cases use it), with any claim
or header changed, signed by any key (`foreign_key()`: a key this issuer never published), or unsigned.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .background_server import BackgroundServer

ADMIN_ROLE = "Jobs.Admin"
TOKEN_SECONDS = 600


@dataclass(frozen=True)
class User:
    sub: str
    name: str
    email: str
    roles: tuple[str, ...] = ()

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": self.sub, "name": self.name, "preferred_username": self.email}
        if self.roles:
            claims["roles"] = list(self.roles)
        return claims


USERS = {
    "alice": User("alice-0001", "Alice Ærø", "alice@example.com"),
    "bob": User("bob-0002", "Bob Builder", "bob@example.com"),
    "carol": User("carol-0003", "Carol Admin", "carol@example.com", (ADMIN_ROLE,)),
}


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def new(cls) -> "SigningKey":
        return cls(secrets.token_hex(8), rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class FakeOidcIssuer(BackgroundServer):
    name = "fake-oidc-issuer"

    def __init__(self) -> None:
        super().__init__()
        self.keys = [SigningKey.new()]
        self.default_audience = "api://durable-agents"
        self.signed_in: str = "alice"
        self.clients: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, tuple[str, str, str]] = {}
        self.jwks_reads = 0
        self.registrations = 0
        self.tokens_issued = 0
        self._lock = threading.Lock()

    @property
    def issuer(self) -> str:
        return self.url

    # ---- what a test does --------------------------------------------------------------------
    def sign_in_as(self, user: str) -> None:
        """The person who signs in at `/authorize` from now on."""
        self.signed_in = user

    def rotate(self) -> SigningKey:
        """A new signing key, published beside the old ones (as issuers do before switching)."""
        key = SigningKey.new()
        with self._lock:
            self.keys.append(key)
        return key

    @staticmethod
    def foreign_key() -> SigningKey:
        """A key this issuer never published (another issuer's)."""
        return SigningKey.new()

    def token(self, user: str, audience: str | None = None, *, key: SigningKey | None = None,
              lifetime: int = TOKEN_SECONDS, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """An access token for `user`; `claims` override or add claims (None removes one)."""
        now = int(time.time())
        body = {"iss": self.issuer, "aud": audience or self.default_audience, "iat": now, "nbf": now,
                "exp": now + lifetime, **USERS[user].claims(), "scp": "jobs"}
        for name, value in claims.items():
            body.pop(name, None) if value is None else body.__setitem__(name, value)
        signing = key or self.keys[-1]
        return jwt.encode(body, signing.private, algorithm="RS256", headers={"kid": signing.kid, **(header or {})})

    def unsigned_token(self, user: str, audience: str | None = None) -> str:
        """The same claims with `alg: none` and no signature (RFC 7519 §6: an unsecured JWT)."""
        signed = self.token(user, audience)
        claims = jwt.decode(signed, options={"verify_signature": False})
        head = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{head}.{_b64(json.dumps(claims).encode())}."

    def hmac_token(self, user: str, audience: str | None = None) -> str:
        """The same claims as `HS256` over the issuer's public key as the secret: the algorithm-confusion attack
        (RFC 8725 §2.1) on a server that takes any alg the token names."""
        claims = jwt.decode(self.token(user, audience), options={"verify_signature": False})
        secret = self.keys[-1].private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        signing_input = (f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': self.keys[-1].kid}).encode())}."
                         f"{_b64(json.dumps(claims).encode())}")
        return f"{signing_input}.{_b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"

    # ---- the HTTP side -----------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.metadata),
            Route("/.well-known/oauth-authorization-server", self.metadata),
            Route("/jwks", self.jwks),
            Route("/register", self.register, methods=["POST"]),
            Route("/authorize", self.authorize),
            Route("/token", self.token_endpoint, methods=["POST"]),
        ])

    async def metadata(self, _request: Request) -> JSONResponse:
        base = self.issuer
        return JSONResponse({
            "issuer": base, "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
            "registration_endpoint": f"{base}/register", "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"], "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"], "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["jobs", "offline_access"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_response_iss_parameter_supported": True})

    async def jwks(self, _request: Request) -> JSONResponse:
        with self._lock:
            self.jwks_reads += 1
            return JSONResponse({"keys": [key.jwk() for key in self.keys]})

    async def register(self, request: Request) -> JSONResponse:
        metadata = await request.json()
        redirect_uris = metadata.get("redirect_uris") or []
        if not redirect_uris:
            return JSONResponse({"error": "invalid_redirect_uri"}, status_code=400)
        client_id = f"client-{secrets.token_hex(6)}"
        self.clients[client_id] = {**metadata, "client_id": client_id, "token_endpoint_auth_method": "none",
                                   "client_id_issued_at": int(time.time())}
        self.registrations += 1
        return JSONResponse(self.clients[client_id], status_code=201)

    async def authorize(self, request: Request) -> Response:
        params = request.query_params
        client = self.clients.get(params.get("client_id", ""))
        if client is None or params.get("redirect_uri") not in client["redirect_uris"]:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        if params.get("response_type") != "code" or params.get("code_challenge_method") != "S256" \
                or not params.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "error_description": "code + PKCE S256"},
                                status_code=400)
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"client_id": client["client_id"], "redirect_uri": params["redirect_uri"],
                            "challenge": params["code_challenge"], "user": self.signed_in,
                            "resource": params.get("resource"), "scope": params.get("scope")}
        query = urlencode({"code": code, "state": params.get("state", ""), "iss": self.issuer})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    async def token_endpoint(self, request: Request) -> JSONResponse:
        form = await request.form()
        if form.get("grant_type") == "refresh_token":
            found = self.refresh_tokens.get(str(form.get("refresh_token")))
            if found is None or found[0] != form.get("client_id"):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return self._issue(found[0], found[1], found[2])
        grant = self.codes.pop(str(form.get("code")), None)
        if grant is None or form.get("grant_type") != "authorization_code" \
                or grant["client_id"] != form.get("client_id") or grant["redirect_uri"] != form.get("redirect_uri"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = str(form.get("code_verifier") or "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE verifier mismatch"},
                                status_code=400)
        return self._issue(grant["client_id"], grant["user"], str(form.get("resource") or grant["resource"] or ""))

    def _issue(self, client_id: str, user: str, resource: str) -> JSONResponse:
        refresh = secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = (client_id, user, resource)
        self.tokens_issued += 1
        return JSONResponse({"access_token": self.token(user, resource or None, azp=client_id),
                             "token_type": "Bearer", "expires_in": TOKEN_SECONDS, "refresh_token": refresh,
                             "scope": "jobs"})
