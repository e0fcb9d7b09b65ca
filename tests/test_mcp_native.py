"""Jobs as MCP clients understand them natively (issue 11), with the official `mcp` client against the
real host: tool titles, annotations, input and output schemas and structured results; server info
and capabilities; the job:// resources."""
from __future__ import annotations

import json

import jsonschema
import pytest

from testing.fake_model_server import load_script
from testing.host_process import project_host
from testing.mcp_client import connect, wait_until

LAUNCHERS = ("run_agent", "run_swarm", "plan_trip")
READ_ONLY = ("get_job", "wait_for_job", "list_jobs")


@pytest.fixture(scope="module")
def host(tmp_path_factory, model, site):
    model.reset()
    model.script(load_script("demo"))
    appdata = tmp_path_factory.mktemp("appdata")
    process = project_host(tmp_path_factory.mktemp("native"), model, site, APP_DATA_DIR=str(appdata)).start()
    yield process
    process.stop()


async def test_tools_say_what_they_take_return_and_do(host):
    async with connect(host) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        info, capabilities = client.server_info, client.server_capabilities
    assert info.title == "Durable agent jobs" and "fault-tolerant" in info.description
    assert capabilities.resources is not None and capabilities.prompts is None  # the app has no prompts
    for name, tool in tools.items():
        assert tool.title and tool.annotations is not None, name
        assert tool.output_schema and tool.output_schema["type"] == "object", name
        schema = tool.input_schema
        assert schema["additionalProperties"] is False and schema["required"] == [], name
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator.check_schema(tool.output_schema)
        assert "\n    " not in (tool.description or ""), name  # no stray docstring indentation
    for name in READ_ONLY:
        assert tools[name].annotations.read_only_hint is True, name
    assert tools["cancel_job"].annotations.destructive_hint is True
    assert tools["retry_job"].annotations.idempotent_hint is True
    assert tools["send_job_input"].annotations.idempotent_hint is False
    for name in LAUNCHERS:
        assert tools[name].annotations.open_world_hint is True and tools[name].annotations.read_only_hint is False
    listing = tools["list_jobs"].input_schema["properties"]
    assert "waiting_for_input" in listing["status"]["enum"] and listing["workflow"]["enum"] == list(LAUNCHERS)
    assert (listing["limit"]["minimum"], listing["limit"]["maximum"], listing["limit"]["default"]) == (1, 100, 20)
    swarm = tools["run_swarm"].input_schema["properties"]
    assert swarm["max_workers"]["maximum"] == 10 and swarm["quality_threshold"]["maximum"] == 100
    assert swarm["goal"]["description"].startswith("Required.")
    assert tools["wait_for_job"].input_schema["properties"]["timeout_seconds"]["maximum"] == 50
    assert tools["run_agent"].input_schema["properties"]["tools"]["items"]["enum"] == ["fetch_url", "calculate"]


async def test_results_carry_structured_content_matching_the_output_schema(host):
    async with connect(host) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        launched = await client.call_tool("run_agent", {"task": "Say hello"})
        job = launched.structured_content
        assert json.loads(launched.content[0].text) == job  # text kept for older clients
        jsonschema.validate(job, tools["run_agent"].output_schema)
        done = await wait_until(client, job["job_id"])
        got = await client.call_tool("get_job", {"job_id": job["job_id"]})
        listed = await client.call_tool("list_jobs", {"workflow": "run_agent"})
        refused = await client.call_tool("get_job", {"job_id": "no-such-job"})
    assert done["status"] == "completed"
    jsonschema.validate(got.structured_content, tools["get_job"].output_schema)
    jsonschema.validate(listed.structured_content, tools["list_jobs"].output_schema)
    assert job["job_id"] in [item["job_id"] for item in listed.structured_content["jobs"]]
    assert refused.is_error and refused.structured_content is None and "Unknown job" in refused.content[0].text


async def test_jobs_are_resources(host):
    async with connect(host) as client:
        templates = {t.uri_template: t for t in (await client.list_resource_templates()).resource_templates}
        launched = (await client.call_tool("run_agent", {"task": "Say hello"})).structured_content
        await wait_until(client, launched["job_id"])
        status = (await client.read_resource(f"job://{launched['job_id']}")).contents[0]
        steps = (await client.read_resource(f"job://{launched['job_id']}/steps")).contents[0]
    assert set(templates) >= {"job://{job_id}", "job://{job_id}/steps"}
    assert status.mime_type == "application/json" and json.loads(status.text)["status"] == "completed"
    kinds = [step["kind"] for step in json.loads(steps.text)["steps"]]
    assert "model_call" in kinds, kinds
