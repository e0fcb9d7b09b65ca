"""What the resource server is configured with (read by host/config.py from the command line and the
environment: `--oauth-issuer` / MCP_OAUTH_ISSUER, `--oauth-audience` / MCP_OAUTH_AUDIENCE, and the scopes
in WEBSITE_AUTH_PRM_DEFAULT_WITH_SCOPES, the app setting App Service reads for the same metadata)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

# Asymmetric signatures only (RFC 8725 §3.1: an allow-list; never `none`, never a shared-secret HMAC, which
# anyone holding the JWKS could forge if the key were taken for a secret).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CLOCK_SKEW_SECONDS = 60


class OAuthSettingsError(ValueError):
    """A setting that cannot work, in one sentence that names it."""


@dataclass(frozen=True)
class OAuthSettings:
    """`issuer`: the authorization server whose tokens the host accepts (its `iss`, and the base of its
    discovery document); `audiences`: accepted `aud` values (empty: this host's own resource URLs, as RFC 8707
    resource indicators name them); `scopes`: the `scopes_supported` of the protected resource metadata;
    `leeway`: clock skew allowed on exp/nbf/iat, in seconds."""

    issuer: str
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = ALGORITHMS
    leeway: int = CLOCK_SKEW_SECONDS

    def __post_init__(self) -> None:
        parts = urlsplit(self.issuer)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise OAuthSettingsError(f"MCP_OAUTH_ISSUER {self.issuer!r} is not an http(s) URL")
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            raise OAuthSettingsError(f"MCP_OAUTH_ISSUER {self.issuer!r} must use https (http only on loopback)")


def is_loopback(hostname: str) -> bool:
    return hostname in ("localhost", "::1") or hostname.startswith("127.")


def split_list(text: str | None) -> tuple[str, ...]:
    """A comma- or space-separated setting as a tuple, empty entries dropped."""
    return tuple(item for item in (text or "").replace(",", " ").split() if item)
