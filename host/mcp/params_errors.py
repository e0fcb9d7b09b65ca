"""Readable errors for params the SDK's models reject.

A well-formed message whose params do not fit its method (`tools/call` with `"name": 5`,
`resources/read` without `uri`) gets the SDK's bare "Invalid request parameters" with empty data:
true, but it does not say what to change. This middleware keeps the code (-32602, Invalid params)
and says which param is wrong and why, in the spec's field names, without model class names.
"""
from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from host.bounded import bounded

MAX_LISTED = 3


def _field(loc: tuple[Any, ...]) -> str:
    """A pydantic location in the spec's terms: `arguments.limit`, `content[0].text`. Union and
    validator tags (`TextContent`, `function-after[...]`) are model names, not fields: left out."""
    path = ""
    for part in loc[1:] if loc[:1] == ("params",) else loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part[:1].isupper() or "[" in part:
            continue
        else:
            path += f".{part}" if path else part
    return path or "params"


def _problem(error: Any) -> str:
    if error["type"] == "missing":
        return f"'{_field(error['loc'])}' is required"
    return f"'{_field(error['loc'])}': {error['msg']}"


def params_error_message(method: str, exc: ValidationError) -> str:
    """One sentence: "Invalid params for tools/call: 'name': Input should be a valid string."."""
    problems = list(dict.fromkeys(_problem(error) for error in exc.errors(include_url=False)))
    more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
    return f"Invalid params for {bounded(method, 40)}: {'; '.join(problems[:MAX_LISTED])}{more}."


class ReadableParamsErrors(ServerMiddleware[Any]):
    """Server middleware (the SDK's `Server.middleware` list): a params ValidationError of a request
    becomes INVALID_PARAMS with `params_error_message`."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            return await call_next(ctx)
        except ValidationError as exc:
            if ctx.request_id is None:  # a notification: nobody to answer
                raise
            raise MCPError(code=types.INVALID_PARAMS, message=params_error_message(ctx.method, exc)) from None
