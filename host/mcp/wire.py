"""JSON-RPC error messages and SSE `message` events, as the MCP transports write them."""
from __future__ import annotations

import json
from typing import Any

from mcp_types import RequestId

SERVER_ERROR = -32000  # JSON-RPC 2.0 section 5.1: -32000 to -32099 are reserved for server errors


def error_message(request_id: RequestId | None, code: int, message: str) -> dict[str, Any]:
    """A JSON-RPC error response; `request_id` None when the request's id could not be read."""
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def sse_message_event(message: dict[str, Any]) -> bytes:
    """One SSE `message` event carrying a JSON-RPC message (MCP spec, transports: Streamable HTTP and HTTP+SSE)."""
    return b"event: message\r\ndata: " + json.dumps(message).encode() + b"\r\n\r\n"


def answered_ids(chunk: bytes) -> list[RequestId]:
    """The ids of the JSON-RPC responses (results and errors) carried by the `message` events of an SSE chunk."""
    ids = []
    for event in chunk.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = event.split(b"\n")
        if b"event: message" not in lines:
            continue
        data = b"\n".join(line[5:].removeprefix(b" ") for line in lines if line.startswith(b"data:"))
        try:
            message = json.loads(data)
        except ValueError:
            continue
        if isinstance(message, dict) and "id" in message and ("result" in message or "error" in message):
            ids.append(message["id"])
    return ids
