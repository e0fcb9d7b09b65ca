"""Every tool's arguments are checked in one place and every error is worded one way (issue 9.1);
errors are tool results with isError that both hosts show (issue 8.12); results carry no key and
list items are light (issue 8.2); the app reuses one HTTP client (issue 9.7). Against the real host
with the official MCP client; the model is the scripted server."""
from __future__ import annotations

import base64
import json

import httpx
import pytest

from testing.mcp_client import call, call_error, connect, wait_until
from tools.arguments import Arg, ToolError, validate_arguments

AGENT = "fake-model"
JOB_ID_ALLOWED = "the job_id a launcher returned (letters, digits and : _ . -, at most 128 characters)"


def old_offset_cursor(token, skip) -> str:
    return base64.urlsafe_b64encode(json.dumps([token, skip]).encode()).decode()


@pytest.mark.parametrize("tool, arguments, message", [
    ("get_job", {}, f"Argument 'job_id' is missing. Allowed: {JOB_ID_ALLOWED}."),
    ("get_job", {"job_id": None}, f"Argument 'job_id' is missing. Allowed: {JOB_ID_ALLOWED}."),
    ("get_job", {"job_id": "../etc/passwd"}, f"Argument 'job_id' is \"../etc/passwd\". Allowed: {JOB_ID_ALLOWED}."),
    ("get_job", {"job_id": 12}, f"Argument 'job_id' is 12. Allowed: {JOB_ID_ALLOWED}."),
    ("get_job", {"jobid": "abc"}, "Argument 'jobid' is not an argument of get_job. Allowed: job_id."),
    ("wait_for_job", {"job_id": "abc", "timeout_seconds": "abc"},
     "Argument 'timeout_seconds' is \"abc\". Allowed: a whole number from 0 to 50 (default 25)."),
    ("wait_for_job", {"job_id": "abc", "timeout_seconds": 51},
     "Argument 'timeout_seconds' is 51. Allowed: a whole number from 0 to 50 (default 25)."),
    ("list_jobs", {"limit": 0}, "Argument 'limit' is 0. Allowed: a whole number from 1 to 100 (default 20)."),
    ("list_jobs", {"limit": 2.5}, "Argument 'limit' is 2.5. Allowed: a whole number from 1 to 100 (default 20)."),
    ("list_jobs", {"cursor": 5},
     "Argument 'cursor' is 5. Allowed: the next_cursor of the previous list_jobs page."),
    ("list_jobs", {"cursor": old_offset_cursor(None, -3)},
     "Argument 'cursor' is not a cursor list_jobs returned. Allowed: the next_cursor of the previous list_jobs page."),
    ("list_jobs", {"status": "sleeping"}, "Argument 'status' is \"sleeping\". Allowed: one of: pending, running, "
                                          "waiting_for_input, suspended, completed, failed, canceled."),
    ("send_job_input", {"job_id": "abc", "data": {}},
     "Argument 'event' is missing. Allowed: the event of the job's input_request."),
    ("send_job_input", {"job_id": "abc", "event": "no spaces!", "data": {}},
     "Argument 'event' is \"no spaces!\". Allowed: the event of the job's input_request."),
    ("send_job_input", {"job_id": "abc", "event": "approval"},
     "Argument 'data' is missing. Allowed: a JSON object, at most 65,536 bytes as JSON."),
    ("send_job_input", {"job_id": "abc", "event": "approval", "data": {"blob": "x" * 70000}},
     "Argument 'data' is 70,012 bytes as JSON. Allowed: a JSON object, at most 65,536 bytes as JSON."),
    ("cancel_job", {"job_id": "abc", "reason": ["why"]},
     "Argument 'reason' is [\"why\"]. Allowed: text of at most 1,000 characters."),
    ("run_agent", {"task": "   "},
     "Argument 'task' is blank (only whitespace). Allowed: text of at most 20,000 characters."),
    ("run_agent", {"task": ""}, "Argument 'task' is empty. Allowed: text of at most 20,000 characters."),
    ("run_swarm", {"goal": "x", "quality_threshold": 1e308},
     "Argument 'quality_threshold' is 1e+308. Allowed: a whole number from 0 to 100 (default 80)."),
    ("run_swarm", {"goal": "x", "quality_threshold": "99999999999999999999"},
     "Argument 'quality_threshold' is \"99999999999999999999\". Allowed: a whole number from 0 to 100 (default 80)."),
    ("send_job_input", {"job_id": "abc", "event": "approval", "data": "[true]"},
     "Argument 'data' is \"[true]\". Allowed: a JSON object, at most 65,536 bytes as JSON."),
    ("run_agent", {"task": "x", "tools": '["calculate", "rm_rf"]'},
     "Argument 'tools' contains \"rm_rf\". Allowed: a list of any of: fetch_url, calculate."),
    ("run_agent", {"task": "x" * 20001},
     "Argument 'task' has 20,001 characters. Allowed: text of at most 20,000 characters."),
    ("run_agent", {"task": "x", "tools": ["calculate", "rm_rf"]},
     "Argument 'tools' contains \"rm_rf\". Allowed: a list of any of: fetch_url, calculate."),
    ("run_swarm", {"goal": "x", "max_workers": 0},
     "Argument 'max_workers' is 0. Allowed: a whole number from 1 to 10 (default 5)."),
    ("run_swarm", {"goal": "x", "quality_threshold": 101},
     "Argument 'quality_threshold' is 101. Allowed: a whole number from 0 to 100 (default 80)."),
    ("plan_trip", {"request": "x", "approval_timeout_seconds": True},
     "Argument 'approval_timeout_seconds' is true. Allowed: a whole number from 1 to 2,592,000 (default 86400)."),
    ("plan_trip", {"request": "x", "idempotency_key": "k" * 201},
     "Argument 'idempotency_key' has 201 characters. Allowed: text of at most 200 characters."),
])
async def test_bad_arguments_are_tool_errors_that_say_what_is_allowed(host, tool, arguments, message):
    async with connect(host) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error and [c.text for c in result.content] == [message]


async def test_an_unknown_workflow_is_refused_naming_the_declared_ones(host):
    async with connect(host) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        result = await client.call_tool("list_jobs", {"workflow": "mine"})
    declared = tools["list_jobs"].input_schema["properties"]["workflow"]["enum"]  # the app's jobs (job_registry)
    assert "run_agent" in declared and "plan_trip" in declared
    assert result.is_error and [c.text for c in result.content] == [
        f"Argument 'workflow' is \"mine\". Allowed: one of: {', '.join(declared)}."]


async def test_required_arguments_are_not_declared_required_to_the_host(host):
    """Azure's extension answers a missing value of a declared-required argument with JSON-RPC -32602
    (ToolInputSchema.Validate) before the app sees it; the app reports it as a tool error instead."""
    async with connect(host) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert {"get_job", "wait_for_job", "list_jobs", "send_job_input", "cancel_job", "retry_job",
            "run_agent", "run_swarm", "plan_trip"} <= set(tools)
    for name, tool in tools.items():
        assert tool.input_schema["required"] == [], name
    assert tools["get_job"].input_schema["properties"]["job_id"]["description"].startswith("Required.")
    assert tools["list_jobs"].input_schema["properties"]["status"]["enum"][2] == "waiting_for_input"
    assert tools["run_agent"].input_schema["properties"]["tools"] == {
        "type": "array", "items": {"type": "string", "enum": ["fetch_url", "calculate"]},
        "description": "Built-in tools the agent may call."}


async def test_lenient_readings_numbers_as_text_and_lists_as_text(host, model):
    model.reset()
    model.script({AGENT: [{"text": "ok"}]})
    async with connect(host) as client:
        job = await call(client, "run_agent", task="x", tools="calculate, fetch_url, calculate")
        done = await call(client, "wait_for_job", job_id=job["job_id"], timeout_seconds="20")
        page = await call(client, "list_jobs", limit="1", status="", cursor="")
    assert done["job_id"] == job["job_id"] and len(page["jobs"]) == 1


async def test_job_errors_are_readable_tool_results(host):
    """The app answers with isError results (a CallToolResult), so its message reaches the user on
    Azure too, where a raised exception becomes "An error occurred invoking '<tool>'." (issue 8.12)."""
    async with connect(host) as client:
        unknown = await call_error(client, "get_job", job_id="0123456789abcdef")
        assert unknown == ("Unknown job '0123456789abcdef': no job has that id (it may have been purged). "
                           "Allowed: a job_id from a launcher or from list_jobs.")
        assert await call_error(client, "retry_job", job_id="0123456789abcdef") == unknown
        assert await call_error(client, "send_job_input", job_id="0123456789abcdef", event="approval",
                                data={}) == unknown


async def test_results_carry_no_key_and_list_items_are_light(host, model):
    model.reset()
    model.script({AGENT: [{"text": "light"}]})
    texts: list[str] = []
    async with connect(host) as client:
        for tool, arguments in [("run_agent", {"task": "x"})]:
            result = await client.call_tool(tool, arguments)
            texts.append(result.content[0].text)
        job = json.loads(texts[0])
        done = await wait_until(client, job["job_id"])
        texts.append(json.dumps(done))
        for tool, arguments in [("get_job", {"job_id": job["job_id"]}), ("list_jobs", {"limit": 100}),
                                ("cancel_job", {"job_id": job["job_id"]})]:
            texts.append((await client.call_tool(tool, arguments)).content[0].text)
    for text in texts:
        for key in host.env.values():
            if key.startswith("test-") and key.endswith("-key"):
                assert key not in text
        assert "code=" not in text
    assert set(done["links"]) == {"status_url", "send_event_url", "terminate_url", "rewind_url", "view_url"}
    listed = json.loads(texts[-2])["jobs"]
    assert listed and all(set(item) - {"usage"} == {"job_id", "workflow", "status", "next_step", "progress",
                                                    "created_at", "updated_at"} for item in listed)
    assert all(set(item.get("usage", {})) <= {"input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens",
                                              "model_calls", "cost", "currency", "cost_note"} for item in listed)
    # a person adds the management key to a link (README: "Poll a job over HTTP")
    response = httpx.get(done["links"]["status_url"], params={"code": host.durable_key})
    assert response.status_code == 200 and response.json()["runtimeStatus"] == "Completed"


def _time_wait_sockets_to(port: int) -> int:
    """TCP sockets in TIME_WAIT whose remote end is `port`: one per connection its client closed."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "06" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


async def test_list_jobs_reuses_one_http_client(host):
    """A new HTTP client per call opens and closes a connection to the management API each time
    (issue 9.7); the reused client keeps its connection open."""
    calls = 20
    async with connect(host) as client:
        await call(client, "list_jobs", limit=1)  # the first call may open the shared connection
        before = _time_wait_sockets_to(host.port)
        for _ in range(calls):
            await call(client, "list_jobs", limit=1)
        after = _time_wait_sockets_to(host.port)
    assert after - before < calls // 4, (before, after)


def test_validation_in_process():
    """The validator on its own: defaults, lists deduplicated, every problem in one wording."""
    args = [Arg("n", "integer", "a count", default=3, minimum=1, maximum=5),
            Arg("names", "array", "names", items="string", choices=("a", "b")),
            Arg("text", "string", "text", required=True, max_length=5)]
    assert validate_arguments("t", args, {"text": "hi"}) == {"n": 3, "names": None, "text": "hi"}
    assert validate_arguments("t", args, {"text": "hi", "n": "4", "names": "b, a, b"}) == {
        "n": 4, "names": ["b", "a"], "text": "hi"}
    # objects and lists as JSON text, alike for every object and array argument
    structured = [Arg("data", "object", "data"), Arg("names", "array", "names", items="string")]
    assert validate_arguments("t", structured, {"data": '{"approved": true}', "names": '["a", "b,c"]'}) == {
        "data": {"approved": True}, "names": ["a", "b,c"]}
    for supplied, message in [
        ({}, "Argument 'text' is missing. Allowed: text of at most 5 characters."),
        ({"text": "hi", "n": 4.5}, "Argument 'n' is 4.5. Allowed: a whole number from 1 to 5 (default 3)."),
        ({"text": "hi", "names": [1]}, "Argument 'names' contains 1. Allowed: a list of any of: a, b."),
        ({"text": "x" * 200}, "Argument 'text' has 200 characters. Allowed: text of at most 5 characters."),
    ]:
        with pytest.raises(ToolError) as error:
            validate_arguments("t", args, supplied)
        assert str(error.value) == message


async def _all_pages(client, cursor=None, **filters) -> list[str]:
    seen = []
    while True:
        page = await call(client, "list_jobs", **filters, **({"cursor": cursor} if cursor else {}))
        seen += [job["job_id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        if not cursor:
            return seen


async def test_list_jobs_cursor_stays_right_when_jobs_come_and_go(host, model):
    """The cursor names the last job returned, not a position: purging jobs of the first page and
    starting a new job between two pages neither skips nor repeats a job (issue 9.6)."""
    model.reset()
    model.script({AGENT: [{"text": "ok", "repeat": True}]})
    filters = {"workflow": "run_agent", "status": "completed", "limit": 2}
    async with connect(host) as client:
        for i in range(5):
            await wait_until(client, (await call(client, "run_agent", task=f"page {i}"))["job_id"])
        everything = await _all_pages(client, **filters)
        assert len(everything) == len(set(everything)) >= 5
        first = await call(client, "list_jobs", **filters)
        assert [job["job_id"] for job in first["jobs"]] == everything[:2]
        for job in first["jobs"]:
            purged = httpx.delete(f"{host.base_url}/runtime/webhooks/durabletask/instances/{job['job_id']}",
                                  params={"code": host.durable_key})
            assert purged.status_code == 200, purged.text
        newcomer = (await call(client, "run_agent", task="late"))["job_id"]
        await wait_until(client, newcomer)
        rest = await _all_pages(client, **filters, cursor=first["next_cursor"])
    assert [job_id for job_id in rest if job_id != newcomer] == everything[2:]
    assert rest.count(newcomer) == 1
