"""The built-in activity behind `context.call_http`, as the Durable extension runs it."""
from __future__ import annotations

import json

import httpx

HTTP_TIMEOUT_SECONDS = 100.0


async def run_http_activity(request_json: str | None) -> str:
    """Send the orchestrator's DurableHttpRequest and return the DurableHttpResponse JSON."""
    request = json.loads(request_json or "{}")
    if request.get("tokenSource"):
        raise ValueError("managed identity token sources are not available on the local host")
    headers = {k: v if isinstance(v, str) else ",".join(v) for k, v in (request.get("headers") or {}).items()}
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
        response = await client.request(request.get("method", "GET"), request["uri"], headers=headers,
                                        content=request.get("content"))
    return json.dumps({
        "statusCode": response.status_code,
        "headers": dict(response.headers),
        "content": response.text,
    })
