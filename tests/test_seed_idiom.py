"""The Durable docs' seed idiom on our app (issue 17 §3): a plain `df.Blueprint()` with
`@bp.durable_openai_agent_orchestrator` and `Runner.run_sync` (tests/apps/seed_app/seed_agents.py),
registered on the project's `AgentApp`. The host must start with it, and agents running at the same time
(concurrent jobs and a fan-out) must each make their own model calls, on both replay modes; the Azure-like
one runs episodes on the worker's thread pool, several at once, as the Python worker does."""
from __future__ import annotations

import pytest

from testing.durable_http import DurableHttp
from testing.host_process import TEST_APPS, HostProcess

SEED_APP = TEST_APPS / "seed_app"
TOPICS = [f"topic-{n}" for n in range(6)]
FANNED_OUT = [f"fan-{n}" for n in range(4)]
TURNS = 200  # more than any test uses: every agent answers from what it was asked


def tool_then_text(tool: str, argument: str, answer: str):
    """An agent's turn: call `tool` with the user's text as `argument`, then answer `answer` formatted with
    the user's text and the tool's output."""
    def turn(request) -> dict:
        if not request.tool_outputs():
            return {"tool_calls": [{"name": tool, "arguments": {argument: request.user_text()}}]}
        return {"text": answer.format(asked=request.user_text(), found=request.tool_outputs()[-1])}

    return turn


SCRIPT = {
    "writer": [tool_then_text("look_up", "topic", "draft[{asked}|{found}]")] * TURNS,
    "editor": [lambda request: {"text": f"edited[{request.user_text()}]"}] * TURNS,
    "interviewer": [tool_then_text("ask_expert", "question", "summary[{found}]")] * TURNS,
    "expert": [lambda request: {"text": f"answer[{request.user_text()}]"}] * TURNS,
}


def expected(topic: str) -> str:
    return f"edited[draft[{topic}|notes on {topic}]]"


def seed_host(tmp_path, model, replay: str, **env: str) -> HostProcess:
    return HostProcess(SEED_APP, tmp_path / "state", replay=replay, env={
        "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "test-key", "OPENAI_DEFAULT_MODEL": "fake-model",
        "MODEL_MAX_RETRY_DELAY_SECONDS": "1", **env})


@pytest.mark.parametrize("replay", ["kept", "azure"])
def test_seed_idiom_agents_running_at_once_each_make_their_own_calls(tmp_path, model, replay):
    """Six jobs and a fan-out of four agent orchestrations at once, and an agent whose activity tool runs an
    agent of its own (`await Runner.run`). Before the fix the host did not start ("Function
    run_model_activity does not have a unique function name"); with the Agents SDK's one process-wide
    runner, set by every episode, agents running at the same time made each other's model calls (wrong
    answers, failed or stuck jobs), and the activity's agent found a durable runner there ("Durable
    Functions do not support asynchronous runs")."""
    model.reset()
    model.script(SCRIPT)
    with seed_host(tmp_path, model, replay) as host:
        api = DurableHttp(host)
        jobs = {api.start("write_and_edit", topic): topic for topic in TOPICS}
        fan_out = api.start("write_many", FANNED_OUT)
        interview = api.start("interview", "why durable?")
        results = {instance_id: api.wait(instance_id, timeout=120) for instance_id in [*jobs, fan_out, interview]}
    for instance_id, topic in jobs.items():
        assert results[instance_id]["runtimeStatus"] == "Completed", results[instance_id]
        assert results[instance_id]["output"] == expected(topic)
    assert results[fan_out]["runtimeStatus"] == "Completed", results[fan_out]
    assert results[fan_out]["output"] == [expected(topic) for topic in FANNED_OUT]
    assert results[interview]["runtimeStatus"] == "Completed", results[interview]
    assert results[interview]["output"] == "summary[answer[why durable?]]"
    agents = len(TOPICS) + len(FANNED_OUT)
    assert model.stats().by_agent == {"writer": 2 * agents, "editor": agents, "interviewer": 2, "expert": 1}


def test_seed_idiom_model_calls_are_retried_by_run_model_only(tmp_path, model):
    """The decorator's default `model_retry_options` (5 durable attempts) on top of run_model's own retries
    made 5 x MODEL_MAX_ATTEMPTS model requests for a failing call; run_model is the one retry layer now."""
    model.reset()
    model.script(SCRIPT)
    model.fail_next("writer", status=500, count=50)
    with seed_host(tmp_path, model, "azure", MODEL_MAX_ATTEMPTS="2") as host:
        api = DurableHttp(host)
        status = api.wait(api.start("write_and_edit", "doomed"), timeout=60)
    assert status["runtimeStatus"] == "Failed", status
    assert "gave up after 2 attempts" in status["output"]
    assert [call.status for call in model.stats().requests if call.agent == "writer"] == [500, 500]
