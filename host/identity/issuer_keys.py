"""The issuer's signing keys: OpenID Connect discovery, then its JWKS, cached and refreshed on rotation.

- Discovery (OpenID Connect Discovery 1.0 §4): `<issuer>/.well-known/openid-configuration`, whose `issuer`
  must equal the configured one exactly (§4.3) and whose `jwks_uri` must be https (or http on loopback).
- The JWKS is kept for `MAX_AGE_SECONDS`; a token whose `kid` is not in it makes the host read the JWKS
  again (an issuer that rotated its keys publishes the new one before signing with it), at most once per
  `REFRESH_SECONDS`, so tokens with made-up key ids cannot make the host hammer the issuer.
- Which key verifies a token: the one with its `kid` (or the only key, when the token names none), usable
  for signatures (`use` absent or `sig`), asymmetric, and of the token's algorithm: the JWK's own `alg` when
  it has one, else the algorithm family of its key type (RSA: RS*/PS*, EC: ES*, OKP: EdDSA).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from jwt import PyJWK
from jwt.exceptions import PyJWKError

from host.identity.settings import is_loopback

MAX_AGE_SECONDS = 3600
REFRESH_SECONDS = 10
FETCH_TIMEOUT_SECONDS = 10
KEY_FAMILIES = {"RSA": ("RS", "PS"), "EC": ("ES",), "OKP": ("EdDSA",)}


class NoSuchKey(LookupError):
    """The token's key is not among the issuer's (after a refresh, when one was allowed)."""


class IssuerUnavailable(RuntimeError):
    """The issuer's metadata or keys could not be read: a sentence that says which and why."""


def _check_url(url: Any, what: str) -> str:
    parts = urlsplit(str(url))
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or "")):
        return str(url)
    raise IssuerUnavailable(f"the issuer's {what} {str(url)[:200]!r} is not an https URL")


def _fits(jwk: dict[str, Any], alg: str) -> bool:
    if jwk.get("use") not in (None, "sig") or jwk.get("kty") not in KEY_FAMILIES:
        return False
    if jwk.get("alg"):
        return jwk["alg"] == alg
    return alg.startswith(KEY_FAMILIES[jwk["kty"]])


class IssuerKeys:
    """The signing keys of one issuer (see the module docstring)."""

    def __init__(self, issuer: str):
        self.issuer = issuer
        self._metadata: dict[str, Any] | None = None
        self._jwks: list[dict[str, Any]] = []
        self._fetched_at = -MAX_AGE_SECONDS
        self._refreshed_at = -REFRESH_SECONDS
        self._lock = asyncio.Lock()

    async def _get_json(self, client: httpx.AsyncClient, url: str, what: str) -> dict[str, Any]:
        try:
            response = await client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise IssuerUnavailable(f"the issuer's {what} could not be read ({type(error).__name__})") from None
        if response.status_code != 200:
            raise IssuerUnavailable(f"the issuer's {what} answered HTTP {response.status_code}")
        try:
            value = response.json()
        except ValueError:
            raise IssuerUnavailable(f"the issuer's {what} is not JSON") from None
        if not isinstance(value, dict):
            raise IssuerUnavailable(f"the issuer's {what} is not a JSON object")
        return value

    async def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document, read once (a failed read is tried again by the next caller)."""
        if self._metadata is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS) as client:
                metadata = await self._get_json(client, url, "discovery document")
            if metadata.get("issuer") != self.issuer:
                raise IssuerUnavailable(f"the discovery document names issuer {str(metadata.get('issuer'))[:200]!r}, "
                                        f"not {self.issuer!r}")
            _check_url(metadata.get("jwks_uri"), "jwks_uri")
            self._metadata = metadata
        return self._metadata

    async def _fetch(self) -> None:
        jwks_uri = (await self.metadata())["jwks_uri"]
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS) as client:
            document = await self._get_json(client, jwks_uri, "JWKS")
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise IssuerUnavailable("the issuer's JWKS has no keys list")
        self._jwks = [key for key in keys if isinstance(key, dict)]
        self._fetched_at = time.monotonic()

    def _find(self, kid: str | None, alg: str) -> PyJWK | None:
        candidates = [key for key in self._jwks if _fits(key, alg)]
        if kid is not None:
            candidates = [key for key in candidates if key.get("kid") == kid]
        elif len(candidates) != 1:  # no kid: only an issuer with a single key can be matched
            return None
        for jwk in candidates:
            try:
                return PyJWK(jwk, algorithm=alg)
            except PyJWKError:
                continue
        return None

    async def key(self, kid: str | None, alg: str) -> PyJWK:
        """The verification key for a token's `kid` and `alg`; NoSuchKey or IssuerUnavailable."""
        async with self._lock:
            now = time.monotonic()
            fresh = now - self._fetched_at > MAX_AGE_SECONDS
            if fresh:
                await self._fetch()
            found = self._find(kid, alg)
            if found is None and not fresh and now - self._refreshed_at > REFRESH_SECONDS:
                self._refreshed_at = now  # perhaps a rotation: read the keys again, once per REFRESH_SECONDS
                await self._fetch()
                found = self._find(kid, alg)
        if found is None:
            raise NoSuchKey(kid)
        return found
