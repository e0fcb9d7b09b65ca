"""The MCP endpoints at the HTTP level: auth, DNS-rebinding protection, malformed requests.

Each refusal must come with a clear JSON-RPC error and the right status code, and the host must
keep serving afterwards (every test ends with a normal call).
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from testing.host_process import TEST_KEYS, HostProcess

APP = Path(__file__).resolve().parent / "apps" / "mcp_app"
ACCEPT = "application/json, text/event-stream"
PROXY_NAME = "mcp.proxy.example"


def rpc(method: str, params: dict | None = None, request_id: int = 1) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}


def echo_call(text: str = "ok") -> dict:
    return rpc("tools/call", {"name": "echo", "arguments": {"text": text}})


class Http:
    """Raw POSTs to one host's streamable endpoint."""

    def __init__(self, host: HostProcess, key: str | None):
        self.url = f"{host.base_url}/runtime/webhooks/mcp"
        self.key = key
        self.client = httpx.Client(timeout=30)

    def post(self, body, headers: dict | None = None, key: str | None = "default", **kwargs) -> httpx.Response:
        sent = {"content-type": "application/json", "accept": ACCEPT}
        key = self.key if key == "default" else key
        if key:
            sent["x-functions-key"] = key
        sent.update(headers or {})
        content = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.client.post(self.url, content=content, headers=sent, **kwargs)

    def assert_serving(self) -> None:
        response = self.post(echo_call("still serving"))
        assert response.status_code == 200, response.text
        assert response.json()["result"]["content"][0]["text"] == "still serving"


def error_of(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()["error"]


@pytest.fixture(scope="module")
def system_host(tmp_path_factory) -> HostProcess:
    process = HostProcess(APP, tmp_path_factory.mktemp("mcp-system")).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def anonymous_host(tmp_path_factory) -> HostProcess:
    process = HostProcess(APP / "anonymous", tmp_path_factory.mktemp("mcp-anonymous"),
                          env={"MCP_ALLOWED_HOSTS": PROXY_NAME}).start()
    yield process
    process.stop()


@pytest.fixture
def http(system_host) -> Http:
    return Http(system_host, system_host.mcp_key)


def test_stateless_call_needs_no_handshake(http):
    http.assert_serving()


@pytest.mark.parametrize("key", [None, "wrong-key-123"])
def test_missing_or_wrong_key_is_401(http, system_host, key):
    response = http.post(echo_call(), key=key)
    assert response.status_code == 401
    assert "mcp_extension" in error_of(response)["message"]
    assert "wrong-key-123" not in system_host.log()
    http.assert_serving()


def test_key_in_code_query_and_master_key_are_accepted(http):
    assert http.post(echo_call(), key=None, params={"code": TEST_KEYS["MCP_EXTENSION_KEY"]}).status_code == 200
    assert http.post(echo_call(), key=TEST_KEYS["FUNCTIONS_MASTER_KEY"]).status_code == 200
    assert http.post(echo_call(), key=TEST_KEYS["FUNCTIONS_DEFAULT_KEY"]).status_code == 401


def test_sse_endpoints_need_the_key(system_host, http):
    base = f"{system_host.base_url}/runtime/webhooks/mcp"
    assert httpx.get(f"{base}/sse", timeout=10).status_code == 401
    message = httpx.post(f"{base}/message?session_id=00", json=echo_call(), timeout=10)
    assert message.status_code == 401
    unknown = httpx.post(f"{base}/message?session_id={'0' * 32}", json=echo_call(), timeout=10,
                         headers={"x-functions-key": system_host.mcp_key})
    assert unknown.status_code == 404
    http.assert_serving()


@pytest.mark.parametrize("host_header", ["evil.example", "evil.example:7071", "127.0.0.1.evil.example:80"])
def test_foreign_host_header_is_421(http, host_header):
    response = http.post(echo_call(), headers={"host": host_header})
    assert response.status_code == 421
    assert "Host" in error_of(response)["message"]
    http.assert_serving()


def test_foreign_origin_is_403_and_local_origins_pass(http):
    response = http.post(echo_call(), headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert "Origin" in error_of(response)["message"]
    assert http.post(echo_call(), headers={"origin": "http://localhost:6274"}).status_code == 200
    assert http.post(echo_call(), headers={"host": "localhost:1234"}).status_code == 200
    http.assert_serving()


def test_wrong_content_type_is_415(http):
    response = http.post(json.dumps(echo_call()), headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert "application/json" in error_of(response)["message"]
    http.assert_serving()


def test_missing_accept_is_406(http):
    response = http.post(echo_call(), headers={"accept": "application/json"})
    assert response.status_code == 406
    assert "text/event-stream" in error_of(response)["message"] and response.json()["id"] == echo_call()["id"]
    http.assert_serving()


def test_malformed_json_is_a_parse_error(http):
    response = http.post(b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert response.status_code == 400
    assert error_of(response)["code"] == -32700
    http.assert_serving()


def test_invalid_jsonrpc_is_400(http):
    response = http.post({"jsonrpc": "2.0", "id": 1})
    assert response.status_code == 400
    assert error_of(response)["code"] in (-32600, -32602)
    http.assert_serving()


def test_body_over_4_mib_is_413(http):
    response = http.post(echo_call("x" * (4 * 1024 * 1024 + 1)))
    assert response.status_code == 413
    assert "4194304" in error_of(response)["message"]
    http.assert_serving()


def test_get_on_streamable_endpoint_is_405(http, system_host):
    response = httpx.get(http.url, headers={"x-functions-key": system_host.mcp_key}, timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    http.assert_serving()


def test_initialize_hands_out_client_state_and_rejects_forged_state(http):
    response = http.post(rpc("initialize", {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "1.2"}}))
    assert response.status_code == 200
    session_id = response.headers["mcp-session-id"]
    context_call = rpc("tools/call", {"name": "echo_context", "arguments": {"text": "t"}})
    echoed = http.post(context_call, headers={"mcp-session-id": session_id}).json()
    context = json.loads(echoed["result"]["content"][0]["text"])
    assert context["clientinfo"] == {"name": "raw-test", "version": "1.2"}
    assert context["sessionid"] == session_id
    forged = http.post(context_call, headers={"mcp-session-id": "not-a-state-token"})
    assert forged.status_code == 400
    assert forged.json()["id"] == context_call["id"] and error_of(forged)["message"] == "Invalid client state."
    http.assert_serving()


def test_anonymous_level_needs_no_key_but_still_checks_host(anonymous_host):
    http = Http(anonymous_host, key=None)
    http.assert_serving()
    assert http.post(echo_call(), headers={"host": "evil.example"}).status_code == 421
    proxied = http.post(echo_call(), headers={"host": PROXY_NAME, "origin": f"https://{PROXY_NAME}"})
    assert proxied.status_code == 200
    http.assert_serving()


def banner_config(log: str, title: str) -> dict:
    """The JSON printed on the line after `title` in the startup banner."""
    lines = log.splitlines()
    return json.loads(lines[lines.index(title) + 1])


def test_banner_client_config_works_as_pasted(system_host):
    log = system_host.log()
    url = f"http://localhost:{system_host.port}/runtime/webhooks/mcp"
    assert f"Legacy SSE       {url}/sse" in log
    assert f'claude mcp add --transport http mcp-test-server {url} --header "x-functions-key: test-mcp-key"' in log
    assert f"/runtime/webhooks/durabletask/instances?code={system_host.durable_key}" in log
    server = banner_config(log, "VS Code (.vscode/mcp.json):")["servers"]["mcp-test-server"]
    assert (server["type"], server["url"]) == ("http", url)
    response = httpx.post(server["url"], headers={**server["headers"], "accept": ACCEPT}, json=echo_call("pasted"))
    assert response.json()["result"]["content"][0]["text"] == "pasted"
    desktop = banner_config(log, "Claude Desktop (claude_desktop_config.json):")
    assert desktop["mcpServers"]["mcp-test-server"]["args"][-2:] == ["--header", "x-functions-key:test-mcp-key"]


def test_app_info_lines_at_import_show_next_to_the_banner(system_host):
    """The project app logs which model it uses at import (INFO): the host's logging must show it."""
    log = system_host.log()
    assert "INFO mcp_test_functions: test app configured" in log
    assert log.index("test app configured") < log.index("MCP server 'mcp-test-server'")


def test_banner_at_anonymous_level_has_no_key(anonymous_host):
    log = anonymous_host.log()
    assert "Key              none (webhookAuthorizationLevel Anonymous)" in log
    server = banner_config(log, "VS Code (.vscode/mcp.json):")["servers"]["azure-functions-mcp-server"]
    assert "headers" not in server


async def test_malformed_sse_message_leaves_the_session_serving(system_host):
    base, headers = f"{system_host.base_url}/runtime/webhooks/mcp", {"x-functions-key": system_host.mcp_key}
    session_ids: list[str] = []
    async with Client(sse_client(f"{base}/sse", headers=headers, on_session_created=session_ids.append),
                      mode="legacy") as client:
        async with httpx.AsyncClient(headers={**headers, "content-type": "application/json"}) as http:
            bad = await http.post(f"{base}/message?session_id={session_ids[0]}", content=b"{not json")
            assert bad.status_code == 400
            wrong_type = await http.post(f"{base}/message?session_id={session_ids[0]}", content=b"{}",
                                         headers={"content-type": "text/plain"})
            assert wrong_type.status_code == 415
        assert (await client.call_tool("echo", {"text": "after"})).content[0].text == "after"


def test_client_values_are_echoed_and_logged_only_in_short(http, system_host):
    """Issue 8 item 4: a huge clientInfo, tool name, resource URI or error text must not come back in
    full (headers, error messages) nor reach the log in full."""
    huge = "A" * 1_000_000
    log_size = len(system_host.log())
    response = http.post(rpc("initialize", {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": huge, "version": "1", "icons": [{"src": "data:image/png;base64," + huge}]}}))
    assert response.status_code == 200
    session_id = response.headers["mcp-session-id"]
    assert len(session_id) < 2000
    context_call = rpc("tools/call", {"name": "echo_context", "arguments": {"text": "t"}})
    echoed = http.post(context_call, headers={"mcp-session-id": session_id}).json()
    client = json.loads(echoed["result"]["content"][0]["text"])["clientinfo"]
    assert client["name"].startswith("AAAA") and "1,000,000 characters" in client["name"]
    for request in (rpc("tools/call", {"name": huge, "arguments": {}}), rpc("resources/read", {"uri": huge}),
                    rpc("prompts/get", {"name": huge}), rpc(huge)):
        answer = http.post(request)
        assert answer.status_code in (200, 400), answer.status_code
        assert len(answer.content) < 2000, answer.content[:300]
    failing = http.post(rpc("tools/call", {"name": "explode", "arguments": {"reason": "B" * 3_000_000}}))
    assert failing.status_code == 200 and failing.json()["result"]["isError"]
    assert len(system_host.log()) - log_size < 20_000
    http.assert_serving()


def b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).decode().rstrip("=")


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


# Raw bodies (and headers) a fuzzer sent the streamable endpoint: each gets a 4xx or a JSON-RPC error,
# never a 500 or a hang (issue 9 item 5), and the next normal call works.
FUZZ = {
    "JSON 100,000 levels deep": (nested(100_000), {}),
    "tool arguments 70 levels deep": (json.dumps(rpc("tools/call", {"name": "echo", "arguments": {
        "text": json.loads(nested(70))}})), {}),
    "NaN argument": ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":NaN}}}', {}),
    "number out of range": ('{"jsonrpc":"2.0","id":1e999,"method":"tools/list"}', {}),
    "not UTF-8": (b'{"jsonrpc":"2.0","id":1,"method":"tools/list","x":"\xff"}', {}),
    **{f"body {body}": (body, {}) for body in ("[]", "[1]", "1", "null", '"x"', "{}", "true")},
    "batch": (json.dumps([echo_call(), echo_call()]), {}),
    "object id": ('{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', {}),
    "params a string": ('{"jsonrpc":"2.0","id":1,"method":"tools/list","params":"x"}', {}),
    "initialize with params a list": ('{"jsonrpc":"2.0","id":1,"method":"initialize","params":[1]}', {}),
    "cancel with params a string": ('{"jsonrpc":"2.0","method":"notifications/cancelled","params":"x"}',
                                    {"mcp-session-id": b64(b'{"id": "abc", "client": null}')}),
    "tool name a number": (json.dumps(rpc("tools/call", {"name": 5, "arguments": {}})), {}),
    "arguments a list": (json.dumps(rpc("tools/call", {"name": "echo", "arguments": [1]})), {}),
    "arguments a string": (json.dumps(rpc("tools/call", {"name": "echo", "arguments": "x"})), {}),
    "resource uri a number": (json.dumps(rpc("resources/read", {"uri": 5})), {}),
    "clientInfo a string": (json.dumps(rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                                         "clientInfo": "x"})), {}),
    "progress token an object": (json.dumps(rpc("tools/call", {"name": "echo", "arguments": {"text": "x"},
                                                              "_meta": {"progressToken": {"a": 1}}})), {}),
    "cancel of an object id": ('{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{}}}', {}),
    "session id of deep JSON": (json.dumps(echo_call()), {"mcp-session-id": b64(nested(5000).encode())}),
    "session id of a list": (json.dumps(echo_call()), {"mcp-session-id": b64(b"[]")}),
    "session id of NaN": (json.dumps(echo_call()), {"mcp-session-id": b64(b'{"id": NaN}')}),
    "protocol version garbage": (json.dumps(echo_call()), {"mcp-protocol-version": "garbage"}),
    "protocol version 2026 with a bare body": ("{}", {"mcp-protocol-version": "2026-07-28"}),
}


@pytest.mark.parametrize("case", list(FUZZ))
def test_fuzzed_requests_get_an_error_and_the_server_keeps_serving(http, case):
    body, headers = FUZZ[case]
    response = http.post(body.encode() if isinstance(body, str) else body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert "error" in response.json(), response.text[:300]
    http.assert_serving()


@pytest.mark.parametrize("body", [nested(30_000), json.dumps(rpc("tools/call", {"name": "echo", "arguments": {
    "text": json.loads(nested(70))}}))])
def test_fuzzed_sse_messages_get_an_error_and_the_session_keeps_serving(system_host, body):
    base, headers = f"{system_host.base_url}/runtime/webhooks/mcp", {"x-functions-key": system_host.mcp_key}
    session_ids: list[str] = []

    async def run() -> None:
        async with Client(sse_client(f"{base}/sse", headers=headers, on_session_created=session_ids.append),
                          mode="legacy") as client:
            async with httpx.AsyncClient(headers={**headers, "content-type": "application/json"}) as raw:
                bad = await raw.post(f"{base}/message?session_id={session_ids[0]}", content=body.encode())
                assert bad.status_code == 400, bad.text[:300]
                assert bad.json()["error"]["code"] == -32700
            assert (await client.call_tool("echo", {"text": "after"})).content[0].text == "after"

    anyio.run(run)


def test_json_deeper_than_azures_limit_is_a_parse_error(http):
    """The MCP extension parses with System.Text.Json (MaxDepth 64): 64 levels in all pass, 65 do not."""
    def call(levels: int) -> httpx.Response:
        return http.post(rpc("tools/call", {"name": "echo", "arguments": {"text": json.loads(nested(levels))}}))

    assert call(61).status_code == 200  # the envelope adds 3 levels: message, params, arguments
    refused = call(62)
    assert refused.status_code == 400
    assert error_of(refused) == {"code": -32700, "message": "Parse error: JSON nested deeper than 64 levels"}
    http.assert_serving()


@pytest.mark.parametrize("cursor", [nested(5000), "[1e999, \"x\"]", "[[1], [2]]", "1", "null"])
def test_malformed_task_list_cursor_is_invalid_params(host, cursor):
    """Client cursors decode through the strict parser: deep JSON used to surface as code 0 with
    Python's RecursionError text (and a traceback in the log), an infinite time listed nothing."""
    http = Http(host, host.mcp_key)
    padded = base64.urlsafe_b64encode(cursor.encode()).decode()  # as the host encodes its cursors
    answer = http.post(rpc("tasks/list", {"cursor": padded}),
                       headers={"mcp-protocol-version": "2025-11-25"})
    assert answer.status_code == 200
    assert answer.json()["error"] == {"code": -32602, "message": "Invalid cursor: pass the nextCursor of tasks/list"}
    assert "RecursionError" not in host.log()
    assert http.post(rpc("tasks/list", {}), headers={"mcp-protocol-version": "2025-11-25"}).json()["result"]
