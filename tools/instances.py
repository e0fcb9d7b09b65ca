"""The management API's instance list, reached as the SDK's DurableOrchestrationClient reaches the
extension: through its rpc base URL. The SDK has no method for the list's filters (`instanceIdPrefix`,
`runtimeStatus` with several values, paging by continuation token), so list_jobs and a job's steps
(tools/job_list.py, tools/job_steps.py) read it here.
"""
from __future__ import annotations

from typing import Any, Optional

from .backend_errors import body_sentence, unavailable
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
        try:
            reason = body_sentence(response.json())
        except ValueError:
            reason = None
        raise unavailable(what, f"HTTP {response.status_code}" + (f": {reason}" if reason else ""))
    return response.json(), response.headers.get("x-ms-continuation-token")
