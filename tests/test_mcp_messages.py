"""Malformed JSON-RPC messages get one clear sentence, never the SDK's pydantic dump (new-user trial).

Both MCP transports, against the real host: the streamable endpoint and the legacy SSE message
endpoint. Every shape fault answers HTTP 400 with a JSON-RPC error whose code is the spec's
(-32600 Invalid Request, -32602 Invalid params) and whose message names what to change; a message
whose `id` has the wrong type is refused instead of being taken for a notification (202 and no
answer). Well-formed messages with params their method does not take get -32602 naming the param.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from testing.host_process import HostProcess

APP = Path(__file__).resolve().parent / "apps" / "mcp_app"
ACCEPT = "application/json, text/event-stream"
# What must never reach a client: pydantic's dump, model class names, tracebacks.
LEAKS = re.compile(r"validation error|pydantic|JSONRPC(Request|Notification|Response|Error)|\[type=|"
                   r"For further information|Traceback|\w+Error:")

BATCH = ("Invalid Request: JSON-RPC batches (a JSON array of messages) are not supported: MCP removed "
         "batching in protocol version 2025-06-18. Send each message in a POST of its own.")
# body -> (JSON-RPC code, message, id echoed back)
SHAPES = {
    '[{"jsonrpc":"2.0","id":1,"method":"ping"}]': (-32600, BATCH, None),
    "[]": (-32600, BATCH, None),
    "5": (-32600, "Invalid Request: the body must be one JSON-RPC message, a JSON object, not a number.", None),
    '"ping"': (-32600, "Invalid Request: the body must be one JSON-RPC message, a JSON object, not a string.", None),
    "null": (-32600, "Invalid Request: the body must be one JSON-RPC message, a JSON object, not null.", None),
    '{"id":1,"method":"ping"}': (-32600, "Invalid Request: 'jsonrpc' must be the string \"2.0\" (it is missing).", 1),
    '{"jsonrpc":"1.0","id":"a","method":"ping"}': (
        -32600, "Invalid Request: 'jsonrpc' must be the string \"2.0\" (it is '1.0').", "a"),
    '{"jsonrpc":2.0,"id":1,"method":"ping"}': (
        -32600, "Invalid Request: 'jsonrpc' must be the string \"2.0\" (it is a number).", 1),
    '{"jsonrpc":"2.0","id":1,"method":5}': (-32600, "Invalid Request: 'method' must be a string, not a number.", 1),
    **{f'{{"jsonrpc":"2.0","id":{raw},"method":"ping"}}': (
        -32600, f"Invalid Request: 'id' must be a string or an integer, not {kind} (leave 'id' out for a "
                "notification).", None)
       for raw, kind in [('{"a":1}', "an object"), ("1.5", "a number"), ("true", "a boolean"),
                         ("null", "null"), ("[1]", "an array")]},
    '{"jsonrpc":"2.0","id":7,"method":"tools/list","params":[1]}': (
        -32602, "Invalid params: 'params' of tools/list must be a JSON object, not an array.", 7),
    '{"jsonrpc":"2.0","id":7,"method":"tools/list","params":"x"}': (
        -32602, "Invalid params: 'params' of tools/list must be a JSON object, not a string.", 7),
    '{"jsonrpc":"2.0","id":1}': (
        -32600, "Invalid Request: a message needs a 'method' (a request or notification), or an 'id' and either "
                "'result' or 'error' (a response).", 1),
    '{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}': (
        -32600, "Invalid Request: a message needs a 'method' (a request or notification), or an 'id' and either "
                "'result' or 'error' (a response).", 1),
    '{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}': (
        -32600, "Invalid Request: a response's 'error' must be an object with an integer 'code' and a string "
                "'message'.", 1),
    '{"jsonrpc":"2.0","id":null,"result":{}}': (
        -32600, "Invalid Request: a response's 'id' must be a string or an integer, not null.", None),
}
# Well-formed messages whose params do not fit the method: -32602 with the param named.
PARAMS = {
    json.dumps({"name": 5}): "Invalid params for tools/call: 'name': Input should be a valid string.",
    json.dumps({"name": "echo", "arguments": "x"}):
        "Invalid params for tools/call: 'arguments': Input should be a valid dictionary.",
    json.dumps({}): "Invalid params for tools/call: 'name' is required.",
}


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> HostProcess:
    process = HostProcess(APP, tmp_path_factory.mktemp("mcp-messages")).start()
    yield process
    process.stop()


def assert_clear(response: httpx.Response, code: int, message: str, message_id) -> None:
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body == {"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": message}}
    assert not LEAKS.search(body["error"]["message"]), body


def streamable_post(host: HostProcess, body: str) -> httpx.Response:
    return httpx.post(f"{host.base_url}/runtime/webhooks/mcp", content=body.encode(), timeout=30, headers={
        "x-functions-key": host.mcp_key, "content-type": "application/json", "accept": ACCEPT})


@pytest.mark.parametrize("body", list(SHAPES))
def test_malformed_message_on_the_streamable_endpoint_gets_one_clear_error(host, body):
    assert_clear(streamable_post(host, body), *SHAPES[body])


async def test_malformed_messages_on_the_sse_message_endpoint_get_the_same_errors(host):
    base, headers = f"{host.base_url}/runtime/webhooks/mcp", {"x-functions-key": host.mcp_key}
    session_ids: list[str] = []
    async with Client(sse_client(f"{base}/sse", headers=headers, on_session_created=session_ids.append),
                      mode="legacy") as client:
        async with httpx.AsyncClient(headers={**headers, "content-type": "application/json"}, timeout=30) as http:
            for body, expected in SHAPES.items():
                assert_clear(await http.post(f"{base}/message?session_id={session_ids[0]}", content=body.encode()),
                             *expected)
        assert (await client.call_tool("echo", {"text": "after"})).content[0].text == "after"
    assert "Failed to parse message" not in host.log()  # no ERROR traceback per bad message either


@pytest.mark.parametrize("params", list(PARAMS))
def test_params_that_do_not_fit_the_method_name_the_param(host, params):
    response = streamable_post(host, f'{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{params}}}')
    assert response.status_code == 200
    assert response.json() == {"jsonrpc": "2.0", "id": 3, "error": {"code": -32602, "message": PARAMS[params]}}


def test_well_formed_messages_still_pass(host):
    """The checks refuse only what is malformed: a string id, a response, a notification."""
    assert streamable_post(host, '{"jsonrpc":"2.0","id":"a-1","method":"ping"}').json() == {
        "jsonrpc": "2.0", "id": "a-1", "result": {}}
    assert streamable_post(host, '{"jsonrpc":"2.0","id":1,"result":{}}').status_code == 202
    assert streamable_post(host, '{"jsonrpc":"2.0","method":"notifications/initialized"}').status_code == 202


@pytest.mark.parametrize(("query", "status", "reason"), [
    ("", 400, "session_id is required"), ("?session_id=nope", 400, "Invalid session ID"),
    ("?session_id=0123456789abcdef0123456789abcdef", 404, "Could not find session")])
def test_sse_messages_to_no_session_say_how_to_get_one(host, query, status, reason):
    """The SDK's plain-text refusals, as JSON-RPC errors with Azure's advice (SseRequestHandler), and no
    host WARNING per refused message."""
    response = httpx.post(f"{host.base_url}/runtime/webhooks/mcp/message{query}", timeout=30,
                          content=b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
                          headers={"x-functions-key": host.mcp_key, "content-type": "application/json"})
    assert response.status_code == status
    assert response.json() == {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": (
        f"{reason}. Please connect to the /sse endpoint to initiate your session, and post to the URL its "
        "endpoint event names.")}}
    assert "mcp.server.sse" not in host.log()
