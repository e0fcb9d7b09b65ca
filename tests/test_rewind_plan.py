"""Planning a rewind, as a pure function of a failed execution's history (host/durable/rewind.py)."""
from __future__ import annotations

from host.durable import events as he
from host.durable.events import EventType
from host.durable.rewind import plan_rewind

T = 1_700_000_000.0


def scheduled(task_id: int, name: str = "step", **extra) -> dict:
    return he.event(EventType.TaskScheduled, T, task_id, Name=name, Input=f'"{task_id}"', **extra)


def completed(task_id: int) -> dict:
    return he.task_completed(T, task_id, f'"done {task_id}"')


def failed(task_id: int) -> dict:
    return he.task_failed(T, task_id, "Activity function 'step' failed: no", "ValueError: no")


def ended() -> dict:
    return he.event(EventType.ExecutionCompleted, T, OrchestrationStatus="Failed", Result='"failed"')


def start() -> list[dict]:
    return [he.event(EventType.OrchestratorStarted, T), he.execution_started(T, "guarded", "i1", "e1", None)]


def test_the_failed_step_runs_again_and_the_finished_ones_do_not():
    history = start() + [scheduled(0), completed(0), scheduled(1), completed(1), scheduled(2), failed(2), ended()]
    plan = plan_rewind(history)
    assert [ev["EventId"] for ev in plan.activities_to_rerun] == [2]
    assert types(plan.history) == types(history[:-2])  # the failure and the execution's end are undone
    assert plan.timers_to_rearm == [] and plan.children_to_rewind == [] and plan.pending_children == []


def test_only_the_last_attempt_of_a_retried_step_is_undone():
    history = start() + [
        scheduled(0), failed(0),
        he.event(EventType.TimerCreated, T, 1, FireAt=he.iso(T + 1), RetryOf=0), he.timer_fired(T, 1, he.iso(T + 1)),
        scheduled(2, RetryOf=0), failed(2),
        he.event(EventType.TimerCreated, T, 3, FireAt=he.iso(T + 2), RetryOf=0), he.timer_fired(T, 3, he.iso(T + 2)),
        ended(),
    ]
    plan = plan_rewind(history)
    kept_ids = [(ev["EventType"], ev.get("TaskScheduledId", ev.get("TimerId", ev["EventId"]))) for ev in plan.history]
    assert (EventType.TaskFailed, 0) in kept_ids  # an intermediate attempt stays history
    assert (EventType.TaskFailed, 2) not in kept_ids  # the last one is undone with the extra timer after it
    assert (EventType.TimerCreated, 3) not in kept_ids and (EventType.TimerFired, 3) not in kept_ids
    assert [ev["EventId"] for ev in plan.activities_to_rerun] == [2]


def test_a_failed_sub_orchestration_is_rewound_in_place():
    child = he.event(EventType.SubOrchestrationInstanceCreated, T, 1, Name="guarded", InstanceId="i1:0001")
    child_failed = he.event(EventType.SubOrchestrationInstanceFailed, T, TaskScheduledId=1, Reason="no")
    pending = he.event(EventType.SubOrchestrationInstanceCreated, T, 2, Name="child", InstanceId="i1:0002")
    history = start() + [scheduled(0), completed(0), child, pending, child_failed, ended()]
    plan = plan_rewind(history)
    assert plan.children_to_rewind == ["i1:0001"]
    assert plan.pending_children == [(2, "i1:0002")]  # not failed: it is asked again for its result
    assert plan.activities_to_rerun == []


def test_a_timer_not_yet_fired_is_armed_again():
    timer = he.event(EventType.TimerCreated, T, 1, FireAt=he.iso(T + 60))
    history = start() + [scheduled(0), timer, failed(0), ended()]
    assert plan_rewind(history).timers_to_rearm == [(1, T + 60)]


def types(events: list[dict]) -> list[int]:
    return [event["EventType"] for event in events]
