"""The executor in-process: what one episode decides from an instance's state and its new events
(host/durable/episode.py), without a store, threads or HTTP. Fast; the end-to-end tests cover the rest."""
from __future__ import annotations

import json
import time

import pytest

from host.durable import events as he
from host.durable.config import EngineConfig
from host.durable.episode import EpisodeDecisions, InstanceState, Message, run_episode
from host.durable.events import EventType
from host.durable.model import InstanceRow, RuntimeStatus
from host.durable.store import dumps
from testing.inprocess import load_test_app

APP = load_test_app("durable_app")


def new_instance(name: str, input_value=None) -> tuple[InstanceState, list[Message]]:
    now = time.time()
    input_json = None if input_value is None else dumps(input_value)
    row = InstanceRow("i1", name, "e1", RuntimeStatus.PENDING, input_json, None, None, now, now)
    return InstanceState(row), [Message(he.execution_started(now, name, "i1", "e1", input_json), inbox_id=1)]


def step(state: InstanceState, messages: list[Message]) -> EpisodeDecisions:
    return run_episode(APP, state, messages, time.time(), EngineConfig())


def result_of(decisions: EpisodeDecisions, value, index: int = 0) -> Message:
    """The message an activity's result becomes: held in memory, recorded by the next episode."""
    activity = decisions.activities[index]
    return Message(he.task_completed(time.time(), activity.task_id, dumps(value)), activity=activity)


def types(events: list[dict]) -> list[int]:
    return [event["EventType"] for event in events]


def history_of(state: InstanceState, *decisions: EpisodeDecisions) -> list[dict]:
    return [event for d in decisions for event in d.history]


def test_a_new_instance_schedules_its_first_activity():
    state, messages = new_instance("hello_sequence")
    decisions = step(state, messages)
    assert [(a.task_id, a.name, a.input) for a in decisions.activities] == [(0, "say_hello", '"Tokyo"')]
    assert types(decisions.history) == [EventType.OrchestratorStarted, EventType.ExecutionStarted,
                                         EventType.TaskScheduled, EventType.OrchestratorCompleted]
    assert decisions.row.status is RuntimeStatus.RUNNING and decisions.consumed == messages
    assert state.history_length == 4 and set(state.open_tasks) == {0}


def test_a_kept_session_takes_only_the_new_events_and_finishes():
    state, messages = new_instance("hello_sequence")
    decisions = step(state, messages)
    session = state.session
    outputs = []
    while not decisions.finished:
        city = json.loads(decisions.activities[0].input)
        outputs.append(f"Hello {city}!")
        decisions = step(state, [result_of(decisions, outputs[-1])])
        assert state.session is session or decisions.finished
        assert decisions.history[0]["EventType"] == EventType.OrchestratorStarted  # only this episode's events
    assert decisions.row.status is RuntimeStatus.COMPLETED
    assert json.loads(decisions.row.output) == outputs and len(outputs) == 5


def test_a_session_rebuilt_from_the_history_decides_the_same():
    """After a restart (or an eviction) the history is replayed in full and must lead to the same ids."""
    state, messages = new_instance("everything", {"counter": "/nonexistent", "timeout": 30})
    first = step(state, messages)
    second = step(state, [result_of(first, "Hello durable!")])  # fans out to 5 noop activities
    assert [a.task_id for a in second.activities] == [1, 2, 3, 4, 5]
    live = step(state, [result_of(second, 1)])
    rebuilt = InstanceState(InstanceRow("i1", "everything", "e1", RuntimeStatus.RUNNING,
                                        dumps({"counter": "/nonexistent", "timeout": 30}), None, None, 0, 0),
                            history_length=len(first.history) + len(second.history),
                            open_tasks={a.task_id: {} for a in second.activities},
                            history=history_of(state, first, second))
    replayed = step(rebuilt, [result_of(second, 1)])
    assert types(replayed.history) == types(live.history)
    assert replayed.activities == live.activities == []
    assert rebuilt.session is not None and rebuilt.history is None  # kept: the next episode is fed


def test_a_duplicate_or_foreign_completion_is_dropped():
    state, messages = new_instance("hello_sequence")
    decisions = step(state, messages)
    done = result_of(decisions, "Hello Tokyo!")
    stranger = Message(he.task_completed(time.time(), 42, '"?"'))
    decisions = step(state, [done, done, stranger])
    assert types(decisions.history).count(EventType.TaskCompleted) == 1
    assert len(decisions.consumed) == 3  # taken in and dropped: their rows go
    assert [a.task_id for a in decisions.activities] == [1]


def test_a_result_of_an_earlier_execution_is_dropped():
    state, messages = new_instance("hello_sequence")
    decisions = step(state, messages)
    old = result_of(decisions, "Hello Tokyo!")
    old.activity.execution_id = "an-earlier-execution"
    decisions = step(state, [old])
    assert decisions.history == [] and decisions.consumed == [old]


def test_a_suspended_instance_leaves_its_events_until_resumed():
    state, messages = new_instance("wait_event")
    step(state, messages)
    now = time.time()
    suspend = Message(he.event(EventType.ExecutionSuspended, now), inbox_id=2)
    go = Message(he.event_raised(now, "go", '"later"'), inbox_id=3)
    decisions = step(state, [suspend, go])
    assert decisions.row.status is RuntimeStatus.SUSPENDED and decisions.left == [go]
    resume = Message(he.event(EventType.ExecutionResumed, now), inbox_id=4)
    assert step(state, [resume]).row.status is RuntimeStatus.RUNNING
    decisions = step(state, [go])
    assert decisions.finished and json.loads(decisions.row.output) == "later"


def test_terminate_ends_the_instance_and_stops_its_work():
    state, messages = new_instance("hello_sequence")
    step(state, messages)
    terminate = Message(he.event(EventType.ExecutionTerminated, time.time(), Input="enough"), inbox_id=2)
    decisions = step(state, [terminate])
    assert decisions.finished and decisions.stopped
    assert decisions.row.status is RuntimeStatus.TERMINATED and json.loads(decisions.row.output) == "enough"
    assert types(decisions.history) == [EventType.ExecutionTerminated, EventType.ExecutionCompleted]


def test_continue_as_new_starts_the_history_over():
    state, messages = new_instance("counter_loop", 0)
    decisions = step(state, [result for result in messages])
    decisions = step(state, [result_of(decisions, 0)])
    assert decisions.reset_history and decisions.history == []
    assert decisions.row.execution_id != "e1" and json.loads(json.loads(decisions.row.input)) == 1
    (target, started), = decisions.messages
    assert target == "i1" and started["EventType"] == EventType.ExecutionStarted
    assert state.session is None and state.history_length == 0


@pytest.mark.parametrize("text,count,fails,size_kb", [
    ("a", 8701, False, 16),  # 8,703 UTF-16 code units with the JSON quotes: 17,406 bytes, 16 KB
    ("a", 8702, True, 17),  # 17,408 bytes: 17 KB, over the limit
    ("\U0001F600", 4350, False, 16),  # two UTF-16 code units each (four bytes of UTF-8)
    ("\U0001F600", 4351, True, 17),
])
def test_a_custom_status_over_16_kb_of_utf16_fails_as_on_azure(text, count, fails, size_kb):
    state, messages = new_instance("sets_custom_status", {"text": text, "count": count})
    decisions = step(state, messages)
    if not fails:
        assert decisions.row.status is RuntimeStatus.RUNNING
        assert json.loads(decisions.row.custom_status) == text * count
        return
    assert decisions.finished and decisions.row.status is RuntimeStatus.FAILED
    assert json.loads(decisions.row.output) == (
        "Orchestrator function 'sets_custom_status' failed: The UTF-16 size of the JSON-serialized payload must "
        f"not exceed 16 KB. The current payload size is {size_kb} KB.")


def test_an_unknown_orchestrator_fails_the_instance():
    state, messages = new_instance("hello_sequence")
    state.row.name = "gone_since"
    decisions = step(state, messages)
    assert decisions.row.status is RuntimeStatus.FAILED
    assert "The function 'gone_since' doesn't exist" in json.loads(decisions.row.output)


def test_an_ended_instance_only_drops_what_arrives():
    state, messages = new_instance("hello_sequence")
    state.row.status = RuntimeStatus.COMPLETED
    decisions = step(state, messages)
    assert decisions.consumed == messages and decisions.history == [] and decisions.row is None


@pytest.mark.parametrize("text,expected", [
    ("2026-01-02T03:04:05.123456Z", (2026, 1, 2, 3, 4, 5, 123456)),  # what the host writes
    ("2026-01-02T03:04:05.1234567Z", (2026, 1, 2, 3, 4, 5, 123456)),  # .NET's seven digits
    ("2026-01-02T03:04:05Z", (2026, 1, 2, 3, 4, 5, 0)),
])
def test_history_and_client_times_parse_on_every_supported_python(text, expected):
    """Python 3.10's datetime.fromisoformat takes neither a trailing Z nor seven-digit fractions."""
    for parse in (he.parse_timestamp, he.fromisoformat):
        value = parse(text)
        assert value.utcoffset().total_seconds() == 0
        assert (value.year, value.month, value.day, value.hour, value.minute, value.second,
                value.microsecond) == expected
