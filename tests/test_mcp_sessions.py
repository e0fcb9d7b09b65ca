"""What an MCP session holds ends with it (issue 21 §1.3), against the real host with the MCP test app, whose
`counted://{name}` resource counts its reads (`read_count`): the host re-reads a subscribed resource every
second, so the count shows whether anyone still watches it."""
from __future__ import annotations

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from host.mcp.subscriptions import CHECK_SECONDS
from testing.host_process import TEST_APPS, HostProcess
from testing.mcp_client import connect

LEGACY_SUBSCRIBE = pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed")  # 2025-11-25 API on purpose


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> HostProcess:
    process = HostProcess(TEST_APPS / "mcp_app", tmp_path_factory.mktemp("sessions")).start()
    yield process
    process.stop()


def sse(host: HostProcess) -> Client:
    return Client(sse_client(f"{host.base_url}/runtime/webhooks/mcp/sse?code={host.mcp_key}"), mode="legacy")


async def reads(client: Client, name: str) -> int:
    return int((await client.call_tool("read_count", {"name": name})).content[0].text)


async def reads_reach(client: Client, name: str, count: int) -> int:
    """Wait (bounded) until counted://<name> was read `count` times: the host's watch is reading it."""
    with anyio.fail_after(60):
        while (seen := await reads(client, name)) < count:
            await anyio.sleep(0.2)
    return seen


async def reads_after_a_while(client: Client, name: str) -> tuple[int, int]:
    """The read count now and after three watch periods (a watch still running reads it about three times)."""
    before = await reads(client, name)
    await anyio.sleep(3 * CHECK_SECONDS + 0.5)
    return before, await reads(client, name)


async def wait_for_log(host: HostProcess, text: str) -> None:
    with anyio.fail_after(60):
        while text not in host.log():
            await anyio.sleep(0.1)


@LEGACY_SUBSCRIBE
async def test_a_subscription_ends_with_its_sse_session(host):
    """A legacy SSE client that subscribes and goes away without unsubscribing left the host re-reading the
    resource every second for good (modelcontextprotocol/servers#4710)."""
    async with connect(host) as observer:
        async with sse(host) as client:
            assert client.server_capabilities.resources.subscribe is True
            await client.subscribe_resource("counted://left")
            await reads_reach(observer, "left", 3)
        # the client closed its stream without unsubscribing
        await wait_for_log(host, "its 1 resource subscription(s) ended with it")
        before, after = await reads_after_a_while(observer, "left")
    assert after - before <= 1, (before, after)  # at most a read that was already under way


@LEGACY_SUBSCRIBE
async def test_unsubscribing_stops_the_watch_while_the_session_goes_on(host):
    """The same kind: an unsubscribe never reached the watch (it was keyed by a per-request object)."""
    async with connect(host) as observer:
        async with sse(host) as client:
            await client.subscribe_resource("counted://kept")
            await client.subscribe_resource("counted://dropped")
            await reads_reach(observer, "dropped", 3)
            await client.unsubscribe_resource("counted://dropped")
            kept_before = await reads(observer, "kept")
            before, after = await reads_after_a_while(observer, "dropped")
            kept_after = await reads(observer, "kept")
    assert after - before <= 1, (before, after)
    assert kept_after > kept_before, "the other subscription of the session goes on"


async def state_of(client: Client, key: str, wanted: str) -> str:
    """Poll the test app's wait_state tool (bounded) until it says `wanted`; the last state seen."""
    with anyio.move_on_after(30):
        while (state := (await client.call_tool("wait_state", {"key": key})).content[0].text) != wanted:
            await anyio.sleep(0.1)
    return state


@pytest.mark.parametrize("way", ["2025-11-25 JSON response", "2025-11-25 SSE response", "2026-07-28", "legacy SSE"])
async def test_a_call_in_progress_ends_when_its_client_goes_away(host, way):
    """The same kind: over Streamable HTTP a call answered as JSON ran on after its client left (the SDK's JSON
    mode does not watch for it), so a tasks/result or a wait_for_job kept the host polling for nobody."""
    key = f"gone-{way}"
    url = f"{host.base_url}/runtime/webhooks/mcp"
    async with connect(host) as observer:
        async with anyio.create_task_group() as group:
            if way.startswith("2025"):
                params = {"name": "wait_until_cancelled", "arguments": {"key": key}}
                if "SSE" in way:
                    params["_meta"] = {"progressToken": "p"}
                headers = {"x-functions-key": host.mcp_key, "accept": "application/json, text/event-stream",
                           "mcp-protocol-version": "2025-11-25"}

                async def call() -> None:
                    async with httpx.AsyncClient(timeout=60) as http:
                        await http.post(url, headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                                    "params": params})
            else:
                async def call() -> None:
                    opened = sse(host) if way == "legacy SSE" else connect(host, mode="auto")
                    async with opened as client:
                        await client.call_tool("wait_until_cancelled", {"key": key})

            group.start_soon(call)
            assert await state_of(observer, key, "waiting") == "waiting"
            group.cancel_scope.cancel()  # the client goes away: its connection closes, nothing is sent
        assert await state_of(observer, key, "cancelled") == "cancelled"
