"""What a job's model calls used and cost (issue 19): recorded with each call in the Durable history, summed
per agent and per job in the status object, list_jobs, the step timeline and the HTTP status, and checked
against what the scripted model server itself reported."""
from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from orchestrations.usage.ledger import OTHER_AGENTS, add_call, bounded, call_record, cost_note, empty, merge, roll_up
from orchestrations.usage.prices import Price, cost, load_prices, price_for
from testing.agent_runs import calculator_turns
from testing.host_process import project_host
from testing.mcp_client import call, connect, wait_until
from testing.swarm_turns import compute_and_write, done

AGENT = "fake-model"  # run_agent's scripts are keyed by model name
PRICE = {"input": 2.0, "cached_input": 0.5, "output": 8.0, "currency": "EUR"}


async def calculator_job(host, model) -> tuple[dict, dict]:
    """A run_agent job of the calculator's three turns, to its end: (its status, what the server reported)."""
    model.reset()
    model.script({AGENT: calculator_turns()})
    async with connect(host) as client:
        job = await call(client, "run_agent", task="Compute (2+3)*7", tools=["calculate"])
        finished = await wait_until(client, job["job_id"])
    return finished, model.stats().usage(AGENT)


def expected_cost(usage: dict) -> float:
    return ((usage["input_tokens"] - usage["cached_tokens"]) * PRICE["input"] + usage["cached_tokens"]
            * PRICE["cached_input"] + usage["output_tokens"] * PRICE["output"]) / 1_000_000


def tokens(usage: dict) -> dict:
    return {name: usage[name] for name in ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens",
                                           "model_calls")}


@pytest.fixture(scope="module")
def priced_chat_host(tmp_path_factory, model, site):
    """The app in Chat Completions mode, with a price for the scripted model."""
    process = project_host(tmp_path_factory.mktemp("usage-chat"), model, site, OPENAI_API_MODE="chat_completions",
                           MODEL_PRICES=json.dumps({AGENT: PRICE})).start()
    yield process
    process.stop()


# ---------------------------------------------------------------------------------------------
# Records, sums and prices (the deterministic part)


def test_a_call_record_reads_both_apis_usage_as_the_agents_sdk_normalises_it():
    record = call_record("gpt-4.1-mini-2025-04-14", {
        "requests": 1, "input_tokens": 1000, "output_tokens": 300, "total_tokens": 1300,
        "input_tokens_details": {"cached_tokens": 400}, "output_tokens_details": {"reasoning_tokens": 120}})
    assert record == {"model": "gpt-4.1-mini-2025-04-14", "input_tokens": 1000, "cached_tokens": 400,
                      "output_tokens": 300, "reasoning_tokens": 120, "currency": "USD",
                      "cost": round((600 * 0.40 + 400 * 0.10 + 300 * 1.60) / 1e6, 8)}
    assert call_record(None, None) == {"model": "unknown", "input_tokens": 0, "cached_tokens": 0,
                                       "output_tokens": 0, "reasoning_tokens": 0}


def test_prices_from_the_setting_override_the_defaults_and_bad_settings_are_named():
    table, problem = load_prices(json.dumps({"My-Deployment": {"input": 1, "output": 2}}))
    assert problem is None and price_for("my-deployment", table) == Price(1.0, 1.0, 2.0, "USD")
    assert price_for("gpt-4.1-mini-2025-04-14", table) is table["gpt-4.1-mini"]  # longest prefix
    assert price_for("llama3.2", table) is None
    for raw, words in (("[1]", "JSON object"), ('{"m": {"input": -1, "output": 1}}', "at least 0"),
                       ('{"m": {"input": 1, "output": 1, "discount": 2}}', "unknown fields"), ("{", "Expecting")):
        table, problem = load_prices(raw)
        assert problem.startswith("MODEL_PRICES is not used") and words in problem, problem
    assert cost(Price(2.0, 0.5, 8.0), 1000, 2000, 10) == (1000 * 0.5 + 10 * 8.0) / 1e6  # cached capped at input


def test_sums_keep_unpriced_calls_apart_and_say_so():
    total = empty()
    add_call(total, {"model": "a", "input_tokens": 10, "output_tokens": 5, "cost": 0.25, "currency": "USD"})
    add_call(total, {"model": "llama", "input_tokens": 7, "output_tokens": 1})
    add_call(total, {"model": "b", "input_tokens": 1, "output_tokens": 1, "cost": 1.0, "currency": "EUR"})
    assert total["model_calls"] == 3 and total["cost"] == 0.25 and total["unpriced_calls"] == 2
    assert total["unpriced_models"] == ["llama", "b (priced in EUR)"]
    merged = merge(empty(), total)
    assert merged == total


def test_a_roll_up_names_at_most_eight_agents_and_keeps_the_totals_exact():
    agents = {f"worker-{n:02d}": add_call(empty(), {"model": "m", "input_tokens": n, "output_tokens": 1})
              for n in range(1, 12)}
    rolled = roll_up(agents)
    assert len(rolled["agents"]) == 8 and rolled["agents"][OTHER_AGENTS]["model_calls"] == 4
    assert rolled["input_tokens"] == sum(range(1, 12)) and rolled["model_calls"] == 11
    assert "worker-11" in rolled["agents"] and "worker-01" not in rolled["agents"]  # the most tokens first
    assert bounded({"a": empty()}) == {"a": empty()}


def test_a_server_that_reports_no_usage_is_said_so():
    total = add_call(empty(), call_record("llama3.2", None))
    assert total["unreported_calls"] == 1
    assert "1 of 1 model calls came back without token counts" in cost_note(total)
    assert "no price is known for llama3.2" in cost_note(total)


# ---------------------------------------------------------------------------------------------
# Through MCP, against the model server's own counts


async def test_an_agent_job_reports_the_usage_the_model_server_returned(host, model):
    """Responses API; no price is known for the scripted model, so tokens only, and the job says so."""
    done, served = await calculator_job(host, model)
    async with connect(host) as client:
        listed = await call(client, "list_jobs", workflow="run_agent", status="completed", limit=100)
        report = await call(client, "get_usage", since=done["created_at"])  # the key's owner: jobs with no owner tag
    assert served["model_calls"] == 3 and served["cached_tokens"] > 0
    usage = done["usage"]
    assert tokens(usage) == served
    assert "cost" not in usage and usage["cost_note"].startswith("tokens only: no price is known for fake-model")
    assert [agent["agent"] for agent in usage["agents"]] == ["assistant"]
    assert tokens(usage["agents"][0]) == served
    item = next(item for item in listed["jobs"] if item["job_id"] == done["job_id"])
    assert tokens(item["usage"]) == served
    assert report["jobs"] == 1 and tokens(report["usage"]) == served and "owners" not in report, report
    # a plain HTTP poller sees it in the custom status
    polled = httpx.get(done["links"]["status_url"], params={"code": host.durable_key}).json()
    assert tokens(polled["customStatus"]["usage"]) == served


async def test_chat_completions_usage_is_priced_from_the_setting(priced_chat_host, model):
    done, served = await calculator_job(priced_chat_host, model)
    assert model.stats().by_api == {"chat_completions": 3}
    assert tokens(done["usage"]) == served and served["cached_tokens"] > 0
    assert done["usage"]["currency"] == "EUR" and "cost_note" not in done["usage"]
    assert done["usage"]["cost"] == pytest.approx(expected_cost(served), abs=1e-8)


def fail_next_call(model, agent: str, turn: dict) -> dict:
    """Serve `turn`, and fail the agent's next call with HTTP 400 (its step fails after this answer)."""
    model.fail_next(agent, 400, message=f"{agent} is broken")
    return turn


async def through_a_crash(host, tool: str, **arguments) -> dict:
    """Call an idempotent tool on a host that SIGKILLs itself at its next model call (APP_CRASH_POINTS),
    restart the host once it is dead, and return the tool's answer (called again if the first was lost)."""
    try:
        async with connect(host) as client:
            answer = await call(client, tool, **arguments)
    except Exception:  # the host died before it answered
        answer = None
    deadline = time.monotonic() + 60
    while host.proc.poll() is None:
        assert time.monotonic() < deadline, "the host did not reach its crash point"
        await asyncio.sleep(0.05)
    host.start()
    async with connect(host) as client:
        return await call(client, tool, **arguments) if answer is None else answer


async def test_a_swarm_reports_per_agent_and_total_usage_equal_to_the_servers_across_a_sigkill_and_a_retry(
        tmp_path, model, site):
    """The planner's call fails (HTTP 400: the job fails) and retry_job runs it again; the host dies after
    that call was answered but before its result was recorded (the call is made again: the server answers
    it twice, the job counts it once); worker 1's first agent step fails (HTTP 400) after two answered
    calls (they count) and its second attempt succeeds. Every figure equals what the server reported, call for call."""
    model.reset()
    model.script(compute_and_write([
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]},
        lambda request: fail_next_call(model, "swarm-worker-1", {"tool_calls": [
            {"name": "calculate", "arguments": {"expression": "6*8"}}]}),
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]},
        lambda request: done(f"6*7 = {request.tool_outputs()[-1]}")]))
    model.fail_next("swarm-planner", 400, count=1, message="the planner is broken")
    host = project_host(tmp_path / "state", model, site, APP_CRASH_POINTS="model_answered",
                        APP_DATA_DIR=str(tmp_path / "appdata"), MODEL_PRICES=json.dumps({AGENT: PRICE}))
    host.start()
    try:
        async with connect(host) as client:
            job = await call(client, "run_swarm", goal="Compute and write")
            failed = await wait_until(client, job["job_id"])
        assert failed["status"] == "failed" and "the planner is broken" in failed["error"], failed
        await through_a_crash(host, "retry_job", job_id=job["job_id"])
        async with connect(host) as client:
            finished = await wait_until(client, job["job_id"])
            listed = await call(client, "list_jobs", workflow="run_swarm", limit=100)
        view = httpx.get(f"{host.base_url}/api/job-view/jobs/{job['job_id']}",
                         headers={"x-functions-key": host.env["FUNCTIONS_DEFAULT_KEY"]}, timeout=30).json()
    finally:
        host.stop()
    assert finished["status"] == "completed", finished
    stats = model.stats()
    served = stats.usage()
    assert stats.usage(repeated=True)["model_calls"] == served["model_calls"] + 1  # the planner's call, twice
    assert stats.by_status.get(400) == 2 and served["model_calls"] == 1 + 4 + 1 + 1
    usage = finished["usage"]
    assert tokens(usage) == served
    assert usage["cost"] == pytest.approx(expected_cost(served), abs=1e-7) and usage["currency"] == "EUR"
    assert {agent["agent"]: tokens(agent) for agent in usage["agents"]} == {
        name: stats.usage(name) for name in ("swarm-planner", "swarm-worker-1", "swarm-worker-2", "swarm-judge")}
    worker = finished["output"]["contributions"][0]
    assert worker["attempts"] == 2 and tokens(worker["usage"]) == stats.usage("swarm-worker-1")
    item = next(item for item in listed["jobs"] if item["job_id"] == job["job_id"])
    assert tokens(item["usage"]) == served  # the job's own custom status: what a plain HTTP poller sees
    # the job view: each model call's own usage, and each worker's (its agent steps, the failed one too)
    calls = [step for step in walk(view["steps"]) if step["kind"] == "model_call" and step["status"] == "completed"]
    assert len(calls) == served["model_calls"] and sum(step["usage"]["input_tokens"] for step in calls) \
        == served["input_tokens"]
    worker = next(step for step in view["steps"] if step["label"].startswith("swarm_worker: Compute"))
    assert tokens(worker["usage"]) == stats.usage("swarm-worker-1")


def walk(steps: list) -> list:
    return [found for step in steps for found in (step, *walk(step.get("steps") or []))]
