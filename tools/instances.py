"""The management API's instance list, reached as the SDK's DurableOrchestrationClient reaches the
extension: through its rpc base URL. The SDK has no method for the list's filters (`instanceIdPrefix`,
`runtimeStatus` with several values, paging by continuation token), so list_jobs and a job's steps
(tools/job_list.py, tools/job_steps.py) read it here.
"""
from __future__ import annotations

from typing import Any, Optional

from .backend_errors import BackendUnavailable, body_sentence, unavailable
from .http_client import shared_client


def rpc_base(client: Any) -> str:
    """The rpc base URL of the SDK's DurableOrchestrationClient (ends with '/')."""
    return client._orchestration_bindings.rpc_base_url


async def instance_page(client: Any, params: dict[str, str], token: Optional[str],
                        what: str) -> tuple[list[dict[str, Any]], Optional[str]]:
    """One page of status payloads and the continuation token of the next (None at the end).
    Raises BackendUnavailable ("<what>: HTTP <status>: <reason>. Try again later.") when the
    management API does not answer 200."""
    headers = {"x-ms-continuation-token": token} if token else {}
    response = await shared_client().get(f"{rpc_base(client)}instances/", params=params, headers=headers)
    if response.status_code != 200:
        raise refusal(response, what)
    return response.json(), response.headers.get("x-ms-continuation-token")


async def instance_history(client: Any, instance_id: str, what: str) -> Optional[dict[str, Any]]:
    """One instance's status payload with its input and its history, results included (the management
    API's `historyEvents`, the same shape on both hosts: host/http/history_format.py); None when there is
    no such instance. BackendUnavailable as `instance_page`."""
    response = await shared_client().get(f"{rpc_base(client)}instances/{instance_id}", params={
        "showHistory": "true", "showHistoryOutput": "true", "showInput": "true"})
    if response.status_code == 404:
        return None
    if response.status_code not in (200, 202):
        raise refusal(response, what)
    return response.json()


def refusal(response: Any, what: str) -> BackendUnavailable:
    """"<what>: HTTP <status>: <the body's reason>. Try again later." for a management API answer."""
    try:
        reason = body_sentence(response.json())
    except ValueError:
        reason = None
    return unavailable(what, f"HTTP {response.status_code}" + (f": {reason}" if reason else ""))
