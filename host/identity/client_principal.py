"""A validated token's claims as App Service authentication passes the caller to an app.

App Service injects, and the Functions MCP extension hands each tool in `transport.properties.headers`
(McpTriggerTransportHelper.cs: every request header), these headers ("Work with user identities in Azure
App Service authentication", learn.microsoft.com/azure/app-service/configure-authentication-user-identities):

- `X-MS-CLIENT-PRINCIPAL`: Base64 of JSON `{"auth_typ", "claims": [{"typ", "val"}], "name_typ", "role_typ"}`;
  claim types go through the default claims mapping (.NET's JwtSecurityTokenHandler inbound map: `sub` is
  `.../nameidentifier`, `oid` `.../objectidentifier`, `roles` `.../role`, ...), so some differ from the token;
- `X-MS-CLIENT-PRINCIPAL-ID`: the identity provider's id of the caller (Entra: the object id);
- `X-MS-CLIENT-PRINCIPAL-NAME`: a readable name (user principal name, e-mail);
- `X-MS-CLIENT-PRINCIPAL-IDP`: the identity provider's name (`aad` for Entra ID).

External requests cannot set them: App Service strips them, and so does the local host (`is_principal_header`).
"""
from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

PRINCIPAL = "x-ms-client-principal"
PRINCIPAL_ID = "x-ms-client-principal-id"
PRINCIPAL_NAME = "x-ms-client-principal-name"
PRINCIPAL_IDP = "x-ms-client-principal-idp"
TOKEN_HEADER_PREFIX = "x-ms-token-"  # provider tokens App Service adds from its token store
NAME_TYPE = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
ROLE_TYPE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
# .NET's default inbound claim type map (System.IdentityModel.Tokens.Jwt ClaimTypeMapping), the part that
# concerns the claims an access token carries
CLAIM_TYPES = {
    "sub": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "oid": "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "tid": "http://schemas.microsoft.com/identity/claims/tenantid",
    "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "upn": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "unique_name": NAME_TYPE,
    "given_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "family_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "roles": ROLE_TYPE,
    "role": ROLE_TYPE,
}
NAME_CLAIMS = ("preferred_username", "upn", "email", "unique_name", "name")
MICROSOFT_ISSUER_HOSTS = ("login.microsoftonline.com", "sts.windows.net")


def is_principal_header(name: bytes | str) -> bool:
    """A header only the authentication layer may set (compared lower-cased)."""
    text = (name.decode("latin-1") if isinstance(name, bytes) else name).lower()
    return text.startswith(PRINCIPAL) or text.startswith(TOKEN_HEADER_PREFIX)


def provider_name(issuer: str) -> str:
    """`aad` for Microsoft Entra ID (what App Service names it), `oidc` for any other OpenID provider."""
    return "aad" if (urlsplit(issuer).hostname or "") in MICROSOFT_ISSUER_HOSTS else "oidc"


def _values(value: Any) -> list[str]:
    if isinstance(value, list):
        return [item if isinstance(item, str) else json.dumps(item) for item in value]
    if isinstance(value, str):
        return [value]
    return [json.dumps(value)]


def principal_id(claims: dict[str, Any]) -> str:
    """The caller's id: Entra's object id when the token has one, else the subject."""
    oid = claims.get("oid")
    return oid if isinstance(oid, str) and oid else str(claims["sub"])


def principal_name(claims: dict[str, Any]) -> str:
    for claim in NAME_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, str) and value:
            return value
    return principal_id(claims)


def principal_headers(claims: dict[str, Any], idp: str) -> list[tuple[bytes, bytes]]:
    """The four headers for a validated token's claims (ASGI form: lower-case names, bytes)."""
    mapped = [{"typ": CLAIM_TYPES.get(name, name), "val": value}
              for name, raw in claims.items() for value in _values(raw)]
    document = {"auth_typ": idp, "claims": mapped, "name_typ": NAME_TYPE, "role_typ": ROLE_TYPE}
    encoded = base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()
    return [(PRINCIPAL.encode(), encoded.encode()),
            (PRINCIPAL_ID.encode(), principal_id(claims).encode()),
            # header values are Latin-1 on the wire: a name outside it is only in the principal's claims
            (PRINCIPAL_NAME.encode(), principal_name(claims).encode("latin-1", errors="replace")),
            (PRINCIPAL_IDP.encode(), idp.encode())]
