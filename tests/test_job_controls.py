"""The job tools that say they are idempotent (`idempotentHint`: retry_job, cancel_job) stay so when calls race
(issue 21 §1.4's kind: a check-then-act through the Durable client, which cannot lock). A client that repeats a
call whose answer it lost may send the repeat while the first is still in flight; each call answers with the job's
status, and the job is retried or canceled once. Against the real host, over MCP."""
from __future__ import annotations

import asyncio

from testing.agent_runs import calculator_turns
from testing.fake_model_server import load_script
from testing.mcp_client import call, connect, wait_until

AGENT = "fake-model"
CALLS = 4


async def test_racing_retries_of_a_failed_job_all_answer_and_retry_it_once(host, model):
    model.reset()
    model.script({AGENT: calculator_turns()})
    model.fail_next(AGENT, 401, count=1)
    async with connect(host) as client:
        job = await call(client, "run_agent", task="Compute (2+3)*7", tools=["calculate"])
        assert (await wait_until(client, job["job_id"]))["status"] == "failed"
        results = await asyncio.gather(*(client.call_tool("retry_job", {"job_id": job["job_id"]})
                                         for _ in range(CALLS)))
        done = await wait_until(client, job["job_id"])
    errors = [result.content[0].text for result in results if result.is_error]
    assert errors == [], errors
    assert {result.structured_content["job_id"] for result in results} == {job["job_id"]}
    assert done["status"] == "completed" and done["output"]["final_output"] == "The answer is 35."
    assert model.stats().by_agent[AGENT] == 1 + len(calculator_turns()), "the failed step ran once more, not more"


async def test_racing_cancels_of_a_live_job_all_answer_canceled(host, model):
    model.reset()
    model.script(load_script("demo"))
    async with connect(host) as client:
        job = await call(client, "plan_trip", request="Two days in Antwerp")
        await wait_until(client, job["job_id"], statuses=("waiting_for_input",))
        results = await asyncio.gather(*(client.call_tool("cancel_job", {"job_id": job["job_id"]})
                                         for _ in range(CALLS)))
    errors = [result.content[0].text for result in results if result.is_error]
    assert errors == [], errors
    assert {result.structured_content["status"] for result in results} == {"canceled"}
