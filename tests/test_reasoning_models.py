"""Reasoning models through the durable replay (issue 17 §2), on both API modes: the project's app on the real
host against the scripted model server answering as a reasoning model (GPT-5 family, Azure's default
deployment), which refuses what the real APIs refuse (testing/fake_model_server.ReasoningModel).

On the Responses API every answer starts with a reasoning item that must come back, whole and in place, on the
next turn; the app asks for it encrypted and keeps nothing at the provider (store: false), so it travels in the
`run_model` activity's recorded results, through replay and a SIGKILL. On Chat Completions the output cap must go
as max_completion_tokens. MODEL_TEMPERATURE (set for every host here) must not break either.
"""
from __future__ import annotations


import pytest

from orchestrations.agents.model_config import DEFAULT_MAX_OUTPUT_TOKENS
from testing.agent_runs import calculator_turns, killed_during_second_read, two_reads_script
from testing.fake_model_server import FakeModelServer
from testing.host_process import project_host
from testing.mcp_client import call, connect, wait_until

AGENT = "fake-model"  # run_agent's instructions carry no [agent:...] marker: its script is keyed by model
EFFORT = "low"
pytestmark = pytest.mark.parametrize("api", ["responses", "chat_completions"], indirect=True)


@pytest.fixture(scope="module")
def thinker():
    """The scripted model server answering as a reasoning model."""
    with FakeModelServer(reasoning=True) as server:
        yield server


@pytest.fixture(scope="module")
def api(request):
    return request.param


def reasoning_host(state, thinker, site, api):
    """The project's app set up for a reasoning model, with a MODEL_TEMPERATURE it must not send."""
    return project_host(state, thinker, site, OPENAI_API_MODE=api, MODEL_REASONING_EFFORT=EFFORT,
                        MODEL_TEMPERATURE="0.2", APP_DATA_DIR=str(state.parent / f"{state.name}-appdata"))


@pytest.fixture(scope="module")
def host(tmp_path_factory, thinker, site, api):
    process = reasoning_host(tmp_path_factory.mktemp(f"reasoning-{api}") / "state", thinker, site, api).start()
    yield process
    process.stop()


def reasoning_items(body: dict) -> list[dict]:
    return [item for item in body.get("input") or [] if isinstance(item, dict) and item.get("type") == "reasoning"]


def assert_reasoning_requests(bodies: list[dict], api: str, sent_back: list[int] | None = None) -> None:
    """Every request in the form a reasoning model takes; on the Responses API, the reasoning items each one
    sends back (`sent_back`: how many, request by request) carry their encrypted content (the server refuses a
    request that drops or alters one, or sends one it cannot resolve)."""
    for body in bodies:
        assert "temperature" not in body, body
        if api == "chat_completions":
            assert "max_tokens" not in body and body["max_completion_tokens"] == DEFAULT_MAX_OUTPUT_TOKENS, body
            assert body["reasoning_effort"] == EFFORT
            continue
        assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"], body
        assert body["reasoning"]["effort"] == EFFORT and body["max_output_tokens"] == DEFAULT_MAX_OUTPUT_TOKENS
        assert all(item["encrypted_content"].startswith("gAAAAA") for item in reasoning_items(body)), body
    if api == "responses" and sent_back is not None:
        assert [len(reasoning_items(body)) for body in bodies] == sent_back


async def test_a_tool_calling_agent_over_several_turns(host, thinker, api):
    thinker.reset()
    thinker.script({AGENT: calculator_turns()})
    async with connect(host) as client:
        job = await call(client, "run_agent", task="Compute (2+3)*7", tools=["calculate"])
        done = await wait_until(client, job["job_id"])
    assert done["status"] == "completed", done
    assert done["output"]["final_output"] == "The answer is 35."
    assert done["output"]["model_calls"] == 3 and done["output"]["tool_calls"] == 2
    stats = thinker.stats()
    assert stats.by_status == {200: 3}, stats.by_status
    assert_reasoning_requests(stats.bodies(AGENT), api, sent_back=[0, 1, 2])


async def test_a_swarm(host, thinker, api):
    """Planner, two workers (one nudged after claiming success without its tool), judge: structured outputs and
    tool turns, each agent a sub-orchestration with its own history."""
    thinker.reset()
    thinker.script({
        "swarm-planner": [{"json": {"contract": "One Markdown section each.", "tasks": [
            {"id": 1, "title": "Compute", "instructions": "Compute 6*7.", "tools": ["calculate"]},
            {"id": 2, "title": "Write", "instructions": "Write a line."}]}}],
        "swarm-worker-1": [{"json": {"status": "done", "result": "42, trust me"}},
                           {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]},
                           lambda request: {"json": {"status": "done", "result": f"6*7 = {request.tool_outputs()[-1]}"}}],
        "swarm-worker-2": [{"json": {"status": "done", "result": "a line"}}],
        "swarm-judge": [{"json": {"score": 90, "complaints": []}}],
    })
    async with connect(host) as client:
        job = await call(client, "run_swarm", goal="Compute and write")
        done = await wait_until(client, job["job_id"], timeout=120)
    assert done["status"] == "completed", done
    out = done["output"]
    assert [part["result"] for part in out["contributions"]] == ["6*7 = 42", "a line"] and out["score"] == 90
    stats = thinker.stats()
    assert set(stats.by_status) == {200}, stats.by_status
    # the nudge is a new attempt, a new run: its 2nd turn sends back its 1st turn's reasoning
    assert_reasoning_requests(stats.bodies("swarm-worker-1"), api, sent_back=[0, 0, 1])


async def test_a_trip(host, thinker, api):
    """Three agents in a chain, an approval, the booking."""
    thinker.reset()
    thinker.script({
        "trip-destinations": [{"text": "Lyon, for its food.", "repeat": True}],
        "trip-itinerary": [lambda request: {"text": "Day 1-3 in Lyon" if "Lyon" in request.user_text() else "?"}],
        "trip-local": [lambda request: {"text": "Eat at a bouchon" if "Day 1-3" in request.user_text() else "?"}],
    })
    async with connect(host) as client:
        job = await call(client, "plan_trip", request="A long weekend, trains only")
        waiting = await wait_until(client, job["job_id"], statuses=("waiting_for_input", "completed", "failed"))
        assert waiting["status"] == "waiting_for_input", waiting
        assert waiting["input_request"]["details"]["local_recommendations"] == "Eat at a bouchon"
        await call(client, "send_job_input", job_id=job["job_id"], event="approval", data={"approved": True})
        done = await wait_until(client, job["job_id"])
    assert done["status"] == "completed", done
    assert set(thinker.stats().by_status) == {200}
    assert_reasoning_requests(thinker.stats().bodies("trip-itinerary"), api)


async def test_sigkill_between_turns_repeats_no_recorded_call(tmp_path, thinker, site, api):
    """The host is killed while the agent's 2nd tool call runs; after the restart the job finishes from the
    recorded model answers alone. The provider also forgot what it kept (stored responses expire after 30 days
    on Azure OpenAI, and an approval or a retry_job can come later than that): the reasoning the next turn needs
    comes from the durable history."""
    thinker.reset()
    thinker.script({AGENT: two_reads_script(site.base, f"/fast-{api}", f"/slow-{api}")})
    host = reasoning_host(tmp_path / "state", thinker, site, api).start()
    done, calls_before = await killed_during_second_read(host, thinker, site, AGENT, f"/slow-{api}",
                                                         while_down=thinker.forget_stored_items)
    assert done["status"] == "completed", done
    assert f"page /fast-{api}" in done["output"]["final_output"]
    stats = thinker.stats()
    assert calls_before == 2 and stats.by_agent[AGENT] == 3, "a recorded model call was made again"
    assert set(stats.by_status) == {200}, stats.by_status
    assert site.hits[f"/fast-{api}"] == 1, "a recorded tool call was made again"
    assert_reasoning_requests(stats.bodies(AGENT), api, sent_back=[0, 1, 2])


def test_the_start_log_says_model_temperature_is_not_sent(host, api):
    """Reasoning models refuse a temperature unless the effort is none: every test here ran with
    MODEL_TEMPERATURE=0.2, which the requests did not carry (assert_reasoning_requests), and the log says why."""
    [line] = [line for line in host.log().splitlines() if "model configured:" in line]
    assert line.endswith(f"api {api}, max output tokens {DEFAULT_MAX_OUTPUT_TOKENS}, reasoning model (effort low), "
                         "temperature 0.2 (sent only with reasoning effort none: reasoning models refuse it otherwise)")
