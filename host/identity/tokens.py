"""Bearer token validation: a JWT access token from the configured issuer, for this resource.

What a token must be (MCP 2025-11-25 Authorization, "Token Handling"; RFC 9068 §4; RFC 8725 §3):
- a JWS whose header `alg` is on the allow-list (asymmetric only: `none` and HMAC are refused before any
  key is looked up), signed by the issuer's key its `kid` names (host/identity/issuer_keys.py);
- `iss` equal to the configured issuer; `aud` naming this resource (an accepted audience);
- `exp` in the future and `nbf`/`iat` not in the future, with `leeway` seconds of clock skew;
- a `sub`: the caller the job will belong to.
PyJWT (with cryptography) does the checks; this module picks the key and words the refusal.
"""
from __future__ import annotations

from typing import Any

import jwt
from jwt.exceptions import ExpiredSignatureError, ImmatureSignatureError, InvalidAudienceError, \
    InvalidIssuerError, InvalidTokenError, MissingRequiredClaimError

from host.identity.issuer_keys import IssuerKeys, NoSuchKey
from host.identity.settings import OAuthSettings

REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
MAX_TOKEN_CHARS = 16 * 1024


class InvalidToken(ValueError):
    """Why a token is refused: a short sentence for `error_description` (RFC 6750 §3)."""


def _reason(error: InvalidTokenError) -> str:
    if isinstance(error, ExpiredSignatureError):
        return "the token has expired"
    if isinstance(error, ImmatureSignatureError):
        return "the token is not valid yet"
    if isinstance(error, InvalidAudienceError):
        return "the token is not for this resource (audience)"
    if isinstance(error, InvalidIssuerError):
        return "the token is from another issuer"
    if isinstance(error, MissingRequiredClaimError):
        return f"the token has no {error.claim} claim"
    return "the token's signature or form is invalid"


class TokenValidator:
    """Validates bearer tokens for one `OAuthSettings`."""

    def __init__(self, settings: OAuthSettings, keys: IssuerKeys | None = None):
        self.settings = settings
        self.keys = keys or IssuerKeys(settings.issuer)

    async def claims(self, token: str, audiences: tuple[str, ...]) -> dict[str, Any]:
        """The token's claims when it is valid for one of `audiences`; InvalidToken otherwise, or
        IssuerUnavailable (issuer_keys.py) when the issuer's keys cannot be read."""
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("the token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError:
            raise InvalidToken("the token is not a JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.settings.algorithms:
            raise InvalidToken(f"the token's algorithm {str(alg)[:20]!r} is not accepted")
        kid = header.get("kid")
        try:
            key = await self.keys.key(kid if isinstance(kid, str) else None, alg)
        except NoSuchKey:
            raise InvalidToken("the token is not signed by a key of the issuer") from None
        try:
            claims = jwt.decode(token, key=key, algorithms=[alg], audience=list(audiences),
                                issuer=self.settings.issuer, leeway=self.settings.leeway,
                                options={"require": REQUIRED_CLAIMS})
        except InvalidTokenError as error:
            raise InvalidToken(_reason(error)) from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidToken("the token's sub claim is empty")
        return claims
