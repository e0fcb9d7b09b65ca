"""Jobs a model can drive on its own (issue 21 §4), against the real host: a scripted client model
(testing/client_model.py) that reads only the text of each tool result and makes the call it names, with no call
sequence of its own, takes a launched job to its result, an approval through to a booking, and a failed job
through retry_job. A small real model in the client's seat read "pending" and stopped; each result now says what
to do next. Each run prints how many calls it took."""
from __future__ import annotations

from testing.client_model import follow
from testing.fake_model_server import load_script
from testing.mcp_client import connect

AGENT = "fake-model"


def computing() -> dict:
    return {AGENT: [
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "(2+3)*7"}}]},
        lambda request: {"text": f"The number is {request.tool_outputs()[-1]}."},
    ]}


async def test_a_launched_job_to_its_result(host, model):
    """'Use run_agent to compute (2+3)*7, wait for the job and tell me the number.'"""
    model.reset()
    model.script(computing())
    async with connect(host) as client:
        run = await follow(client, "run_agent", {"task": "Compute (2+3)*7", "tools": ["calculate"]})
    print(f"\nrun_agent to its result: {len(run.calls)} calls: {[name for name, _ in run.calls]}")
    assert run.last["status"] == "completed" and run.last["output"]["final_output"] == "The number is 35.", run.calls
    assert [name for name, _ in run.calls][:2] == ["run_agent", "wait_for_job"]


async def test_an_approval_through_to_a_booking(host, model):
    """'Plan me a weekend in Lyon and book it if it looks fine': the results lead from the launch to waiting, to
    the approval (the model decides the one value the person gave: approved), to the booking."""
    model.reset()
    model.script(load_script("demo"))
    async with connect(host) as client:
        run = await follow(client, "plan_trip", {"request": "A weekend in Lyon"}, decisions={"approved": True})
    names = [name for name, _ in run.calls]
    print(f"\nplan_trip to a booking: {len(run.calls)} calls: {names}")
    assert run.last["status"] == "completed", run.calls
    assert run.last["output"]["booking"]["reference"].startswith("TRIP-"), run.last
    [(_, answer)] = [call for call in run.calls if call[0] == "send_job_input"]
    assert answer["event"] == "approval" and answer["data"] == {"approved": True}


async def test_a_failed_job_through_retry_job(host, model):
    """A job that failed on a model error says what retry_job does; the client model follows it to the result."""
    model.reset()
    model.script(computing())
    model.fail_next(AGENT, 401, count=1)
    async with connect(host) as client:
        run = await follow(client, "run_agent", {"task": "Compute (2+3)*7", "tools": ["calculate"]})
    names = [name for name, _ in run.calls]
    print(f"\nrun_agent through a failure: {len(run.calls)} calls: {names}")
    assert "retry_job" in names and run.last["status"] == "completed", run.calls
    assert run.last["output"]["final_output"] == "The number is 35."
