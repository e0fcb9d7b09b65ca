"""MCP behaviour through the official `mcp` client, against the real host in a subprocess.

Every test runs over the three ways a client can talk to the host: Streamable HTTP with the
2025-11-25 handshake, Streamable HTTP in the 2026-07-28 single-exchange era, and legacy SSE.
Clients are opened inside each test (not in fixtures): the SDK's task groups must be entered and
left in the same task.
"""
from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS

from testing.host_process import HostProcess

APP = Path(__file__).resolve().parent / "apps" / "mcp_app"
pytestmark = pytest.mark.parametrize("kind", ["streamable-2025", "streamable-2026", "sse"])


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> HostProcess:
    process = HostProcess(APP, tmp_path_factory.mktemp("mcp-protocol")).start()
    yield process
    process.stop()


@contextlib.asynccontextmanager
async def connect(host: HostProcess, kind: str) -> AsyncIterator[Client]:
    """An initialised client; SSE authenticates with ?code= (the endpoint event must carry it on)."""
    url = f"{host.base_url}/runtime/webhooks/mcp"
    if kind == "sse":
        async with Client(sse_client(f"{url}/sse?code={host.mcp_key}"), mode="legacy") as client:
            yield client
        return
    async with httpx2.AsyncClient(headers={"x-functions-key": host.mcp_key}, timeout=30) as http:
        mode = "legacy" if kind == "streamable-2025" else "auto"
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client


async def test_handshake_reports_host_json_identity(host, kind):
    async with connect(host, kind) as client:
        expected_version = "2026-07-28" if kind == "streamable-2026" else "2025-11-25"
        assert client.protocol_version == expected_version
        assert (client.server_info.name, client.server_info.version) == ("mcp-test-server", "9.8.7")
        assert client.instructions == "Test instructions."
        # serverInfo fields Azure's extension has no option for are read from extensions.mcp.localHost only
        # (Azure ignores both forms; the misplaced one is named in the log)
        info = client.server_info
        assert (info.title, info.website_url, info.description) == ("MCP test server", "https://example.test/mcp", None)
        assert "host.json extensions.mcp.description: Azure's MCP extension has no such option" in host.log()
        capabilities = client.server_capabilities
        assert capabilities.tools and capabilities.resources and capabilities.prompts


async def test_tool_listing_mirrors_the_extension_schema(host, kind):
    async with connect(host, kind) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"greet", "echo_context", "echo", "forecast", "two_blocks", "explode", "count_up",
                              "wait_until_cancelled", "wait_state", "read_count"}
        assert tools["greet"].description == "Greets a city."
        assert tools["greet"].input_schema == {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City to greet"},
                "times": {"type": "integer", "description": ""},
                "tags": {"type": "array", "items": {"type": "string"}, "description": ""},
            },
            "required": ["city"],
        }
        assert tools["two_blocks"].input_schema == {"type": "object", "properties": {}, "required": []}
        assert tools["echo_context"].input_schema["properties"]["numbers"] == {
            "type": "array", "items": {"type": "number"}, "description": ""}
        assert tools["echo_context"].meta == {"ui": {"resourceUri": "ui://echo/index.html"}, "cache": {"ttlSeconds": 5}}
        assert tools["greet"].meta is None


async def test_mcp_tool_decorator_gets_arguments_by_name(host, kind):
    async with connect(host, kind) as client:
        result = await client.call_tool("greet", {"city": "Oslo", "times": 2, "tags": ["a", "b"]})
        assert not result.is_error
        assert [c.text for c in result.content] == ["Hi Oslo Hi Oslo [a, b]"]
        assert (await client.call_tool("GREET", {"city": "Rome"})).content[0].text == "Hi Rome"


async def test_raw_trigger_receives_azure_context_json(host, kind):
    async with connect(host, kind) as client:
        result = await client.call_tool("echo_context", {"text": "x", "numbers": [1, 2.5]})
        context = json.loads(result.content[0].text)
        assert context["name"] == "echo_context"
        assert context["arguments"] == {"text": "x", "numbers": [1, 2.5]}
        assert context["clientinfo"]["name"] == "mcp"
        headers = context["transport"]["properties"]["headers"]
        assert headers["host"].startswith("127.0.0.1:")
        assert "progress" not in context
        if kind == "sse":
            assert context["transport"]["name"] == "http-sse"
            assert len(context["sessionid"]) == 32
        else:
            assert context["transport"]["name"] == "http-streamable"
            assert headers["x-functions-key"] == "test-mcp-key"
        if kind == "streamable-2025":
            assert context["sessionid"] == context["transport"]["sessionId"] == headers["mcp-session-id"]
        if kind == "streamable-2026":
            assert "sessionid" not in context


async def test_result_schema_text_plus_structured_content(host, kind):
    async with connect(host, kind) as client:
        result = await client.call_tool("forecast", {"city": "Oslo"})
        assert result.structured_content == {"city": "Oslo", "celsius": 21.5}
        assert json.loads(result.content[0].text) == {"city": "Oslo", "celsius": 21.5}


async def test_result_schema_multi_content(host, kind):
    async with connect(host, kind) as client:
        result = await client.call_tool("two_blocks", {})
        assert [c.text for c in result.content] == ["first", "second"]


async def test_raising_tool_is_an_error_result_and_the_server_keeps_serving(host, kind):
    async with connect(host, kind) as client:
        result = await client.call_tool("explode", {"reason": "bad input"})
        assert result.is_error
        # exactly what the Azure MCP extension answers: the exception's message is dropped (issue 8.12)
        assert [c.text for c in result.content] == ["An error occurred invoking 'explode'."]
        assert (await client.call_tool("echo", {"text": "still here"})).content[0].text == "still here"


async def test_unknown_tool_is_invalid_params(host, kind):
    async with connect(host, kind) as client:
        with pytest.raises(MCPError) as error:
            await client.call_tool("nope", {})
        assert (error.value.error.code, error.value.error.message) == (INVALID_PARAMS, "Unknown tool: 'nope'")
        assert (await client.call_tool("echo", {"text": "ok"})).content[0].text == "ok"


async def test_missing_required_arguments_are_invalid_params(host, kind):
    async with connect(host, kind) as client:
        with pytest.raises(MCPError) as error:
            await client.call_tool("echo_context", {"text": None, "numbers": [1]})
        assert error.value.error.code == INVALID_PARAMS
        assert error.value.error.message == \
            "One or more required tool properties are missing values. Please provide: text"
        with pytest.raises(MCPError, match="Please provide: city"):
            await client.call_tool("greet", {"times": 3})
        assert (await client.call_tool("echo", {"text": "ok"})).content[0].text == "ok"


async def test_progress_reaches_the_client_in_order(host, kind):
    async with connect(host, kind) as client:
        received = []

        async def on_progress(progress, total, message):
            received.append((progress, total, message))

        result = await client.call_tool("count_up", {"steps": 3}, progress_callback=on_progress)
        assert result.content[0].text == "counted to 3"
        assert received == [(1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]


async def test_progress_without_token_is_a_no_op(host, kind):
    async with connect(host, kind) as client:
        result = await client.call_tool("count_up", {"steps": 2})
        assert result.content[0].text == "counted to 2"


async def test_progress_url_lives_only_for_its_call(host, kind):
    async with connect(host, kind) as client:
        async def ignore(*_):
            pass

        result = await client.call_tool("echo_context", {"text": "x"}, progress_callback=ignore)
        url = json.loads(result.content[0].text)["progress"]["url"]
        assert url.startswith("http://127.0.0.1:") and "/runtime/webhooks/mcp/progress/" in url
        async with httpx.AsyncClient() as http:
            late = await http.post(url, json={"progress": 1})
        assert late.status_code == 404


async def test_resources_static_template_and_binary(host, kind):
    async with connect(host, kind) as client:
        listed = {r.uri: r for r in (await client.list_resources()).resources}
        assert set(listed) == {"info://server", "blob://logo", "broken://thing"}
        assert listed["info://server"].mime_type == "application/json"
        assert listed["info://server"].meta == {"cache": {"ttlSeconds": 60}}
        templates = (await client.list_resource_templates()).resource_templates
        assert [(t.uri_template, t.name) for t in templates] == [("snippet://{name}", "snippet"),
                                                                 ("counted://{name}", "counted")]

        info = (await client.read_resource("info://server")).contents[0]
        assert json.loads(info.text) == {"server": "mcp-test", "uri": "info://server"}
        assert info.mime_type == "application/json"
        snippet = (await client.read_resource("snippet://hello")).contents[0]
        assert (snippet.uri, snippet.text, snippet.mime_type) == ("snippet://hello", "snippet hello", "text/plain")
        logo = (await client.read_resource("blob://logo")).contents[0]
        assert base64.b64decode(logo.blob) == b"\x89PNG-not-really"


async def test_unknown_resource_is_invalid_params(host, kind):
    """Azure's code and words (McpWebJobsBuilderExtensions.cs); a URI that a template would match with
    its values percent-encoded gets the encoded URI as a hint (a template value is one segment)."""
    async with connect(host, kind) as client:
        with pytest.raises(MCPError) as error:
            await client.read_resource("nothing://here")
        assert (error.value.error.code, error.value.error.message) == (INVALID_PARAMS, "Unknown resource: 'nothing://here'")
        with pytest.raises(MCPError) as error:
            await client.read_resource("snippet://a/b c")
        assert error.value.error.code == INVALID_PARAMS
        assert error.value.error.message == (
            "Unknown resource: 'snippet://a/b c'. Each value of the template 'snippet://{name}' is one URI segment: "
            "percent-encode '/' as %2F (and '?', '#', spaces) inside a value, as in 'snippet://a%2Fb%20c'.")
        assert (await client.read_resource("snippet://a%2Fb%20c")).contents[0].text == "snippet a%2Fb%20c"


async def test_prompts(host, kind):
    async with connect(host, kind) as client:
        prompts = (await client.list_prompts()).prompts
        assert [p.name for p in prompts] == ["review"]
        assert [(a.name, a.required) for a in prompts[0].arguments] == [("code", True), ("language", False)]
        result = await client.get_prompt("review", {"code": "x = 1", "language": "python"})
        assert result.messages[0].role == "user"
        assert result.messages[0].content.text == "Please review this python code:\nx = 1"
        with pytest.raises(MCPError) as error:
            await client.get_prompt("review", {"language": "go"})
        assert error.value.error.message == \
            "One or more required prompt arguments are missing values. Please provide: code"
        with pytest.raises(MCPError, match="Unknown prompt: 'nope'"):
            await client.get_prompt("nope", {})


async def test_failing_resource_is_an_internal_error_and_the_server_keeps_serving(host, kind):
    async with connect(host, kind) as client:
        with pytest.raises(MCPError) as error:
            await client.read_resource("broken://thing")
        assert error.value.error.code == INTERNAL_ERROR
        assert error.value.error.message == "Could not read resource 'broken://thing': storage unavailable"
        assert (await client.read_resource("snippet://ok")).contents[0].text == "snippet ok"


async def wait_state(client: Client, key: str, wanted: str) -> str:
    """Poll the test app's wait_state tool until it says `wanted` (a bounded number of times)."""
    for _ in range(300):
        state = (await client.call_tool("wait_state", {"key": key})).content[0].text
        if state == wanted:
            return state
        await anyio.sleep(0.1)
    return state


@pytest.mark.parametrize("with_progress", [False, True])
async def test_cancelling_a_call_stops_the_tool(host, kind, with_progress):
    """Issue 9 item 8: `notifications/cancelled` (or, at 2026-07-28, closing the request) must stop
    the tool on every transport; over stateless Streamable HTTP 2025-11-25 it used to run on."""
    key = f"{kind}-{with_progress}"

    async def ignore(*_):
        pass

    async with connect(host, kind) as client:
        async with anyio.create_task_group() as tasks:
            call_scope = anyio.CancelScope()

            async def call() -> None:
                with call_scope:
                    await client.call_tool("wait_until_cancelled", {"key": key},
                                           progress_callback=ignore if with_progress else None)

            tasks.start_soon(call)
            assert await wait_state(client, key, "waiting") == "waiting"
            call_scope.cancel()
        assert await wait_state(client, key, "cancelled") == "cancelled"
        assert (await client.call_tool("echo", {"text": "after"})).content[0].text == "after"
