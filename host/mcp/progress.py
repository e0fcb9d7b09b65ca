"""One-time progress URLs: how a tool function's `report_progress` reaches its MCP caller.

Tool code may not import the host (it must run unchanged on Azure), and may run in a worker
thread, so it cannot be handed a Python callback. Instead, while a `tools/call` that carries a
`progressToken` runs, the host hands the function an unguessable loopback URL in its context
(`"progress": {"url": ...}`); each POST to it becomes a `notifications/progress` on that
request's stream. The URL dies when the call returns. See tools/progress.py for the tool side.
"""
from __future__ import annotations

import contextlib
import math
import secrets
from collections.abc import Awaitable, Callable, Iterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from host.http.bodies import MalformedJson, parse_json

PROGRESS_PATH = "/runtime/webhooks/mcp/progress"
MAX_REPORT_BYTES = 64 * 1024

ReportProgress = Callable[[float, "float | None", "str | None"], Awaitable[None]]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


class ProgressRelay:
    """Maps live one-time tokens to the progress reporter of the tool call that owns them."""

    def __init__(self, base_url: str):
        self._base_url = base_url.rstrip("/")
        self._reporters: dict[str, ReportProgress] = {}

    @contextlib.contextmanager
    def opened(self, report: ReportProgress) -> Iterator[str]:
        """A progress URL valid for the duration of the `with` block (one tool call)."""
        token = secrets.token_urlsafe(24)
        self._reporters[token] = report
        try:
            yield f"{self._base_url}{PROGRESS_PATH}/{token}"
        finally:
            del self._reporters[token]

    async def endpoint(self, request: Request) -> Response:
        """POST {"progress": n, "total"?: n, "message"?: str} → 204; unknown or finished call → 404."""
        report = self._reporters.get(request.path_params["token"])
        if report is None:
            return JSONResponse({"error": "unknown or finished tool call"}, status_code=404)
        body = await request.body()
        if len(body) > MAX_REPORT_BYTES:
            return JSONResponse({"error": "progress report too large"}, status_code=413)
        try:
            data = parse_json(body)
        except MalformedJson:
            data = None
        progress = _number(data.get("progress")) if isinstance(data, dict) else None
        if progress is None:
            return JSONResponse({"error": 'expected JSON {"progress": <number>, "total"?: <number>, '
                                          '"message"?: <string>}'}, status_code=400)
        message = data.get("message")
        await report(progress, _number(data.get("total")), message if isinstance(message, str) else None)
        return Response(status_code=204)
