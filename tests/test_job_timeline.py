"""The job view's step timeline, from history in the management API's shape, and the local host's
rewrite of raw history into that shape (as the Durable extension does it). Pure functions, in process."""
from __future__ import annotations

import json

from host.http.history_format import management_history
from tools.job_timeline import build_tree, history_steps, model_input_preview, model_output_preview, preview


def ts(second: float) -> str:
    return f"2026-01-01T00:00:{second:06.3f}Z"


def raw(kind: int, second: float, event_id: int = -1, **fields) -> dict:
    return {"EventType": kind, "EventId": event_id, "IsPlayed": True, "Timestamp": ts(second), **fields}


RAW = [
    raw(12, 0),
    raw(0, 0, Name="flow", Version="", Input='{"n": 1}', OrchestrationInstance={"InstanceId": "j"},
        ParentInstance=None, Tags=None),
    raw(4, 0, 0, Name="say", Version="", Input='"hi"'),
    raw(7, 0, 1, Name="child", Version="", InstanceId="j:child-1", Input='{"prompt": "p"}'),
    raw(13, 0),
    raw(12, 1),
    raw(5, 1, TaskScheduledId=0, Result='"said hi"'),
    raw(8, 2, TaskScheduledId=1, Result='{"output": "done"}'),
    raw(10, 2, 2, FireAt=ts(5)),
    raw(13, 2),
    raw(12, 5),
    raw(11, 5, TimerId=2, FireAt=ts(5), RetryOf=None),
    raw(1, 5, OrchestrationStatus="Completed", Result='[1, 2]'),
    raw(13, 5),
]


def test_raw_history_is_shown_as_the_durable_extension_shows_it():
    shown = management_history(RAW, show_input=True, show_output=True)
    assert [e["EventType"] for e in shown] == [
        "ExecutionStarted", "TaskCompleted", "SubOrchestrationInstanceCompleted", "TimerCreated", "TimerFired",
        "ExecutionCompleted"]
    started, task, child, _timer, fired, completed = shown
    assert started == {"EventType": "ExecutionStarted", "Timestamp": ts(0), "FunctionName": "flow", "Input": '{"n": 1}'}
    assert task == {"EventType": "TaskCompleted", "Timestamp": ts(1), "Result": "said hi", "ScheduledTime": ts(0),
                    "FunctionName": "say", "Input": '"hi"'}
    assert child["FunctionName"] == "child" and child["Result"] == {"output": "done"} and "TaskScheduledId" not in child
    assert fired == {"EventType": "TimerFired", "Timestamp": ts(5), "FireAt": ts(5)}
    assert completed["Result"] == [1, 2] and completed["OrchestrationStatus"] == "Completed"
    quiet = management_history(RAW, show_input=False, show_output=False)
    assert all("Input" not in e and "Result" not in e for e in quiet)


def test_a_step_still_running_keeps_its_scheduling_event():
    shown = management_history(RAW[:5])
    assert [e["EventType"] for e in shown] == ["ExecutionStarted", "TaskScheduled", "SubOrchestrationInstanceCreated"]
    assert shown[1]["Name"] == "say" and "Version" not in shown[1]
    assert shown[2]["InstanceId"] == "j:child-1"


def done(name: str, start: float, end: float, inp, result=None, failed: str | None = None) -> dict:
    event = {"EventType": "TaskFailed" if failed else "TaskCompleted", "FunctionName": name,
             "ScheduledTime": ts(start), "Timestamp": ts(end), "Input": json.dumps(inp)}
    if failed:
        event["Reason"] = failed
    else:
        event["Result"] = result
    return event


def test_retried_attempts_are_one_step_and_their_retry_timers_are_hidden():
    events = [
        {"EventType": "ExecutionStarted", "Timestamp": ts(0)},
        done("fetch_url", 0, 1, {"url": "u"}, failed="HTTP 503"),
        {"EventType": "TimerCreated", "Timestamp": ts(1), "FireAt": ts(3)},
        {"EventType": "TimerFired", "Timestamp": ts(3), "FireAt": ts(3)},
        done("fetch_url", 3, 4, {"url": "u"}, "page text"),
        {"EventType": "TimerCreated", "Timestamp": ts(4), "FireAt": ts(60)},
        {"EventType": "EventRaised", "Timestamp": ts(5), "Name": "approval", "Input": '{"approved": true}'},
    ]
    steps, _ = history_steps(events, finished=True)
    fetch, timer, event = steps
    assert fetch["kind"] == "tool_call" and fetch["status"] == "completed" and fetch["retries"] == 1
    assert fetch["duration_ms"] == 4000 and fetch["output_preview"] == "page text" and "error" not in fetch
    assert timer["kind"] == "timer" and timer["status"] == "skipped" and timer["fire_at"] == ts(60)
    assert event["label"] == "event approval" and event["input_preview"] == '{"approved":true}'


def test_a_failure_without_a_retry_is_a_failed_step():
    steps, _ = history_steps([done("book_trip", 0, 1, {"job": 1}, failed="storage down")], finished=True)
    assert steps[0]["status"] == "failed" and steps[0]["error"] == "storage down" and steps[0]["retries"] == 0


def test_model_calls_show_the_newest_input_and_what_the_model_answered():
    activity_input = json.dumps({"input": [{"role": "user", "content": "Compute 6*7"},
                                           {"type": "function_call_output", "output": "42"}], "model_name": "m1"})
    output = json.dumps({"output": [{"type": "function_call", "name": "calculate", "arguments": '{"expression": "6*7"}'},
                                    {"type": "message", "content": [{"type": "output_text", "text": "It is 42."}]}]})
    assert model_input_preview(json.dumps(activity_input)) == "tool output: 42"
    assert model_output_preview(output) == 'calls calculate({"expression":"6*7"}) · It is 42.'
    steps, _ = history_steps([done("run_model", 0, 1, activity_input, output)], finished=True)
    assert steps[0]["kind"] == "model_call" and steps[0]["label"] == "model call (m1)"
    assert len(preview("x" * 500)) == 160 and preview("  a \n b ") == "a b"


def test_children_nest_under_their_parent_by_instance_id():
    statuses = {
        "j": {"instanceId": "j", "name": "flow", "runtimeStatus": "Running", "createdTime": ts(0)},
        "j:worker-1-aa": {"instanceId": "j:worker-1-aa", "name": "swarm_worker", "runtimeStatus": "Completed",
                          "createdTime": ts(1), "lastUpdatedTime": ts(9),
                          "input": {"task": {"title": "Compute", "instructions": "Compute 6*7."}},
                          "output": {"result": "42"}},
        "j:worker-1-aa:swarm-worker-1-bb": {"instanceId": "j:worker-1-aa:swarm-worker-1-bb", "name": "agent_step",
                                            "runtimeStatus": "Running", "createdTime": ts(2),
                                            "input": {"agent": "swarm-worker-1", "prompt": "do it"}},
    }
    histories = {
        "j": [{"EventType": "SubOrchestrationInstanceCompleted", "FunctionName": "swarm_worker", "ScheduledTime": ts(1),
               "Timestamp": ts(9), "Input": json.dumps(statuses["j:worker-1-aa"]["input"])},
              {"EventType": "SubOrchestrationInstanceCompleted", "FunctionName": "elsewhere", "ScheduledTime": ts(3),
               "Timestamp": ts(4), "Input": '{"prompt": "not ours"}', "Result": '"ok"'}],
        "j:worker-1-aa": [{"EventType": "ExecutionStarted", "Timestamp": ts(1.25)},
                          {"EventType": "ExecutionCompleted", "Timestamp": ts(8.5)}],
        "j:worker-1-aa:swarm-worker-1-bb": [done("run_model", 2, 3, {"input": "do it"}, '{"output": []}')],
    }
    worker, unmatched = build_tree("j", statuses, histories)
    assert worker["label"] == "swarm_worker: Compute" and worker["input_preview"] == "Compute 6*7."
    assert worker["duration_ms"] == 7250  # from its history, to the millisecond
    [agent] = worker["steps"]
    assert agent["kind"] == "agent" and agent["status"] == "running" and agent["steps"][0]["kind"] == "model_call"
    # a sub-orchestration the history records but no instance id links (started without our ids)
    assert unmatched["name"] == "elsewhere" and unmatched["status"] == "completed" and unmatched["steps"] == []
