"""Who is calling, and which jobs are theirs (issue 20): the one reader of the caller, on both hosts.

The caller comes in the headers App Service's built-in authentication adds to each request after it
validated the caller's token (on Azure; the local host does the same when it is given an issuer: host/
identity): `X-MS-CLIENT-PRINCIPAL` (Base64 JSON `{auth_typ, claims: [{typ, val}], name_typ, role_typ}`),
`X-MS-CLIENT-PRINCIPAL-ID`, `-NAME` and `-IDP` ("Work with user identities in Azure App Service
authentication"). Both hosts drop those headers when a client sends them, so they can be believed. An MCP
tool or resource reads them from its trigger context (`transport.properties.headers`: the Functions MCP
extension passes every request header, McpTriggerTransportHelper.cs), an HTTP function from its request.

- A request without them was let in by a key (no sign-in): its caller is the key's owner (`KEY_OWNER`),
  who owns the jobs started with a key, as before there was sign-in.
- A signed-in caller is `issuer` + `subject` (the `iss` claim and the principal id), with a display name.
- A caller with the admin role (the `roles` claim holding `JOBS_ADMIN_ROLE`, default `Jobs.Admin`) sees and
  manages every job.

Where a job's owner is kept: in its instance id, `<owner tag>.<random>` (`new_job_id`), the owner tag being
24 hex digits of SHA-256 over issuer and subject. A tool can so check a job id against its caller with no
call to the backend (and another person's job answers exactly as a job that does not exist), `list_jobs`
asks the management API for the caller's jobs only (`instanceIdPrefix`, on both hosts and every Durable
backend), and a job's steps (`<job id>:<step>`) carry the tag too. Jobs started with a key have no tag.
The orchestration input also records who started the job (`started_by`: issuer, subject, name).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from .arguments import ToolError

PRINCIPAL = "x-ms-client-principal"
PRINCIPAL_ID = "x-ms-client-principal-id"
PRINCIPAL_NAME = "x-ms-client-principal-name"
PRINCIPAL_IDP = "x-ms-client-principal-idp"
ADMIN_ROLE_ENV = "JOBS_ADMIN_ROLE"
DEFAULT_ADMIN_ROLE = "Jobs.Admin"
STARTED_BY = "started_by"  # the orchestration input's record of who started the job
TAG_SEPARATOR = "."
ROLE_TYPES = ("roles", "role", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
SUBJECT_TYPES = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid",
                 "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier", "sub")
NAME_TYPES = ("name", "preferred_username", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")


def admin_role() -> str:
    return os.environ.get(ADMIN_ROLE_ENV, "").strip() or DEFAULT_ADMIN_ROLE


def tag_of(job_id: str) -> Optional[str]:
    """The owner tag of a job (or step) id; None for a job started with a key."""
    head = job_id.split(":", 1)[0]
    return head.split(TAG_SEPARATOR, 1)[0] if TAG_SEPARATOR in head else None


@dataclass(frozen=True)
class Caller:
    """A signed-in person (`issuer`, `subject`, `name`, `roles`), or the key's owner (all None)."""

    issuer: Optional[str] = None
    subject: Optional[str] = None
    name: Optional[str] = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def signed_in(self) -> bool:
        return self.subject is not None

    @property
    def admin(self) -> bool:
        return admin_role() in self.roles

    @property
    def tag(self) -> Optional[str]:
        """The owner tag of this caller's jobs (None: the key's owner)."""
        if self.subject is None:
            return None
        return hashlib.sha256(f"{self.issuer}\n{self.subject}".encode()).hexdigest()[:24]

    def owns(self, job_id: str) -> bool:
        return tag_of(job_id) == self.tag

    def may_see(self, job_id: str) -> bool:
        """Whether this caller may read and steer the job (or step) `job_id`."""
        return self.admin or self.owns(job_id)

    def new_job_id(self) -> Optional[str]:
        """An instance id for a job this caller starts (None: the backend's own random id, for the key's owner)."""
        return None if self.tag is None else f"{self.tag}{TAG_SEPARATOR}{uuid.uuid4().hex}"

    def scoped_id(self, instance_id: str) -> str:
        """`instance_id` (an idempotency key's) in this caller's namespace of ids."""
        return instance_id if self.tag is None else f"{self.tag}{TAG_SEPARATOR}{instance_id}"

    def id_prefix(self) -> Optional[str]:
        """The `instanceIdPrefix` that lists this caller's jobs (None: no prefix selects them)."""
        return None if self.tag is None else f"{self.tag}{TAG_SEPARATOR}"

    def record(self) -> Optional[dict[str, Any]]:
        """Who started a job, as its input records it (None for the key's owner)."""
        return None if not self.signed_in else {"issuer": self.issuer, "subject": self.subject, "name": self.name}


KEY_OWNER = Caller()


def _principal(encoded: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=False))
    except (binascii.Error, ValueError):
        raise ToolError("The caller's identity (X-MS-CLIENT-PRINCIPAL) could not be read.") from None
    if not isinstance(value, dict) or not isinstance(value.get("claims", []), list):
        raise ToolError("The caller's identity (X-MS-CLIENT-PRINCIPAL) could not be read.")
    return value


def _claims(principal: dict[str, Any], types: tuple[str, ...]) -> list[str]:
    wanted = {typ.lower() for typ in types}
    return [str(claim.get("val")) for claim in principal.get("claims", [])
            if isinstance(claim, dict) and str(claim.get("typ", "")).lower() in wanted and claim.get("val") is not None]


def caller_from_headers(headers: Mapping[str, str]) -> Caller:
    """The caller of a request, from the headers the authentication in front of the app set (see the module
    docstring); `KEY_OWNER` when there are none. ToolError when they are malformed."""
    lower = {str(name).lower(): value for name, value in headers.items()}
    encoded, principal_id = lower.get(PRINCIPAL), lower.get(PRINCIPAL_ID)
    if not encoded and not principal_id:
        return KEY_OWNER
    principal = _principal(encoded) if encoded else {}
    subject = principal_id or next(iter(_claims(principal, SUBJECT_TYPES)), None)
    if not subject:
        raise ToolError("The caller's identity has no id (X-MS-CLIENT-PRINCIPAL-ID).")
    issuer = next(iter(_claims(principal, ("iss",))), None) or lower.get(PRINCIPAL_IDP) \
        or principal.get("auth_typ") or "unknown"
    role_types = (*ROLE_TYPES, str(principal.get("role_typ") or "roles"))
    name_types = (*NAME_TYPES, str(principal.get("name_typ") or "name"))
    name = next(iter(_claims(principal, name_types)), None) or lower.get(PRINCIPAL_NAME) or subject
    return Caller(str(issuer), str(subject), str(name), frozenset(_claims(principal, role_types)))


def caller_of(context: Mapping[str, Any]) -> Caller:
    """The caller of an MCP tool, resource or prompt, from its trigger context's transport headers."""
    transport = context.get("transport")
    properties = transport.get("properties") if isinstance(transport, Mapping) else None
    headers = properties.get("headers") if isinstance(properties, Mapping) else None
    return caller_from_headers(headers if isinstance(headers, Mapping) else {})
