"""Is a POSTed body one well-formed JSON-RPC message? Checked before the SDK reads it.

The SDK answers a malformed message with its pydantic dump ("4 validation errors for
union[JSONRPCRequest, ...]", class names and links), or takes an `id` of the wrong type as a
notification and answers 202 with nothing (a client waiting for its response waits forever).
Each rule here gives one sentence a person understands instead, as a JSON-RPC error with HTTP 400
(the transport's "Bad Request" for a body that is not a valid JSON-RPC message: MCP 2025-11-25,
Basic > Transports > Streamable HTTP, "Sending Messages to the Server").

Rules (JSON-RPC 2.0 section 4 and 5, MCP 2025-11-25 Basic > Messages):
- one JSON object per POST: batches (a JSON array) were removed from MCP in 2025-06-18;
- `"jsonrpc": "2.0"`;
- a request or notification has a string `method`; a request's `id` is a string or an integer
  (MCP: never null); `params`, when present, is an object (MCP has no positional params);
- anything without `method` is a response: an `id` and exactly one of `result` or `error`
  (`error` an object with an integer `code` and a string `message`).

On Azure the extension's JsonRpcMessageConverter rejects the same messages (a batch with
"Expected StartObject token"), but as an exception the Functions host answers with a bare 500.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp_types import INVALID_PARAMS, INVALID_REQUEST

from host.bounded import bounded

MAX_METHOD_CHARS = 100


@dataclass(frozen=True)
class ShapeError:
    """What is wrong with a message: a JSON-RPC error `code`, its `message`, and the message's `id`
    when that was valid (so the client can match the error to its request), else None."""
    code: int
    message: str
    id: str | int | None = None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def valid_id(value: Any) -> bool:
    """MCP: "Requests MUST include a string or integer ID"; null is not allowed (and bool is no integer)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _invalid(message: str, message_id: Any = None) -> ShapeError:
    return ShapeError(INVALID_REQUEST, f"Invalid Request: {message}", message_id if valid_id(message_id) else None)


def shape_error(value: Any) -> ShapeError | None:
    """None when `value` (a parsed body) is one well-formed JSON-RPC message, else what is wrong."""
    if isinstance(value, list):
        return _invalid("JSON-RPC batches (a JSON array of messages) are not supported: MCP removed "
                        "batching in protocol version 2025-06-18. Send each message in a POST of its own.")
    if not isinstance(value, dict):
        return _invalid(f"the body must be one JSON-RPC message, a JSON object, not {_kind(value)}.")
    message_id = value.get("id")
    if value.get("jsonrpc") != "2.0":
        version = value.get("jsonrpc")
        given = ("is missing" if "jsonrpc" not in value else
                 f"is {bounded(version, 40)!r}" if isinstance(version, str) else f"is {_kind(version)}")
        return _invalid(f"'jsonrpc' must be the string \"2.0\" (it {given}).", message_id)
    if "method" in value:
        return _request_error(value)
    return _response_error(value)


def _request_error(value: dict[str, Any]) -> ShapeError | None:
    method, message_id = value["method"], value.get("id")
    if not isinstance(method, str):
        return _invalid(f"'method' must be a string, not {_kind(method)}.", message_id)
    if len(method) > MAX_METHOD_CHARS:  # the SDK would echo it in full (issue 8 item 4)
        return _invalid(f"method '{bounded(method, 40)}' is over {MAX_METHOD_CHARS} characters.", message_id)
    if "id" in value and not valid_id(message_id):
        return _invalid(f"'id' must be a string or an integer, not {_kind(message_id)} "
                        "(leave 'id' out for a notification).")
    params = value.get("params")
    if "params" in value and not isinstance(params, dict):
        return ShapeError(INVALID_PARAMS, f"Invalid params: 'params' of {bounded(method, 40)} must be a JSON "
                                          f"object, not {_kind(params)}.", message_id)
    return None


def _response_error(value: dict[str, Any]) -> ShapeError | None:
    message_id = value.get("id")
    if "id" not in value or ("result" in value) == ("error" in value):
        return _invalid("a message needs a 'method' (a request or notification), or an 'id' and either "
                        "'result' or 'error' (a response).", message_id)
    if not valid_id(message_id):
        return _invalid(f"a response's 'id' must be a string or an integer, not {_kind(message_id)}.")
    error = value.get("error", {})
    code = error.get("code") if isinstance(error, dict) else None
    if "error" in value and not (isinstance(code, int) and not isinstance(code, bool)
                                 and isinstance(error.get("message"), str)):
        return _invalid("a response's 'error' must be an object with an integer 'code' and a string 'message'.",
                        message_id)
    return None
