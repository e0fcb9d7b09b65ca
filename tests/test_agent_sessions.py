"""Durable OpenAI agents kept alive between episodes (host/durable/agent_session.py), in-process: a
third-party app's `durable_openai_agent_orchestrator` (tests/apps/agent_app) is driven episode by episode
with model results made here, so no model server runs. The agent must run once per session, not once per
episode, and write exactly the history the SDK's own replay writes."""
from __future__ import annotations

import json
import time
from pathlib import Path

import agents.run
import pytest
from agents import ModelResponse, Usage, set_tracing_disabled
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from host.durable import events as he
from host.durable.config import EngineConfig, Replay
from host.durable.episode import EpisodeDecisions, InstanceState, Message, run_episode
from host.durable.events import EventType
from host.durable.model import InstanceRow, RuntimeStatus
from host.durable.store import dumps
from testing.durable_http import DurableHttp
from testing.host_process import TEST_APPS, HostProcess
from testing.inprocess import load_test_app

APP = load_test_app("agent_app")
set_tracing_disabled(True)


@pytest.fixture(autouse=True)
def process_default_runner(monkeypatch) -> None:
    """The SDK's agent wrapper sets the Agents SDK's process-wide default runner, and so does a kept agent,
    as the wrapper does: it is put back after each test, so that plain agents run by other tests in this
    process keep the SDK's own runner."""
    monkeypatch.setattr(agents.run, "DEFAULT_AGENT_RUNNER", agents.run.DEFAULT_AGENT_RUNNER)


@pytest.fixture(autouse=True)
def agent_ledger(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "agent-ledger.txt"
    monkeypatch.setenv("AGENT_LEDGER", str(path))
    return path


def bodies(ledger: Path, instance_id: str) -> int:
    """How many times the orchestrator's body started for the instance."""
    return sum(1 for line in ledger.read_text().splitlines() if line.startswith(f"{instance_id}:"))


def new_instance(name: str, input_value, instance_id: str = "a1") -> tuple[InstanceState, list[Message]]:
    now = time.time()
    input_json = dumps(input_value)
    row = InstanceRow(instance_id, name, "e1", RuntimeStatus.PENDING, input_json, None, None, now, now)
    return InstanceState(row), [Message(he.execution_started(now, name, instance_id, "e1", input_json), inbox_id=1)]


def step(state: InstanceState, messages: list[Message], config: EngineConfig = EngineConfig()) -> EpisodeDecisions:
    return run_episode(APP, state, messages, time.time(), config)


def model_answer(decisions: EpisodeDecisions, *, text: str | None = None, call: tuple[str, dict] | None = None,
                 failure: str | None = None) -> Message:
    """The result of the episode's `run_model` activity, as the SDK's activity returns it (JSON text of a
    ModelResponse, its None fields dropped as the project's run_model does)."""
    (activity,) = decisions.activities
    assert activity.name == "run_model"
    if failure is not None:
        return Message(he.task_failed(time.time(), activity.task_id, failure, ""), activity=activity)
    if text is not None:
        item = ResponseOutputMessage(id="m", role="assistant", status="completed", type="message",
                                     content=[ResponseOutputText(text=text, type="output_text", annotations=[])])
    else:
        item = ResponseFunctionToolCall(name=call[0], arguments=json.dumps(call[1]), call_id="c1", id="f1",
                                        type="function_call", status="completed")
    response = json.loads(ModelResponse.__pydantic_serializer__.to_json(
        ModelResponse(output=[item], usage=Usage(), response_id=None)))
    response["output"] = [{k: v for k, v in item.items() if v is not None} for item in response["output"]]
    result = dumps(json.dumps(response))  # the activity returns text: its result is a JSON string
    return Message(he.task_completed(time.time(), activity.task_id, result), activity=activity)


def run_relay(state: InstanceState, messages: list[Message], answers: list[str]) -> list[EpisodeDecisions]:
    decisions = [step(state, messages)]
    for answer in answers:
        decisions.append(step(state, [model_answer(decisions[-1], text=answer)]))
    return decisions


def comparable(history: list[dict]) -> list[tuple]:
    return [(e["EventType"], e["EventId"], e.get("Name"), e.get("Input"), e.get("TaskScheduledId"), e.get("Result"))
            for e in history]


def test_the_agent_runs_once_for_all_its_turns(agent_ledger):
    state, messages = new_instance("relay", "hello")
    episodes = run_relay(state, messages, ["one", "two", "three"])
    assert [a.task_id for d in episodes[:-1] for a in d.activities] == [0, 1, 2]
    last = episodes[-1]
    assert last.finished and last.row.status is RuntimeStatus.COMPLETED
    assert json.loads(last.row.output) == "three" and json.loads(last.row.custom_status) == {"last": "three"}
    assert bodies(agent_ledger, "a1") == 1, "the agent was replayed instead of kept alive"


def answer_everything(state: InstanceState, messages: list[Message],
                      config: EngineConfig = EngineConfig()) -> list[EpisodeDecisions]:
    """Run the instance to its end: each model call is answered "answer <task id>", any other activity
    "<name> done"."""
    episodes = [step(state, messages, config)]
    while not episodes[-1].finished:
        (activity,) = episodes[-1].activities
        if activity.name == "run_model":
            message = model_answer(episodes[-1], text=f"answer {activity.task_id}")
        else:
            message = Message(he.task_completed(time.time(), activity.task_id, dumps(f"{activity.name} done")),
                              activity=activity)
        episodes.append(step(state, [message], config))
    return episodes


@pytest.mark.parametrize("name,episodes", [("relay", 4), ("plan_then_act", 4)])
def test_the_kept_agent_writes_the_history_the_sdks_replay_writes(agent_ledger, name, episodes):
    kept, messages = new_instance(name, "hello", "kept")
    kept_run = answer_everything(kept, messages)
    replayed, messages = new_instance(name, "hello", "replayed")
    replayed_run = answer_everything(replayed, messages, EngineConfig(replay=Replay.AZURE))  # the SDK's wrapper
    kept_history = [e for d in kept_run for e in d.history]
    assert comparable(kept_history) == comparable([e for d in replayed_run for e in d.history])
    assert kept_run[-1].row.output == replayed_run[-1].row.output
    assert bodies(agent_ledger, "kept") == 1 and bodies(agent_ledger, "replayed") == episodes == len(replayed_run)


def test_a_new_session_picks_up_a_history_the_kept_agent_wrote(agent_ledger):
    state, messages = new_instance("relay", "hello")
    episodes = run_relay(state, messages, ["one", "two"])
    state.drop_session()  # a restart: the next episode replays the whole history
    rebuilt = InstanceState(state.row, state.history_length, dict(state.open_tasks),
                            history=[e for d in episodes for e in d.history])
    last = step(rebuilt, [model_answer(episodes[-1], text="three")])
    assert last.finished and json.loads(last.row.output) == "three"
    assert bodies(agent_ledger, "a1") == 2


def test_a_function_tool_runs_in_the_agent_thread_between_model_calls():
    state, messages = new_instance("shouter", "make it loud")
    first = step(state, messages)
    second = step(state, [model_answer(first, call=("shout", {"text": "hi"}))])
    assert "HI" in second.activities[0].input  # the tool's output goes to the next model call
    last = step(state, [model_answer(second, text="done: HI")])
    assert json.loads(last.row.output) == "done: HI"


def test_a_failed_model_call_fails_the_orchestration_and_ends_the_agent_thread():
    state, messages = new_instance("relay", "hello")
    decisions = step(state, messages)
    run = state.session._live.run
    while not decisions.finished:  # the SDK's default model retries: 5 attempts, a timer between them
        if decisions.timers:
            (timer,) = decisions.timers
            fired = Message(he.timer_fired(time.time(), timer.timer_id, he.iso(timer.fire_at)), timer=timer)
            decisions = step(state, [fired])
        else:
            decisions = step(state, [model_answer(decisions, failure="Activity function 'run_model' failed: 401")])
    last = decisions
    assert last.finished and last.row.status is RuntimeStatus.FAILED
    assert "401" in json.loads(last.row.output)
    run._thread.join(timeout=10)
    assert not run._thread.is_alive() and state.session is None


def test_a_dropped_session_unwinds_its_parked_agent():
    state, messages = new_instance("relay", "hello")
    step(state, messages)
    run = state.session._live.run
    state.drop_session()
    run._thread.join(timeout=10)
    assert not run._thread.is_alive()


def test_concurrent_agents_each_use_their_own_runner():
    """`Runner.run_sync` goes through the agents SDK's process-wide default runner; each agent thread
    must get its own, or an agent's later turns go to another job's context."""
    a, a_messages = new_instance("relay", "for a", "a")
    b, b_messages = new_instance("relay", "for b", "b")
    a_first, b_first = step(a, a_messages), step(b, b_messages)
    a_second = step(a, [model_answer(a_first, text="a1")])  # its second agent starts after b's session did
    b_second = step(b, [model_answer(b_first, text="b1")])
    assert [x.instance_id for x in a_second.activities] == ["a"]
    assert [x.instance_id for x in b_second.activities] == ["b"]
    assert '"content":"a1"' in json.loads(a_second.activities[0].input)
    assert '"content":"b1"' in json.loads(b_second.activities[0].input)
    a_third = step(a, [model_answer(a_second, text="a2")])
    b_third = step(b, [model_answer(b_second, text="b2")])
    assert json.loads(step(a, [model_answer(a_third, text="a3")]).row.output) == "a3"
    assert json.loads(step(b, [model_answer(b_third, text="b3")]).row.output) == "b3"


def test_the_history_of_a_kept_agent_has_one_episode_per_model_call():
    state, messages = new_instance("relay", "hello")
    episodes = run_relay(state, messages, ["one", "two", "three"])
    history = [e for d in episodes for e in d.history]
    assert sum(1 for e in history if e["EventType"] == EventType.OrchestratorStarted) == 4
    assert sum(1 for e in history if e["EventType"] == EventType.TaskScheduled) == 3


def test_a_third_party_agent_app_on_the_real_host_runs_its_agent_once(tmp_path, model):
    """End to end: the app's three agents, each a model call through the SDK's own run_model activity on
    the fake model server; the orchestrator body starts once for the whole job (it was once per episode)."""
    model.reset()
    model.script({"first": [{"text": "one"}],
                  "second": [lambda request: {"text": request.user_text() + " two"}],
                  "third": [lambda request: {"text": request.user_text() + " three"}]})
    ledger = tmp_path / "ledger.txt"
    host = HostProcess(TEST_APPS / "agent_app", tmp_path / "state", replay="kept", env={
        "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "test-key", "OPENAI_AGENTS_DISABLE_TRACING": "1",
        "AGENT_LEDGER": str(ledger)}).start()
    try:
        api = DurableHttp(host)
        instance_id = api.start("relay", "hello")
        status = api.wait(instance_id, timeout=60)
    finally:
        host.stop()
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == "one two three"
    assert model.stats().by_agent == {"first": 1, "second": 1, "third": 1}
    assert bodies(ledger, instance_id) == 1
