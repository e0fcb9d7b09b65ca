"""Reading and parsing what clients send, so that no body can crash a request or the host.

Issue 9 item 5: JSON nested ~1,000 levels deep made `json.loads` raise RecursionError (HTTP 500).
Client JSON may nest at most 64 levels: the limit of both JSON stacks Azure answers with
(Newtonsoft.Json 13 `MaxDepth` in the Durable extension, System.Text.Json `MaxDepth` in the MCP
extension), so a body the local host takes is one Azure takes too.
"""
from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request

MAX_JSON_DEPTH = 64


class MalformedJson(ValueError):
    """A body that is not JSON, or JSON nested deeper than MAX_JSON_DEPTH."""


def nesting_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays/objects in `value` nest deeper than `limit` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedJson(f"the number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> None:
    raise MalformedJson(f"{name} is not JSON")


def parse_json(body: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value of `body`; MalformedJson (a ValueError) saying what is wrong otherwise.

    Strict RFC 8259, like System.Text.Json: no NaN/Infinity, no number that overflows a double
    (Python would accept both, and then no JSON response could carry them).
    """
    too_deep = MalformedJson(f"JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(body, parse_float=_finite, parse_constant=_no_constant)
    except MalformedJson as exc:
        raise MalformedJson(f"Malformed JSON: {exc}") from None
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:
        raise MalformedJson(f"Malformed JSON: {exc}") from None
    if nesting_depth_exceeds(value, max_depth):
        raise too_deep
    return value


async def read_limited_body(request: Request, limit: int) -> bytes | None:
    """The whole body, or None when it exceeds `limit` bytes (declared or streamed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
