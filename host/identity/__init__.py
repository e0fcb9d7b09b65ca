"""Who is calling (issue 20): the local host as an OAuth 2.1 resource server for a configured issuer.

Azure puts App Service's built-in authentication in front of the app: it validates the bearer token,
strips client-sent `X-MS-CLIENT-PRINCIPAL*` headers and passes the caller on in its own. This package
does the same for the local host, so the app reads the caller from those headers with one function on
both hosts (tools/caller.py):

- issuer_keys.py: the issuer's metadata (OpenID Connect discovery) and signing keys (JWKS), refreshed
  when a token names a key the host has not seen (key rotation);
- tokens.py: bearer JWT validation (signature, issuer, audience, expiry with clock skew, alg allow-list);
- client_principal.py: the claims as App Service's `X-MS-CLIENT-PRINCIPAL*` headers;
- resource_server.py: the ASGI middleware (header stripping, RFC 9728 protected resource metadata,
  401 with `WWW-Authenticate`) and the caller it hands to the MCP server.
"""
