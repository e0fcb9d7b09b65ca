"""Jobs as MCP clients understand them natively (issue 11), with the official `mcp` client against the
real host: tool titles, annotations, input and output schemas and structured results; server info
and capabilities; the job:// resources."""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import anyio
import httpx2
import jsonschema
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from pydantic import Field, TypeAdapter

from testing.fake_model_server import load_script
from testing.host_process import PROJECT_ROOT, project_host
from testing.mcp_client import call, connect, wait_until

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
    launchers = launcher_names(tools)  # the app's declared jobs: every tool whose _meta says it starts one
    assert "run_agent" in launchers
    for name in launchers:
        assert tools[name].annotations.open_world_hint is True and tools[name].annotations.read_only_hint is False
    listing = tools["list_jobs"].input_schema["properties"]
    assert "waiting_for_input" in listing["status"]["enum"] and sorted(listing["workflow"]["enum"]) == launchers
    assert (listing["limit"]["minimum"], listing["limit"]["maximum"], listing["limit"]["default"]) == (1, 100, 20)
    swarm = tools["run_swarm"].input_schema["properties"]
    assert swarm["max_workers"]["maximum"] == 10 and swarm["quality_threshold"]["maximum"] == 100
    assert swarm["goal"]["description"].startswith("Required.")
    assert tools["wait_for_job"].input_schema["properties"]["timeout_seconds"]["maximum"] == 50
    assert tools["run_agent"].input_schema["properties"]["tools"]["items"]["enum"] == ["fetch_url", "calculate"]


def launcher_names(tools: dict[str, Any]) -> list[str]:
    """The launchers among the listed tools, by their `durable-job` role (tools/job_status.py)."""
    return sorted(name for name, tool in tools.items() if ((tool.meta or {}).get("durable-job") or {}).get("role")
                  == "start")


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


# ---------------------------------------------------------------------------------------------
# Elicitation: wait_for_job asks the person when a job waits for input (local host)

@contextlib.asynccontextmanager
async def modern_client(host, **options) -> AsyncIterator[Client]:
    """The official client in its default mode: 2026-07-28 over Streamable HTTP."""
    async with httpx2.AsyncClient(headers={"x-functions-key": host.mcp_key}, timeout=90) as http:
        async with Client(streamable_http_client(f"{host.base_url}/runtime/webhooks/mcp", http_client=http),
                          **options) as client:
            assert client.protocol_version == "2026-07-28"
            yield client


def answering(action: str, content: dict | None = None, asked: list | None = None):
    async def elicit(_context, params: types.ElicitRequestParams) -> types.ElicitResult:
        if asked is not None:
            asked.append(params)
        return types.ElicitResult(action=action, content=content)
    return elicit


async def waited(client: Client, job_id: str) -> types.CallToolResult:
    for _ in range(20):
        result = await client.call_tool("wait_for_job", {"job_id": job_id, "timeout_seconds": 20})
        if result.structured_content["status"] != "running":
            return result
    raise AssertionError("the job kept running")


@contextlib.asynccontextmanager
async def handshake_client(host, **options) -> AsyncIterator[Client]:
    """The official client at 2025-11-25 over Streamable HTTP: it keeps the Mcp-Session-Id it is given."""
    async with httpx2.AsyncClient(headers={"x-functions-key": host.mcp_key}, timeout=90) as http:
        async with Client(streamable_http_client(f"{host.base_url}/runtime/webhooks/mcp", http_client=http),
                          mode="legacy", **options) as client:
            assert client.protocol_version == "2025-11-25"
            yield client


@pytest.mark.parametrize("transport", ["2026-07-28 streamable HTTP", "2025-11-25 streamable HTTP", "2025-11-25 SSE"])
async def test_wait_for_job_asks_the_person_and_sends_the_answer(host, transport):
    """2025-11-25 over Streamable HTTP (issue 21 §3): the question rides the stream of the wait_for_job POST, and
    the answer comes back in a POST of its own that names the session."""
    asked: list = []
    callback = answering("accept", {"approved": True, "comment": "aisle seat"}, asked)
    if transport.startswith("2026"):
        opened = modern_client(host, elicitation_callback=callback)
    elif "streamable" in transport:
        opened = handshake_client(host, elicitation_callback=callback)
    else:
        opened = Client(sse_client(f"{host.base_url}/runtime/webhooks/mcp/sse?code={host.mcp_key}"),
                        mode="legacy", elicitation_callback=callback)
    async with opened as client:
        job = (await client.call_tool("plan_trip", {"request": "Four days in Porto"})).structured_content
        done = (await waited(client, job["job_id"])).structured_content
    assert done["status"] == "completed", done
    assert done["output"]["decision"] == {"approved": True, "comment": "aisle seat"}
    [question] = asked
    assert question.mode == "form" and "Approve the proposed trip" in question.message
    assert "send_job_input" not in question.message  # the person's form: no wording meant for models
    assert "destination: (scripted demo answer)" in question.message  # the proposal: the request's details
    assert question.requested_schema["properties"]["approved"]["type"] == "boolean"


async def test_a_wait_that_may_ask_still_reports_progress(host):
    """Issue 21 §3: progress works as before for a 2025-11-25 Streamable HTTP client that is asked for input: the
    progress notifications and the question ride the stream of the same wait_for_job POST, progress first."""
    events: list[str] = []

    async def elicit(_context, params: types.ElicitRequestParams) -> types.ElicitResult:
        events.append("asked")
        return types.ElicitResult(action="accept", content={"approved": True})

    async def on_progress(_value, _total, message) -> None:
        events.append(f"progress: {message}")

    async with handshake_client(host, elicitation_callback=elicit) as client:
        job = (await client.call_tool("plan_trip", {"request": "Three days in Lyon"})).structured_content
        result = await client.call_tool("wait_for_job", {"job_id": job["job_id"], "timeout_seconds": 50},
                                        progress_callback=on_progress)
    assert result.structured_content and result.structured_content["status"] == "completed", (result, events)
    assert "asked" in events and events[0].startswith("progress: "), events


@pytest.mark.parametrize("action", ["decline", "cancel"])
@pytest.mark.parametrize("opened", [modern_client, handshake_client], ids=["2026-07-28", "2025-11-25 streamable"])
async def test_declining_leaves_the_job_waiting(host, opened, action):
    """A declined or dismissed question leaves the job waiting, and the result says what to do next with the job's
    id filled in (issue 21 §4: it said "Answer later with the input tool, or ask again", naming neither)."""
    async with opened(host, elicitation_callback=answering(action)) as client:
        job = (await client.call_tool("plan_trip", {"request": "A day in Bruges"})).structured_content
        result = await waited(client, job["job_id"])
        again = await client.call_tool("get_job", {"job_id": job["job_id"]})
    job_id = json.dumps(job["job_id"])
    assert result.structured_content["status"] == "waiting_for_input"
    assert again.structured_content["status"] == "waiting_for_input"
    assert result.content[-1].text == (
        f"The person {'declined' if action == 'decline' else 'dismissed'} the job's input request (approval); the "
        f"job is unchanged and still waits. Next: when the person decides, send_job_input(job_id={job_id}, "
        f'event="approval", data=<their answer>) sends it; wait_for_job(job_id={job_id}) asks them again.')


async def test_without_elicitation_wait_for_job_returns_the_waiting_job(host):
    async with modern_client(host) as client:
        job = (await client.call_tool("plan_trip", {"request": "A day in Ghent"})).structured_content
        result = await waited(client, job["job_id"])
    assert result.structured_content["status"] == "waiting_for_input" and len(result.content) == 1


# ---------------------------------------------------------------------------------------------
# The 2026-07-28 tasks extension, through the official client's extension hook (SEP-2133)

class CreatedTask(types.Result):
    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str
    ttl_seconds: int | None = Field(default=None, alias="ttlSeconds")
    poll_interval_milliseconds: int = Field(alias="pollIntervalMilliseconds")


class JobTasks(ClientExtension):
    """A client of `io.modelcontextprotocol/tasks`: polls tasks/get, answers input with tasks/update."""

    identifier = "io.modelcontextprotocol/tasks"

    def __init__(self, answer: dict[str, Any]):
        self.answer = answer
        self.seen: list[dict[str, Any]] = []

    def claims(self):
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self.resolve)]

    async def request(self, session, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return await session.send_request(types.Request[dict[str, Any], str](method=method, params=params),
                                          TypeAdapter(dict))

    async def resolve(self, created: CreatedTask, context: ClaimContext) -> types.CallToolResult:
        self.seen.append(created.model_dump(by_alias=True))
        answered: set[str] = set()
        while True:
            task = await self.request(context.session, "tasks/get", {"taskId": created.task_id})
            self.seen.append(task)
            if task["status"] == "completed":
                return types.CallToolResult.model_validate(task["result"])
            if task["status"] in ("failed", "cancelled"):
                raise AssertionError(task)
            for key in set(task.get("inputRequests") or {}) - answered:
                answered.add(key)
                ack = await self.request(context.session, "tasks/update", {
                    "taskId": created.task_id, "inputResponses": {key: {"action": "accept", "content": self.answer}}})
                assert ack.get("resultType") == "complete", ack
            await anyio.sleep(created.poll_interval_milliseconds / 1000 / 10)  # a test need not wait 2 s


async def test_a_launcher_answers_with_a_task_and_tasks_get_update_finish_it(host):
    tasks = JobTasks({"approved": True, "comment": "by task"})
    async with modern_client(host, extensions=[tasks]) as client:
        result = await client.call_tool("plan_trip", {"request": "Three days in Turin"})
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    created, *polled = tasks.seen
    assert created["resultType"] == "task" and created["status"] == "working" and created["ttlSeconds"] == 86400
    statuses = [task["status"] for task in polled]
    assert "input_required" in statuses and statuses[-1] == "completed"
    form = next(task for task in polled if task["status"] == "input_required")["inputRequests"]
    [request] = form.values()
    assert request["method"] == "elicitation/create" and request["params"]["mode"] == "form"
    job = result.structured_content
    assert job["status"] == "completed" and job["job_id"] == created["taskId"], job
    assert job["output"]["decision"]["comment"] == "by task"
    jsonschema.validate(job, tools["plan_trip"].output_schema)


async def test_without_the_extension_a_launcher_answers_as_before(host):
    async with modern_client(host) as client:
        result = await client.call_tool("run_agent", {"task": "Say hello"})
    assert result.structured_content["status"] in ("pending", "running", "completed")


# ---------------------------------------------------------------------------------------------
# The 2025-11-25 Tasks utility, through the official TypeScript SDK's client (node; package.json)

NODE_CLIENT = PROJECT_ROOT / "tests" / "node" / "tasks_client.mjs"


async def node_events(host, scenario: str) -> AsyncIterator[dict]:
    process = await asyncio.create_subprocess_exec(
        "node", str(NODE_CLIENT), f"{host.base_url}/runtime/webhooks/mcp", host.mcp_key, scenario,
        cwd=PROJECT_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async for line in process.stdout:
            yield json.loads(line)
    finally:
        with anyio.fail_after(60):
            stderr = (await process.stderr.read()).decode()
            assert await process.wait() == 0, stderr


async def test_typescript_client_runs_a_trip_as_a_task_and_waits_in_tasks_result(host):
    statuses: list[str] = []
    final = None
    async with connect(host) as approver:
        async for event in node_events(host, "trip"):
            if event["type"] == "capabilities":
                assert event["tasks"]["requests"] == {"tools": {"call": {}}}
            elif event["type"] == "tools":
                assert event["execution"]["plan_trip"] == {"taskSupport": "optional"}
                assert event["execution"]["get_job"] is None
            elif event["type"] in ("taskCreated", "taskStatus"):
                statuses.append(event["task"]["status"])
                assert event["task"]["pollInterval"] == 2000 and event["task"]["ttl"] == 600000
                if event["task"]["status"] == "input_required":
                    # the SDK now waits in tasks/result; the person answers elsewhere (the job view, a tool)
                    await call(approver, "send_job_input", job_id=event["task"]["taskId"], event="approval",
                               data={"approved": True, "comment": "from elsewhere"})
            elif event["type"] == "result":
                final = event["result"]
            else:
                raise AssertionError(event)
    assert statuses[0] == "working" and statuses[-1] == "input_required", statuses
    job = final["structuredContent"]
    assert job["status"] == "completed" and job["output"]["decision"]["comment"] == "from elsewhere", final
    assert final["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": job["job_id"]}


async def test_typescript_client_lists_and_cancels_a_task(host):
    events = {event["type"]: event async for event in node_events(host, "cancel")}
    task_id = events["taskCreated"]["task"]["taskId"]
    assert task_id in [task["taskId"] for task in events["list"]["tasks"]]
    assert events["cancel"]["status"] == events["get"]["status"] == "cancelled"
    assert "-32602" in events["cancel-again"]["error"] and "already cancelled" in events["cancel-again"]["error"]
    async with connect(host) as client:
        assert (await call(client, "get_job", job_id=task_id))["status"] == "canceled"


# ---------------------------------------------------------------------------------------------
# Resource subscriptions: told when a job changes, without polling (local host)

LEGACY_SUBSCRIBE = pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed")  # 2025-11-25 API on purpose


@LEGACY_SUBSCRIBE
async def test_a_subscribed_job_resource_reports_its_changes_over_sse(host):
    updates: list[str] = []

    async def messages(message) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(message.params.uri)

    async with Client(sse_client(f"{host.base_url}/runtime/webhooks/mcp/sse?code={host.mcp_key}"), mode="legacy",
                      message_handler=messages) as client:
        assert client.server_capabilities.resources.subscribe is True
        job = (await client.call_tool("plan_trip", {"request": "Two days in Delft"})).structured_content
        uri = f"job://{job['job_id']}"
        await client.subscribe_resource(uri)
        with anyio.fail_after(60):
            while json.loads((await client.read_resource(uri)).contents[0].text)["status"] != "waiting_for_input":
                await anyio.sleep(0.2)
        seen = len(updates)
        await call(client, "send_job_input", job_id=job["job_id"], event="approval", data={"approved": False})
        with anyio.fail_after(60):
            while len(updates) == seen:
                await anyio.sleep(0.1)
        await client.unsubscribe_resource(uri)
    assert updates and set(updates) == {uri}


async def test_a_listen_stream_reports_job_changes(host):
    async with modern_client(host) as client:
        job = (await client.call_tool("plan_trip", {"request": "Two days in Leiden"})).structured_content
        await waited(client, job["job_id"])  # waiting for approval: nothing changes until it comes
        uri = f"job://{job['job_id']}/steps"
        async with client.listen(resource_subscriptions=[uri]) as subscription:
            await client.call_tool("send_job_input", {"job_id": job["job_id"], "event": "approval",
                                                      "data": {"approved": True}})
            with anyio.fail_after(60):
                async for event in subscription:
                    assert event.uri == uri
                    steps = json.loads((await client.read_resource(uri)).contents[0].text)["steps"]
                    if any(step["name"] == "book_trip" and step["status"] == "completed" for step in steps):
                        break
    assert [step["label"] for step in steps if step["kind"] == "event"] == ["event approval"]


@LEGACY_SUBSCRIBE
async def test_subscribing_on_the_stateless_endpoint_says_where_it_works(host):
    async with connect(host) as client:
        with pytest.raises(Exception, match="legacy SSE endpoint"):
            await client.subscribe_resource("job://anything")


# ---------------------------------------------------------------------------------------------
# A terminal task never changes state (issue 21 §1.1; MCP 2025-11-25, Tasks, Task Status Lifecycle)

async def rpc(host, method: str, params: dict, version: str = "2025-11-25", extensions: bool = False) -> dict:
    """One JSON-RPC request to the stateless endpoint; its `result` (or `error`)."""
    if version != "2025-11-25":  # 2026-07-28: client info and capabilities ride each request
        params = {**params, "_meta": {"io.modelcontextprotocol/protocolVersion": version,
                                      "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
                                      "io.modelcontextprotocol/clientCapabilities": {
                                          "extensions": {"io.modelcontextprotocol/tasks": {}} if extensions else {}},
                                      **(params.get("_meta") or {})}}
    async with httpx2.AsyncClient(timeout=90) as http:
        response = await http.post(f"{host.base_url}/runtime/webhooks/mcp", json={
            "jsonrpc": "2.0", "id": 1, "method": method, "params": params}, headers={
            "x-functions-key": host.mcp_key, "accept": "application/json, text/event-stream",
            "mcp-protocol-version": version, "mcp-method": method})
    text = response.text
    if text.startswith("event:") or "\ndata: " in text:
        text = [line for line in text.splitlines() if line.startswith("data: ")][-1].removeprefix("data: ")
    message = json.loads(text)
    return message.get("result", message.get("error"))


async def task_status(host, task_id: str, wanted: set[str], version: str = "2025-11-25") -> dict:
    with anyio.fail_after(60):
        while (task := await rpc(host, "tasks/get", {"taskId": task_id}, version))["status"] not in wanted:
            await anyio.sleep(0.2)
    return task


async def test_a_failed_task_stays_failed_when_its_job_is_retried(host, model):
    """A task-augmented run_agent whose job fails, then retry_job: the task went working -> failed -> completed
    and tasks/result answered first the error, later a success (a2aproject/a2a-js#636 is the same report)."""
    model.fail_next("*", 401, count=1)
    created = await rpc(host, "tools/call", {"name": "run_agent", "arguments": {"task": "Say hello"},
                                             "task": {"ttl": 600000}})
    task_id = created["task"]["taskId"]
    failed = await task_status(host, task_id, {"failed", "completed"})
    first = await rpc(host, "tasks/result", {"taskId": task_id})
    async with connect(host) as client:
        retried = await call(client, "retry_job", job_id=task_id)
        job = await wait_until(client, task_id)  # the retried job is followed as a job
    after = await rpc(host, "tasks/get", {"taskId": task_id})
    second = await rpc(host, "tasks/result", {"taskId": task_id})
    listed = [task for task in (await rpc(host, "tasks/list", {}))["tasks"] if task["taskId"] == task_id]
    modern = await rpc(host, "tasks/get", {"taskId": task_id}, "2026-07-28", extensions=True)
    refused = await rpc(host, "tasks/cancel", {"taskId": task_id})
    assert failed["status"] == "failed" and "HTTP 401" in failed["statusMessage"], failed
    assert first["isError"] is True and first["structuredContent"]["status"] == "failed", first
    assert retried["status"] != "failed" and job["status"] == "completed", job
    assert after == failed, "a terminal task never changes state"
    assert second == first and listed == [failed]
    # 2026-07-28 reports a failed tool call as completed with its isError result: that result, not the retry's
    assert modern["status"] == "completed" and modern["result"]["isError"] is True, modern
    assert modern["result"]["structuredContent"]["status"] == "failed"
    assert refused["code"] == -32602 and "already failed" in refused["message"], refused


async def test_a_task_keeps_its_outcome_when_its_job_is_restarted_or_purged(host):
    """The same kind, by the other paths that move a job after it ended: the management API's restart (same id)
    replaces an ended job with a new run, and a purge removes it; the task answered from the job and moved (or
    was lost: 'Task not found') with it. A job purged before it ended leaves its task cancelled."""
    durable = {"code": host.durable_key}
    base = f"{host.base_url}/runtime/webhooks/durabletask/instances"
    done_id = (await rpc(host, "tools/call", {"name": "run_agent", "arguments": {"task": "Say hello"},
                                              "task": {}}))["task"]["taskId"]
    live_id = (await rpc(host, "tools/call", {"name": "plan_trip", "arguments": {"request": "A day in Ghent"},
                                              "task": {}}))["task"]["taskId"]
    completed = await task_status(host, done_id, {"completed"})
    result = await rpc(host, "tasks/result", {"taskId": done_id})
    async with httpx2.AsyncClient(timeout=60) as http:
        restarted = await http.post(f"{base}/{done_id}/restart", params={**durable, "restartWithNewInstanceId": "false"})
        assert restarted.status_code == 202, restarted.text
        async with connect(host) as client:
            await wait_until(client, done_id, statuses=("running", "pending", "completed"))
        assert (await rpc(host, "tasks/get", {"taskId": done_id})) == completed
        assert (await rpc(host, "tasks/result", {"taskId": done_id})) == result
        await task_status(host, live_id, {"working", "input_required"})
        for job_id in (done_id, live_id):
            async with connect(host) as client:
                await wait_until(client, job_id, statuses=("completed", "waiting_for_input"))
            assert (await http.delete(f"{base}/{job_id}", params=durable)).status_code == 200
    assert (await rpc(host, "tasks/get", {"taskId": done_id})) == completed
    assert (await rpc(host, "tasks/result", {"taskId": done_id})) == result
    purged = await rpc(host, "tasks/get", {"taskId": live_id})
    assert purged["status"] == "cancelled" and purged["statusMessage"] == f"Job {live_id} was purged before it ended."
    assert (await rpc(host, "tasks/result", {"taskId": live_id}))["isError"] is True


async def test_typescript_client_is_asked_for_input_over_streamable_http(host):
    """Issue 21 §3: VS Code, Claude Code and the TypeScript SDK speak 2025-11-25 over Streamable HTTP, where the
    stateless endpoint could not ask them anything. A client that keeps its Mcp-Session-Id is asked on the stream
    of its own wait_for_job POST, and its answer (a POST of its own) reaches the job."""
    events = [event async for event in node_events(host, "ask-wait")]
    capabilities = events[0]
    assert capabilities["session"] is True and capabilities["resources"]["subscribe"] is False, capabilities
    [asked] = [event for event in events if event["type"] == "asked"]
    assert "Approve the proposed trip" in asked["message"] and asked["schema"]["properties"]["approved"]
    final = events[-1]
    assert final["type"] == "waited" and final["status"] == "completed", events
    assert final["job"]["output"]["decision"] == {"approved": True, "comment": "from the TypeScript client"}


async def test_typescript_client_is_asked_in_tasks_result(host):
    """The same, for a task: the question rides the tasks/result stream, tied to its task (related-task)."""
    events = [event async for event in node_events(host, "ask-task")]
    [asked] = [event for event in events if event["type"] == "asked"]
    created = next(event for event in events if event["type"] == "taskCreated")
    assert asked["relatedTask"] == {"taskId": created["task"]["taskId"]}, asked
    result = next(event for event in events if event["type"] == "result")["result"]
    assert result["structuredContent"]["status"] == "completed", events
    assert result["structuredContent"]["output"]["decision"]["comment"] == "from the TypeScript client"
