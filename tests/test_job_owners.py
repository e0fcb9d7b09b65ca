"""Each person sees only their own jobs (issue 20 §2, §3), with real clients against the real host signing
callers in with the fake OIDC issuer: alice and bob are users, carol has the admin role.

Everywhere a job can be reached, another person's job answers exactly as a job that does not exist (the same
error, the same text but for the id) and stays as it was: the job tools (get, wait, list, send input, cancel,
retry), `job://` resources and subscriptions, MCP Tasks, the job view's HTTP API, the workspace downloads and
resources, a code swarm's `base`, idempotency keys, the HTTP starter. The admin sees and manages every job.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter

from testing.fake_model_server import load_script
from testing.host_process import PROJECT_ROOT, TEST_KEYS
from testing.mcp_client import call, call_error, wait_until
from testing.model_scripts import code_swarm as todo
from testing.team import mcp_url, signed_in
from tools.caller import tag_of

FUNCTION_KEY = TEST_KEYS["FUNCTIONS_DEFAULT_KEY"]
NODE_CLIENT = PROJECT_ROOT / "tests" / "node" / "signed_in_client.mjs"


@pytest.fixture(scope="module")
def host(team):
    return team


def token(host, issuer, user: str) -> str:
    return issuer.token(user, mcp_url(host))


def as_user(host, issuer, user: str, mode: str = "legacy", **options):
    return signed_in(host, token(host, issuer, user), mode, **options)


@pytest.fixture(scope="module")
async def alices(host, issuer):
    """Alice's jobs: a trip waiting for her approval and an agent job that completed."""
    async with as_user(host, issuer, "alice") as alice:
        trip = await call(alice, "plan_trip", request="Two days in Delft")
        trip = await wait_until(alice, trip["job_id"], statuses=("waiting_for_input", "failed"))
        agent = await call(alice, "run_agent", task="Say hello")
        agent = await wait_until(alice, agent["job_id"])
    assert trip["status"] == "waiting_for_input" and agent["status"] == "completed"
    return {"trip": trip, "agent": agent}


def unknown_like(job_id: str) -> str:
    """An id of the same form that names no job."""
    return f"{tag_of(job_id)}.{uuid.uuid4().hex}" if tag_of(job_id) else uuid.uuid4().hex


def same_answer(theirs: str, their_id: str, unknown: str, unknown_id: str) -> None:
    assert theirs.replace(their_id, "<id>") == unknown.replace(unknown_id, "<id>"), (theirs, unknown)


JOB_TOOLS: dict[str, dict[str, Any]] = {
    "get_job": {}, "wait_for_job": {"timeout_seconds": 0}, "cancel_job": {"reason": "mine now"}, "retry_job": {},
    "send_job_input": {"event": "approval", "data": {"approved": True}},
}


async def test_another_persons_job_answers_as_an_unknown_one_in_every_tool(host, issuer, alices):
    trip_id = alices["trip"]["job_id"]
    async with as_user(host, issuer, "bob") as bob:
        for tool, arguments in JOB_TOOLS.items():
            for job_id in (trip_id, alices["agent"]["job_id"]):
                unknown = unknown_like(job_id)
                same_answer(await call_error(bob, tool, job_id=job_id, **arguments), job_id,
                            await call_error(bob, tool, job_id=unknown, **arguments), unknown)
        listed = await call(bob, "list_jobs", limit=100)
        assert not {alices["trip"]["job_id"], alices["agent"]["job_id"]} & {job["job_id"] for job in listed["jobs"]}
        for workflow in ("plan_trip", "run_agent"):
            assert (await call(bob, "list_jobs", workflow=workflow, limit=100))["jobs"] == [
                job for job in listed["jobs"] if job["workflow"] == workflow]
    async with as_user(host, issuer, "alice") as alice:
        trip = await call(alice, "get_job", job_id=trip_id)  # nothing bob did reached it
        mine = {job["job_id"] for job in (await call(alice, "list_jobs", limit=100))["jobs"]}
    assert trip["status"] == "waiting_for_input" and trip["input_request"] == alices["trip"]["input_request"]
    assert {trip_id, alices["agent"]["job_id"]} <= mine


async def test_resources_of_another_persons_job_answer_as_unknown_ones(host, issuer, alices):
    job_id = alices["agent"]["job_id"]
    unknown = unknown_like(job_id)
    async with as_user(host, issuer, "bob") as bob:
        for suffix in ("", "/steps"):
            errors = []
            for name in (job_id, unknown):
                with pytest.raises(MCPError) as raised:
                    await bob.read_resource(f"job://{name}{suffix}")
                errors.append((raised.value.error.code, raised.value.error.message))
            assert errors[0][0] == errors[1][0]
            same_answer(errors[0][1], job_id, errors[1][1], unknown)
    async with as_user(host, issuer, "alice") as alice:
        steps = json.loads((await alice.read_resource(f"job://{job_id}/steps")).contents[0].text)
    assert steps["job_id"] == job_id and steps["steps"]


async def test_only_its_owner_continues_a_jobs_conversation(host, issuer, alices):
    """continue_from (issue 18 §2): another person's finished job answers as an unknown one, and no job starts."""
    job_id = alices["agent"]["job_id"]
    unknown = unknown_like(job_id)
    async with as_user(host, issuer, "bob") as bob:
        before = (await call(bob, "list_jobs", limit=100))["jobs"]
        same_answer(await call_error(bob, "run_agent", task="Go on", continue_from=job_id), job_id,
                    await call_error(bob, "run_agent", task="Go on", continue_from=unknown), unknown)
        assert (await call(bob, "list_jobs", limit=100))["jobs"] == before
    async with as_user(host, issuer, "alice") as alice:
        follow_up = await call(alice, "run_agent", task="Go on", continue_from=job_id)
        follow_up = await wait_until(alice, follow_up["job_id"])
    assert follow_up["status"] == "completed", follow_up
    assert follow_up["output"]["continued"].startswith(f"the conversation of job {job_id}: "), follow_up


async def test_an_admin_sees_and_manages_every_job(host, issuer, alices):
    async with as_user(host, issuer, "bob") as bob:
        bobs = await call(bob, "plan_trip", request="A week in Bergen")
    async with as_user(host, issuer, "carol") as carol:
        listed = {job["job_id"] for job in (await call(carol, "list_jobs", limit=100))["jobs"]}
        assert {alices["trip"]["job_id"], alices["agent"]["job_id"], bobs["job_id"]} <= listed
        assert (await call(carol, "get_job", job_id=alices["agent"]["job_id"]))["output"]
        canceled = await call(carol, "cancel_job", job_id=bobs["job_id"], reason="admin cleanup")
    assert canceled["status"] == "canceled"
    async with as_user(host, issuer, "bob") as bob:
        assert (await call(bob, "get_job", job_id=bobs["job_id"]))["error"] == "canceled: admin cleanup"


async def test_idempotency_keys_are_each_persons_own(host, issuer):
    key = str(uuid.uuid4())
    async with as_user(host, issuer, "alice") as alice:
        first = await call(alice, "run_agent", task="Say hello", idempotency_key=key)
        again = await call(alice, "run_agent", task="Say hello", idempotency_key=key)
    async with as_user(host, issuer, "bob") as bob:
        bobs = await call(bob, "run_agent", task="Say hello", idempotency_key=key)
        unknown = unknown_like(first["job_id"])
        same_answer(await call_error(bob, "get_job", job_id=first["job_id"]), first["job_id"],
                    await call_error(bob, "get_job", job_id=unknown), unknown)
    assert first["job_id"] == again["job_id"] != bobs["job_id"]


async def raw(client, method: str, params: dict[str, Any]) -> dict[str, Any]:
    return await client.session.send_request(types.Request[dict[str, Any], str](method=method, params=params),
                                             TypeAdapter(dict))


def task_call(host, issuer, user: str, params: dict[str, Any]) -> dict[str, Any]:
    """A task-augmented tools/call (2025-11-25) as plain JSON-RPC: the SDK's call_tool expects a CallToolResult."""
    response = httpx.post(mcp_url(host), json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params},
                          headers={"Authorization": f"Bearer {token(host, issuer, user)}",
                                   "Accept": "application/json, text/event-stream",
                                   "MCP-Protocol-Version": "2025-11-25"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def test_mcp_tasks_are_bound_to_their_creator(host, issuer):
    created = task_call(host, issuer, "alice", {"name": "plan_trip", "arguments": {"request": "Two days in Gouda"},
                                                "task": {"ttl": 600000}})
    task_id = created["task"]["taskId"]
    async with as_user(host, issuer, "alice") as alice:
        assert (await raw(alice, "tasks/get", {"taskId": task_id}))["taskId"] == task_id
    unknown = unknown_like(task_id)
    async with as_user(host, issuer, "bob") as bob:
        for method in ("tasks/get", "tasks/result", "tasks/cancel"):
            errors = []
            for name in (task_id, unknown):
                with pytest.raises(MCPError) as raised:
                    await raw(bob, method, {"taskId": name})
                errors.append((raised.value.error.code, raised.value.error.message))
            assert errors[0] == errors[1], method
        assert task_id not in [task["taskId"] for task in (await raw(bob, "tasks/list", {}))["tasks"]]
    async with as_user(host, issuer, "alice") as alice:
        assert task_id in [task["taskId"] for task in (await raw(alice, "tasks/list", {}))["tasks"]]
        assert (await raw(alice, "tasks/cancel", {"taskId": task_id}))["status"] == "cancelled"


async def test_a_signed_in_callers_failed_task_stays_failed_when_the_job_is_retried(host, issuer, model):
    """A terminal task never changes state (issue 21 §1.1) for a signed-in caller too: when the job is retried
    before anyone read the failed task, the host records the task's outcome just before the rewind, reading
    the job as the task's creator (it read it as nobody: 'unknown job', and the task went failed -> completed)."""
    model.fail_next("*", 401, count=1)
    created = task_call(host, issuer, "alice", {"name": "run_agent", "arguments": {"task": "Say hello"},
                                                "task": {"ttl": 600000}})
    task_id = created["task"]["taskId"]
    async with as_user(host, issuer, "alice") as alice:
        failed = await wait_until(alice, task_id, statuses=("failed", "completed"))  # the job, not the task
        await call(alice, "retry_job", job_id=task_id)
        retried = await wait_until(alice, task_id)
        task = await raw(alice, "tasks/get", {"taskId": task_id})
    assert failed["status"] == "failed" and retried["status"] == "completed", (failed, retried)
    assert task["status"] == "failed" and "HTTP 401" in task["statusMessage"], task


async def test_a_signed_in_person_approves_from_the_chat(host, issuer):
    """Issue 21 §3 with sign-in (issue 20): a 2025-11-25 Streamable HTTP client that keeps its session, signed in
    with a token and no key, is asked for its own trip's approval on the stream of its wait_for_job POST."""
    asked: list[str] = []

    async def approve(_context, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approved": True, "comment": "from the chat"})

    async with as_user(host, issuer, "alice", elicitation_callback=approve) as alice:
        trip = await call(alice, "plan_trip", request="Two days in Leiden")
        done = await wait_until(alice, trip["job_id"])
    assert done["status"] == "completed" and done["output"]["decision"]["comment"] == "from the chat", done
    assert len(asked) == 1 and "Approve the proposed trip" in asked[0], asked


async def alice_decides(alice, trip_id: str, heard: dict[str, list[str]]) -> None:
    """Alice's decision changes her watched trip; returns once she has heard of it."""
    await asyncio.sleep(2)  # each watcher has read the job once: what changes next is news
    await call(alice, "send_job_input", job_id=trip_id, event="approval", data={"approved": False})
    await wait_until(alice, trip_id)
    with anyio.fail_after(60):
        while not heard["alice"]:
            await anyio.sleep(0.1)


async def test_a_subscriber_hears_only_their_own_jobs(host, issuer):
    async with as_user(host, issuer, "alice", "auto") as alice, as_user(host, issuer, "bob", "auto") as bob:
        trip = (await alice.call_tool("plan_trip", {"request": "Two days in Haarlem"})).structured_content
        trip = await wait_until(alice, trip["job_id"], statuses=("waiting_for_input",))
        uri = f"job://{trip['job_id']}"
        heard: dict[str, list[str]] = {"alice": [], "bob": []}

        async def listen(name, client, ready: anyio.Event, done: anyio.Event) -> None:
            async with client.listen(resource_subscriptions=[uri]) as subscription:
                ready.set()
                with anyio.move_on_after(60):
                    async for event in subscription:
                        heard[name].append(event.uri)
                        if done.is_set():
                            return

        ready = {name: anyio.Event() for name in heard}
        done = anyio.Event()
        async with anyio.create_task_group() as listeners:
            listeners.start_soon(listen, "bob", bob, ready["bob"], done)
            await ready["bob"].wait()
            listeners.start_soon(listen, "alice", alice, ready["alice"], done)
            await ready["alice"].wait()
            await alice_decides(alice, trip["job_id"], heard)
            done.set()
            await asyncio.sleep(3)  # bob's watcher, reading every second, had its chances to hear it too
            listeners.cancel_scope.cancel()
    assert heard["alice"] and set(heard["alice"]) == {uri}
    assert heard["bob"] == []


@pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed")  # the 2025-11-25 API, on purpose
async def test_a_legacy_sse_subscriber_hears_only_their_own_jobs(host, issuer):
    """The same over legacy SSE with a token (issue 20 with issue 21 §1.3): a resources/subscribe belongs to its
    caller and session; bob subscribing to alice's job hears nothing of it, alice hears its change."""
    heard: dict[str, list[str]] = {"alice": [], "bob": []}

    def sse_as(user: str) -> Client:
        async def messages(message) -> None:
            if isinstance(message, types.ResourceUpdatedNotification):
                heard[user].append(str(message.params.uri))

        headers = {"Authorization": f"Bearer {token(host, issuer, user)}"}
        return Client(sse_client(f"{mcp_url(host)}/sse", headers=headers), mode="legacy", message_handler=messages)

    async with sse_as("alice") as alice, sse_as("bob") as bob:
        trip = await call(alice, "plan_trip", request="Two days in Utrecht")
        trip = await wait_until(alice, trip["job_id"], statuses=("waiting_for_input",))
        uri = f"job://{trip['job_id']}"
        await bob.subscribe_resource(uri)
        await alice.subscribe_resource(uri)
        await alice_decides(alice, trip["job_id"], heard)
        await asyncio.sleep(3)  # bob's watcher, reading every second, had its chances to hear it too
    assert set(heard["alice"]) == {uri} and heard["bob"] == []


async def test_another_persons_sse_session_answers_as_an_unknown_one(host, issuer):
    """A legacy SSE session belongs to the person whose stream began it (the same for everything a session holds,
    issue 21 §1.3): bob posting to alice's session, whose id he somehow learned, gets exactly the answer for a
    session that does not exist, and nothing reaches alice's stream. (It was taken: a request of his was answered
    on her stream, and a wait_for_job of his could ask her a question there.)"""
    sessions: list[str] = []
    url = f"{mcp_url(host)}/sse"
    alice_headers = {"Authorization": f"Bearer {token(host, issuer, 'alice')}"}
    async with Client(sse_client(url, headers=alice_headers, on_session_created=sessions.append),
                      mode="legacy") as alice:
        [session_id] = sessions
        message = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                   "params": {"name": "list_jobs", "arguments": {}}}
        bob = {"Authorization": f"Bearer {token(host, issuer, 'bob')}"}
        theirs, unknown = (httpx.post(f"{mcp_url(host)}/message", params={"session_id": name}, json=message,
                                      headers=bob, timeout=30) for name in (session_id, uuid.uuid4().hex))
        mine = httpx.post(f"{mcp_url(host)}/message", params={"session_id": session_id}, json=message,
                          headers=alice_headers, timeout=30)
        assert (await alice.list_tools()).tools  # her session works on
    assert (theirs.status_code, theirs.text) == (unknown.status_code, unknown.text) == (404, theirs.text), theirs.text
    assert mine.status_code == 202, mine.text


async def test_another_persons_streamable_http_session_answers_as_an_unknown_one(host, issuer):
    """The same for a Streamable HTTP client that keeps its Mcp-Session-Id (the session that lets the host ask
    it for input, issue 21 §3): bob naming alice's session is answered as a session id this host never issued
    (it was taken as hers: his answer could have reached a question put to her)."""
    def post(user: str, message: dict, session: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token(host, issuer, user)}", "MCP-Protocol-Version": "2025-11-25",
                   "Accept": "application/json, text/event-stream", **({"Mcp-Session-Id": session} if session else {})}
        return httpx.post(mcp_url(host), json=message, headers=headers, timeout=30)

    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {"elicitation": {}},
        "clientInfo": {"name": "alice's editor", "version": "1"}}}
    session = post("alice", initialize).headers["mcp-session-id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    never_issued = "bm90LWlzc3VlZA"  # base64 of "not-issued"
    mine, theirs = post("alice", listing, session), post("bob", listing, session)
    unknown = post("bob", listing, never_issued)
    assert mine.status_code == 200, mine.text
    assert (theirs.status_code, theirs.text) == (unknown.status_code, unknown.text), theirs.status_code
    assert theirs.status_code == 400 and "Invalid client state" in theirs.text


def view(host, issuer, user: str, path: str, method: str = "GET", **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token(host, issuer, user)}", "x-functions-key": FUNCTION_KEY}
    return httpx.request(method, f"{host.base_url}/api/{path}", headers=headers, json=body or None, timeout=60)


async def test_the_job_view_and_the_http_starter_are_each_persons_own(host, issuer, alices):
    trip_id = alices["trip"]["job_id"]
    unknown = unknown_like(trip_id)
    listed = view(host, issuer, "bob", "job-view/jobs?limit=100").json()["jobs"]
    assert trip_id not in {job["job_id"] for job in listed}
    answer = {"event": "approval", "data": {"approved": True}}
    for suffix, method, body in (("", "GET", {}), ("/cancel", "POST", {}), ("/retry", "POST", {}),
                                 ("/input", "POST", answer)):
        theirs = view(host, issuer, "bob", f"job-view/jobs/{trip_id}{suffix}", method, **body)
        none = view(host, issuer, "bob", f"job-view/jobs/{unknown}{suffix}", method, **body)
        assert theirs.status_code == none.status_code == 404, suffix
        same_answer(theirs.json()["error"], trip_id, none.json()["error"], unknown)
    assert view(host, issuer, "alice", f"job-view/jobs/{trip_id}").json()["job"]["status"] == "waiting_for_input"
    started = view(host, issuer, "bob", "jobs/run_agent", "POST", task="Say hello")
    assert started.status_code == 202 and "code=" not in started.text  # the system key stays the operator's
    bobs = started.json()["id"]
    assert view(host, issuer, "bob", f"job-view/jobs/{bobs}").status_code == 200
    assert view(host, issuer, "alice", f"job-view/jobs/{bobs}").status_code == 404


async def test_a_code_swarms_workspace_is_its_owners(host, issuer, model):
    model.reset()
    model.script(todo.SCRIPT)
    async with as_user(host, issuer, "alice") as alice:
        job = await call(alice, "run_code_swarm", goal="A todo CLI with tests", max_workers=3)
        job = await wait_until(alice, job["job_id"], timeout=600)
        assert job["status"] == "completed", job
        files = json.loads((await alice.read_resource(f"workspace://{job['job_id']}/files")).contents[0].text)
    job_id = job["job_id"]
    unknown = unknown_like(job_id)
    assert view(host, issuer, "alice", f"workspaces/{job_id}/zip").status_code == 200
    for kind in ("zip", "bundle"):
        theirs, none = (view(host, issuer, "bob", f"workspaces/{name}/{kind}") for name in (job_id, unknown))
        assert theirs.status_code == none.status_code == 404
        same_answer(theirs.json()["error"], job_id, none.json()["error"], unknown)
    path = quote(files["files"][0]["path"], safe="")
    async with as_user(host, issuer, "bob") as bob:
        for uri in ("workspace://{}/files", "workspace://{}/file/" + path):
            errors = []
            for name in (job_id, unknown):
                with pytest.raises(MCPError) as raised:
                    await bob.read_resource(uri.format(name))
                errors.append(raised.value.error.message)
            same_answer(errors[0], job_id, errors[1], unknown)
        same_answer(await call_error(bob, "run_code_swarm", goal="More", base=job_id), job_id,
                    await call_error(bob, "run_code_swarm", goal="More", base=unknown), unknown)
    model.reset()
    model.script(load_script("demo"))


async def test_the_typescript_client_connects_with_a_token(host, issuer, alices):
    process = await asyncio.create_subprocess_exec(
        "node", str(NODE_CLIENT), mcp_url(host), token(host, issuer, "bob"), alices["trip"]["job_id"],
        cwd=PROJECT_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    with anyio.fail_after(120):
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    events = {event["type"]: event for event in map(json.loads, stdout.decode().splitlines())}
    assert events["get_job"]["isError"] is True
    assert events["get_job"]["text"].startswith(f"Unknown job '{alices['trip']['job_id']}'")
    assert alices["trip"]["job_id"] not in events["list_jobs"]["job_ids"]
    started = events["run_agent"]["job_id"]
    async with as_user(host, issuer, "bob") as bob:
        assert (await call(bob, "get_job", job_id=started))["workflow"] == "run_agent"
