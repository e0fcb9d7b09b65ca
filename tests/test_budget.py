"""Budgets (issue 19 §2): a job whose budget is reached asks whether to raise it or stop, loses nothing either
way, and goes on from the next model call; through send_job_input, elicitation and list_jobs, on the real
host with the scripted model server."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from orchestrations.usage.budget import decision, job_budget, schema, verdict
from testing.host_process import project_host
from testing.mcp_client import call, call_error, connect, wait_until
from testing.swarm_turns import PASSING, done, plan_turn, two_parts

WAITING = ("waiting_for_input", "completed", "failed", "canceled")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def step(instance: str, agent: str, tokens: int, calls: int = 1, **custom) -> dict:
    usage = {"input_tokens": tokens, "cached_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0,
             "model_calls": calls, "agent": agent}
    return {"instanceId": instance, "runtimeStatus": "Running", "customStatus": {"usage": usage, **custom}}


# ---------------------------------------------------------------------------------------------
# The rules (deterministic)


def test_a_launch_takes_the_servers_default_and_maximum():
    assert job_budget(None, {}, {}) is None
    assert job_budget({"cost": 1.5}, {"tokens": 1000}, {}) == {"limit": {"tokens": 1000, "cost": 1.5}}
    assert job_budget(None, {}, {"minutes": 30}) == {"limit": {"minutes": 30}, "max": {"minutes": 30}}
    with pytest.raises(ValueError, match="asks for 5,000 tokens; this server allows at most 4,000 tokens"):
        job_budget({"tokens": 5000}, {}, {"tokens": 4000})


def test_the_verdict_sums_every_step_and_takes_raises_and_stops_from_any_of_them():
    budget = {"limit": {"tokens": 100, "minutes": 10}}
    statuses = [step("job", "planner", 40), step("job:worker-1-a", "worker-1", 30),
                step("job:worker-2-b", "worker-2", 20)]
    under = verdict(budget, statuses, START, START + timedelta(minutes=1))
    assert under["reached"] is None and under["spent"]["tokens"] == 90 and under["spent"]["model_calls"] == 3
    assert [agent["agent"] for agent in under["agents"]] == ["planner", "worker-1", "worker-2"]
    over = verdict(budget, [*statuses, step("job:worker-3-c", "worker-3", 10)], START, START)
    assert over["reached"] == "tokens"
    raised = [*statuses, step("job:worker-3-c", "worker-3", 10, budget={"limit": {"tokens": 500}})]
    assert verdict(budget, raised, START, START)["reached"] is None
    assert verdict(budget, statuses, START, START + timedelta(minutes=11))["reached"] == "minutes"
    stopped = [*statuses, step("job:worker-3-c", "worker-3", 1, budget={"stopped": True})]
    assert verdict(budget, stopped, START, START)["stopped"] is True


def test_an_answer_raises_stops_or_is_asked_again_with_the_reason():
    reached = verdict({"limit": {"tokens": 100}, "max": {"tokens": 1000}}, [step("job", "a", 120)], START, START)
    spent = reached["spent"]
    assert decision(reached, {"action": "stop"}, spent) == ({"action": "stop"}, "")
    assert decision(reached, {"action": "raise", "new_budget": 500}, spent)[0]["limit"] == {"tokens": 500}
    assert decision(reached, {"action": "raise"}, spent)[0]["limit"] == {"tokens": 220}  # as much again
    assert "above what was spent (120)" in decision(reached, {"action": "raise", "new_budget": 110}, spent)[1]
    assert "at most 1000" in decision(reached, {"action": "raise", "new_budget": 5000}, spent)[1]
    assert decision(reached, {"action": "maybe"}, spent)[0] is None
    form = schema(reached)
    assert form["properties"]["action"]["enum"] == ["raise", "stop"] and form["required"] == ["action"]
    assert form["properties"]["new_budget"]["type"] == "integer" and form["properties"]["new_budget"]["maximum"] == 1000


# ---------------------------------------------------------------------------------------------
# Through MCP


async def test_bad_budgets_are_refused_at_launch(host):
    async with connect(host) as client:
        assert "Argument 'budget' is not usable: the budget: tokens must be a whole number" in await call_error(
            client, "run_agent", task="x", budget={"tokens": 0.5})
        assert "unknown fields ['dollars']" in await call_error(client, "run_swarm", goal="x", budget={"dollars": 1})


async def answer_every_question(client, job_id: str, data: dict) -> tuple[dict, list, dict]:
    """Answer `data` to each input request of the job until it ends: (its last status, the requests, the
    list_jobs page of waiting swarms read while the first request was open)."""
    asks: list = []
    listed: dict = {}
    while True:
        waiting = await wait_until(client, job_id, WAITING)
        if waiting["status"] != "waiting_for_input":
            return waiting, asks, listed
        asks.append(waiting["input_request"])
        if len(asks) == 1:
            listed = await call(client, "list_jobs", status="waiting_for_input", workflow="run_swarm")
        await call(client, "send_job_input", job_id=job_id, event=asks[-1]["event"], data=data)


async def test_a_swarm_over_its_budget_asks_is_raised_and_completes_without_repeating_a_call(host, model):
    """A budget of one token: the planner's call is made (nothing was spent yet), each worker's first call is
    held back; the workers ask (shown as the job's request), the answer raises the budget, and the workers go
    on from the call that was held back: every call is made once, none twice."""
    model.reset()
    model.script(two_parts([done("part one")], [done("part two")]))
    async with connect(host) as client:
        job = await call(client, "run_swarm", goal="Write two parts", budget={"tokens": 1})
        waiting, asks, listed = await answer_every_question(client, job["job_id"],
                                                            {"action": "raise", "new_budget": 1_000_000})
    assert job["job_id"] in [item["job_id"] for item in listed["jobs"]]
    assert waiting["status"] == "completed", waiting
    assert 1 <= len(asks) <= 2, asks  # each worker's call may have been held before the first answer
    first = asks[0]
    assert first["event"] == "budget" and first["schema"]["properties"]["action"]["enum"] == ["raise", "stop"]
    assert "reached its tokens budget" in first["prompt"] and "of 1 tokens" in first["prompt"]
    assert "swarm-planner" in first["details"]["on what"]
    stats = model.stats()
    assert stats.by_agent == {"swarm-planner": 1, "swarm-worker-1": 1, "swarm-worker-2": 1, "swarm-judge": 1}
    assert stats.usage(repeated=True) == stats.usage()  # no call was made twice
    assert waiting["usage"]["model_calls"] == 4 and waiting["output"]["gaps"] == []


async def test_stopping_a_swarm_at_its_budget_completes_it_with_its_gaps(host, model):
    model.reset()
    model.script(two_parts([done("never served")], [done("never served")]))
    async with connect(host) as client:
        job = await call(client, "run_swarm", goal="Write two parts", budget={"tokens": 1})
        waiting, _, _ = await answer_every_question(client, job["job_id"], {"action": "stop"})
    assert waiting["status"] == "completed", waiting
    out = waiting["output"]
    assert [gap["task_id"] for gap in out["gaps"]] == ["1", "2"] and out["passed"] is False
    assert all("the job's budget was reached and the job was stopped" in gap["reason"] for gap in out["gaps"])
    assert model.stats().by_agent == {"swarm-planner": 1}  # no held-back call was made
    assert waiting["usage"]["model_calls"] == 1


async def test_a_trip_over_its_budget_is_raised_through_elicitation(tmp_path, model, site):
    """The job itself asks (its agents are its steps); the person answers in an elicitation form, for the
    budget and then for the approval; the job books the trip."""
    from tests.test_mcp_native import answering, modern_client, waited

    model.reset()
    model.script({name: [{"text": f"{name} says yes"}] for name in ("trip-destinations", "trip-itinerary",
                                                                   "trip-local")})
    asked: list = []

    async def elicit(context, params):
        asked.append(params)
        content = {"action": "raise", "new_budget": 1_000_000} if "budget" in params.message else {"approved": True}
        return await answering("accept", content)(context, params)

    host = project_host(tmp_path / "state", model, site, APP_DATA_DIR=str(tmp_path / "appdata"),
                        BUDGET_DEFAULT=json.dumps({"tokens": 1}))
    host.start()
    try:
        async with modern_client(host, elicitation_callback=elicit) as client:
            job = (await client.call_tool("plan_trip", {"request": "A weekend in Ghent"})).structured_content
            finished = (await waited(client, job["job_id"])).structured_content
    finally:
        host.stop()
    assert finished["status"] == "completed" and finished["output"]["booking"], finished
    assert "reached its tokens budget" in asked[0].message and asked[0].requested_schema["properties"]["action"]
    assert "Approve the proposed trip" in asked[-1].message
    assert model.stats().by_agent == {"trip-destinations": 1, "trip-itinerary": 1, "trip-local": 1}
    assert model.stats().usage(repeated=True) == model.stats().usage()


async def test_the_job_view_shows_the_budget_question_and_raises_it(tmp_path, model, site, browser):
    """The budget's input request in the job view: what was spent and on what, a form from its schema
    (action, new_budget); Send raises it and the job goes on; the page shows the usage."""
    model.reset()
    model.script({name: [{"text": f"{name} says yes"}] for name in ("trip-destinations", "trip-itinerary",
                                                                   "trip-local")})
    host = project_host(tmp_path / "state", model, site, APP_DATA_DIR=str(tmp_path / "appdata"))
    host.start()
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    try:
        await page.goto(f"{host.base_url}/api/job-view#code={host.env['FUNCTIONS_DEFAULT_KEY']}")
        async with connect(host) as client:
            job = await call(client, "plan_trip", request="A day in Leuven", budget={"tokens": 1})
            await wait_until(client, job["job_id"], WAITING)
            await page.evaluate("id => { location.hash = '#/jobs/' + id; }", job["job_id"])
            await page.wait_for_selector("#input-request:not([hidden]) select[name='action']", timeout=60_000)
            assert "reached its tokens budget" in await page.locator("#input-prompt").inner_text()
            assert "trip-destinations" in await page.locator("#input-details").inner_text()
            await page.fill("#input-form input[name='new_budget']", "1000000")
            await page.click("#input-form button[data-action='send']")
            await page.wait_for_selector("#input-request:not([hidden]) button[data-action='approve']", timeout=60_000)
            usage = await page.locator("#usage-total").inner_text()
            waiting = await call(client, "get_job", job_id=job["job_id"])
    finally:
        await context.close()
        host.stop()
    assert waiting["input_request"]["event"] == "approval", waiting
    assert f"{waiting['usage']['model_calls']} calls" in usage and "in" in usage
    assert model.stats().by_agent == {"trip-destinations": 1, "trip-itinerary": 1, "trip-local": 1}


async def test_mcp_tasks_show_the_budget_question_as_input_required_and_take_the_answer(host, model):
    """A swarm launched as a task (2026-07-28 tasks extension): tasks/get shows input_required with the
    budget form while its workers ask; tasks/update raises the budget; the task's result carries the usage."""
    from tests.test_mcp_native import JobTasks, modern_client

    class BudgetTasks(JobTasks):
        async def request(self, session, method, params):
            if method == "tasks/update":
                params = {**params, "inputResponses": {key: {**answer, "content": {"action": "raise",
                                                                                    "new_budget": 1_000_000}}
                                                       for key, answer in params["inputResponses"].items()}}
            return await super().request(session, method, params)

    model.reset()
    model.script({
        "swarm-planner": [plan_turn([{"id": 1, "title": "One", "instructions": "Write one."}])],
        "swarm-worker-1": [done("part one")],
        "swarm-judge": [PASSING],
    })
    tasks = BudgetTasks({})
    async with modern_client(host, extensions=[tasks]) as client:
        result = await client.call_tool("run_swarm", {"goal": "Write one part", "budget": {"tokens": 1}})
    created, *polled = tasks.seen
    asked = next(task for task in polled if task["status"] == "input_required")["inputRequests"]
    [request] = asked.values()
    assert "reached its tokens budget" in request["params"]["message"]
    assert request["params"]["requestedSchema"]["properties"]["action"]["enum"] == ["raise", "stop"]
    job = result.structured_content
    assert job["status"] == "completed" and job["usage"]["model_calls"] == 3, job
    assert model.stats().usage(repeated=True) == model.stats().usage()


async def test_an_agent_job_over_its_budget_asks_and_goes_on_from_the_held_back_call(host, model):
    """run_agent is one agent in the job's own orchestration: it asks there, and goes on in the same one."""
    model.reset()
    model.script({"fake-model": [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "2+3"}}]},
                                 lambda request: {"text": f"The answer is {request.tool_outputs()[-1]}."}]})
    async with connect(host) as client:
        job = await call(client, "run_agent", task="Compute 2+3", tools=["calculate"], budget={"tokens": 1})
        waiting = await wait_until(client, job["job_id"], WAITING)
        assert waiting["status"] == "waiting_for_input" and waiting["input_request"]["event"] == "budget", waiting
        await call(client, "send_job_input", job_id=job["job_id"], event="budget",
                   data={"action": "raise", "new_budget": 1_000_000})
        done = await wait_until(client, job["job_id"])
    assert done["status"] == "completed" and done["output"]["final_output"] == "The answer is 5.", done
    assert done["output"]["model_calls"] == 2 and done["usage"]["model_calls"] == 2
    assert model.stats().usage(repeated=True) == model.stats().usage() and model.stats().usage()["model_calls"] == 2
