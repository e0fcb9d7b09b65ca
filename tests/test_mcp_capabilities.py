"""What the host declares at initialize is exactly what then works, per connection (issue 21 §1.2): each transport
and protocol version's initialize, against the real host with plain HTTP clients (testing/raw_mcp.py) and the
official one at 2026-07-28. The stateless Streamable HTTP endpoint declared `resources.subscribe: true` and then
refused every `resources/subscribe` with -32601 (mark3labs/mcp-go#865 is the same report); tasks were declared,
and tools listed `execution.taskSupport`, to versions that have no Tasks utility."""
from __future__ import annotations

import json

import pytest

from testing.fake_model_server import load_script
from testing.host_process import project_host
from testing.mcp_client import connect
from testing.raw_mcp import raw_client

HANDSHAKE_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
METHOD_NOT_FOUND = -32601


@pytest.fixture(scope="module")
def host(tmp_path_factory, model, site):
    model.reset()
    model.script(load_script("demo"))
    process = project_host(tmp_path_factory.mktemp("capabilities"), model, site,
                           APP_DATA_DIR=str(tmp_path_factory.mktemp("appdata"))).start()
    yield process
    process.stop()


@pytest.mark.parametrize("transport", ["streamable", "sse"])
@pytest.mark.parametrize("version", HANDSHAKE_VERSIONS)
async def test_initialize_declares_what_works(host, transport, version):
    async with raw_client(host, transport, version) as client:
        initialized = await client.initialize()
        capabilities = initialized["capabilities"]
        assert initialized["protocolVersion"] == version
        assert "extensions" not in capabilities, "the 2026-07-28 extensions do not work on a handshake connection"
        for name in ("tools", "resources"):
            assert capabilities[name].get("listChanged") is False, capabilities  # the catalog never changes
        assert "prompts" not in capabilities and "logging" not in capabilities and "completions" not in capabilities

        # resources.subscribe: only where notifications can reach the client outside a request (legacy SSE)
        job = (await client.request("tools/call", {"name": "plan_trip", "arguments": {"request": "A day in Graz"}}))
        job_id = json.loads(job["content"][0]["text"])["job_id"]  # (2025-03-26 has no structuredContent)
        subscribed = await client.request("resources/subscribe", {"uri": f"job://{job_id}"})
        if capabilities["resources"]["subscribe"]:
            assert transport == "sse" and subscribed == {}, subscribed
            await client.request("tools/call", {"name": "cancel_job", "arguments": {"job_id": job_id}})
            updated = await client.notified("notifications/resources/updated")
            assert updated["params"]["uri"] == f"job://{job_id}"
        else:
            assert transport == "streamable" and subscribed["code"] == METHOD_NOT_FOUND, subscribed
            assert "legacy SSE endpoint" in subscribed["message"]
            await client.request("tools/call", {"name": "cancel_job", "arguments": {"job_id": job_id}})

        # tasks: only from 2025-11-25, the version that has the Tasks utility
        tools = {tool["name"]: tool for tool in (await client.request("tools/list", {}))["tools"]}
        started = await client.request("tools/call", {"name": "run_agent", "arguments": {"task": "Say hello"},
                                                      "task": {"ttl": 60000}})
        if "tasks" in capabilities:
            assert version == "2025-11-25" and capabilities["tasks"]["requests"] == {"tools": {"call": {}}}
            assert tools["run_agent"]["execution"] == {"taskSupport": "optional"}
            task_id = started["task"]["taskId"]
            assert (await client.request("tasks/get", {"taskId": task_id}))["taskId"] == task_id
            assert task_id in [task["taskId"] for task in (await client.request("tasks/list", {}))["tasks"]]
        else:
            assert version != "2025-11-25" and "execution" not in tools["run_agent"], tools["run_agent"]
            assert "task" not in started and "content" in started, started  # an ordinary call (spec: task ignored)
            assert (await client.request("tasks/list", {}))["code"] == METHOD_NOT_FOUND


async def test_server_discover_declares_what_works_at_2026_07_28(host):
    """2026-07-28: subscriptions ride subscriptions/listen streams, and tasks are the tasks extension."""
    async with connect(host, mode="auto") as client:
        capabilities = client.server_capabilities
        assert capabilities.resources.subscribe is True
        assert "io.modelcontextprotocol/tasks" in (capabilities.extensions or {})
        assert capabilities.tasks is None
        job = (await client.call_tool("plan_trip", {"request": "A day in Linz"})).structured_content
        async with client.listen(resource_subscriptions=[f"job://{job['job_id']}"]) as subscription:
            await client.call_tool("cancel_job", {"job_id": job["job_id"]})
            async for event in subscription:
                assert event.uri == f"job://{job['job_id']}"
                break
