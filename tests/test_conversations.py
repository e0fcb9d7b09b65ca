"""Durable conversations (issue 18 §2): a `run_agent` job continues a finished one (`continue_from`), with
the whole earlier exchange before its task: after a host restart, in the other replay mode, from a job that
failed or was canceled (from what it has), and a follow-up of a follow-up. The official MCP client drives
the real host; the model is the scripted fake server, which checks what the agent was given."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest

from testing.host_process import project_host
from testing.mcp_client import call, call_error, connect, wait_until
from tests.test_agent_jobs import AGENT

pytestmark = pytest.mark.job("run_agent")  # make test-job JOB=run_agent


def said(request) -> str:
    """Everything a model request holds, as one text (messages, tool calls, tool results)."""
    return json.dumps(request.body.get("input") or request.body.get("messages"), ensure_ascii=False)


def remembers(*facts: str, answer: str):
    """A turn that answers `answer` when the request holds every fact, else says what it missed."""
    def turn(request):
        missing = [fact for fact in facts if fact not in said(request)]
        return {"text": answer if not missing else f"I do not know: missing {missing}"}
    return turn


async def test_a_follow_up_continues_the_conversation_after_a_restart_in_the_other_mode(tmp_path, model, site):
    model.reset()
    model.script({AGENT: [
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]},
        {"text": "Noted, Ada: your number is 42."},
        remembers("My name is Ada", "42", "Noted, Ada", "What is my name?", answer="You are Ada; the number is 42."),
        remembers("My name is Ada", "You are Ada", "And my number?", answer="Still 42."),
    ]})
    host = project_host(tmp_path / "state", model, site, replay="kept").start()
    try:
        async with connect(host) as client:
            first = await call(client, "run_agent", task="My name is Ada. Compute my number, 6*7.",
                               tools=["calculate"])
            first = await wait_until(client, first["job_id"])
        assert first["status"] == "completed" and "continued" not in first["output"], first
    finally:
        host.kill()
    host = project_host(tmp_path / "state", model, site, replay="azure").start()
    try:
        async with connect(host) as client:
            second = await call(client, "run_agent", task="What is my name?", continue_from=first["job_id"])
            second = await wait_until(client, second["job_id"])
            third = await call(client, "run_agent", task="And my number?", continue_from=second["job_id"])
            third = await wait_until(client, third["job_id"])
    finally:
        host.stop()
    assert second["output"]["final_output"] == "You are Ada; the number is 42.", second
    assert third["output"]["final_output"] == "Still 42.", third
    # it says how long the context is: task, tool call, its result, answer (4 items), then the new task
    assert second["output"]["continued"].startswith(f"the conversation of job {first['job_id']}: 4 items, ")
    assert "tokens)" in second["output"]["continued"]
    assert third["output"]["continued"].startswith(f"the conversation of job {second['job_id']}: 6 items, ")
    follow_up = model.stats().bodies(AGENT)[2]["input"]
    assert follow_up[0]["content"].startswith("My name is Ada") and follow_up[-1]["content"] == "What is my name?"
    assert sum(1 for item in follow_up if item.get("role") == "user") == 2  # the earlier task is not repeated


async def test_a_failed_or_canceled_job_is_continued_from_what_it_has(host, model, site):
    answering = threading.Event()
    release = threading.Event()

    def fail_after_tool(request):
        model.fail_next(AGENT, status=400)  # the job's next model call is refused for good: the job fails
        return {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]}

    def slow_model(request):  # the model is still answering when the job is canceled
        answering.set()
        release.wait(30)
        return {"text": "too late"}

    model.reset()
    model.script({AGENT: [
        fail_after_tool,
        remembers("Compute 6*7", "42", "What did you get?", answer="I got 42 before it failed."),
        {"tool_calls": [{"name": "fetch_url", "arguments": {"url": f"{site.base}/page-for-ada"}}]},
        slow_model,
        remembers("Read the page", "page /page-for-ada", "What did the page say?", answer="It was Ada's page."),
    ]})
    async with connect(host) as client:
        failed = await wait_until(client, (await call(client, "run_agent", task="Compute 6*7",
                                                      tools=["calculate"]))["job_id"])
        assert failed["status"] == "failed", failed
        after_failure = await wait_until(client, (await call(
            client, "run_agent", task="What did you get?", continue_from=failed["job_id"]))["job_id"])
        assert after_failure["output"]["final_output"] == "I got 42 before it failed.", after_failure

        reading = await call(client, "run_agent", task="Read the page", tools=["fetch_url"])
        deadline = time.monotonic() + 60
        while not answering.is_set():
            assert time.monotonic() < deadline, "the job never asked the model about the page"
            await asyncio.sleep(0.05)
        assert "still running" in await call_error(client, "run_agent", task="Too early",
                                                   continue_from=reading["job_id"])
        canceled = await call(client, "cancel_job", job_id=reading["job_id"], reason="enough")
        release.set()
        assert canceled["status"] == "canceled", canceled
        after_cancel = await wait_until(client, (await call(
            client, "run_agent", task="What did the page say?", continue_from=reading["job_id"]))["job_id"])
    assert after_cancel["output"]["final_output"] == "It was Ada's page.", after_cancel
    assert after_cancel["output"]["continued"].startswith(f"the conversation of job {reading['job_id']}: 3 items")


async def test_the_http_starter_continues_a_conversation_too(host, model):
    model.reset()
    model.script({AGENT: [{"text": "Noted: the code word is heron."},
                          remembers("the code word is heron", "Which code word?", answer="heron")]})
    url = f"{host.base_url}/api/jobs/run_agent"
    headers = {"x-functions-key": host.env["FUNCTIONS_DEFAULT_KEY"]}
    async with connect(host) as client:
        first = await wait_until(client, (await call(client, "run_agent", task="Remember: code word heron."))["job_id"])
        unknown = httpx.post(url, headers=headers, json={"task": "Which code word?", "continue_from": "0123456789abcdef"})
        started = httpx.post(url, headers=headers, json={"task": "Which code word?", "continue_from": first["job_id"]})
        assert started.status_code == 202, started.text
        done = await wait_until(client, started.json()["id"])
    assert unknown.status_code == 400 and unknown.json()["error"].startswith("Unknown job '0123456789abcdef'"), unknown.text
    assert done["output"]["final_output"] == "heron", done


async def test_continue_from_refuses_what_it_cannot_continue(host, model):
    model.reset()
    async with connect(host) as client:
        unknown = await call_error(client, "run_agent", task="Go on", continue_from="0123456789abcdef")
        assert unknown.startswith("Unknown job '0123456789abcdef': no job has that id"), unknown
        trip = await call(client, "plan_trip", request="Two days in Delft")
        refused = await call_error(client, "run_agent", task="Go on", continue_from=trip["job_id"])
        await call(client, "cancel_job", job_id=trip["job_id"], reason="test done")
        assert refused == ("Argument 'continue_from' names a job of plan_trip, which keeps no conversation. "
                           "Allowed: a job of run_agent."), refused
        assert "Argument 'continue_from' is" in await call_error(client, "run_agent", task="Go on",
                                                                 continue_from="../etc/passwd")
    assert model.stats().by_agent.get(AGENT, 0) == 0
