"""History events in the shape the Durable extension sends them (DTFx names, PascalCase keys).

The SDK reads `EventType`, `EventId`, `IsPlayed`, `Timestamp` and a few per-type fields; the
host adds `RetryOf` to the events it creates for the SDK's retry bookkeeping, so rewind can
tell a retry chain apart from the user's own timers (unknown keys are ignored by the SDK).
"""
from __future__ import annotations

from datetime import datetime, timezone
from enum import IntEnum
from typing import Any

from azure.durable_functions.models.history.HistoryEvent import HistoryEvent


class EventType(IntEnum):
    ExecutionStarted = 0
    ExecutionCompleted = 1
    ExecutionFailed = 2
    ExecutionTerminated = 3
    TaskScheduled = 4
    TaskCompleted = 5
    TaskFailed = 6
    SubOrchestrationInstanceCreated = 7
    SubOrchestrationInstanceCompleted = 8
    SubOrchestrationInstanceFailed = 9
    TimerCreated = 10
    TimerFired = 11
    OrchestratorStarted = 12
    OrchestratorCompleted = 13
    EventSent = 14
    EventRaised = 15
    ContinueAsNew = 16
    GenericEvent = 17
    HistoryState = 18
    ExecutionSuspended = 19
    ExecutionResumed = 20


COMPLETION_EVENTS = {
    EventType.TaskCompleted: "TaskScheduledId",
    EventType.TaskFailed: "TaskScheduledId",
    EventType.SubOrchestrationInstanceCompleted: "TaskScheduledId",
    EventType.SubOrchestrationInstanceFailed: "TaskScheduledId",
    EventType.TimerFired: "TimerId",
}
FAILURE_EVENTS = (EventType.TaskFailed, EventType.SubOrchestrationInstanceFailed)


def to_sdk_event(data: dict[str, Any]) -> HistoryEvent:
    """Build the SDK's HistoryEvent without its dateutil parse, which dominated short orchestrations.

    Same attributes as `HistoryEvent(**data)`: the timestamps we write are ISO 8601 in UTC, which
    `datetime.fromisoformat` reads (about 50x faster) to the same aware datetime.
    """
    ev = HistoryEvent.__new__(HistoryEvent)
    ev._event_type = data["EventType"]
    ev._event_id = data["EventId"]
    ev._is_played = data["IsPlayed"]
    ev._timestamp = datetime.fromisoformat(data["Timestamp"])
    ev._is_processed = False
    ev.Name = ev.InstanceId = ev.TaskScheduledId = ev.Reason = ev.Details = ev.Input = None
    for key, value in data.items():
        if key not in _CORE_KEYS:
            setattr(ev, key, value)
    return ev


_CORE_KEYS = frozenset(("EventType", "EventId", "IsPlayed", "Timestamp"))


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(kind: EventType, ts: float, event_id: int = -1, **fields: Any) -> dict[str, Any]:
    return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False, "Timestamp": iso(ts), **fields}


def execution_started(ts: float, name: str, instance_id: str, execution_id: str, input_json: str | None,
                      parent: dict[str, Any] | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "Name": name,
        "Version": "",
        "Input": input_json,
        "OrchestrationInstance": {"InstanceId": instance_id, "ExecutionId": execution_id},
    }
    if parent:
        fields["ParentInstance"] = parent
    return event(EventType.ExecutionStarted, ts, **fields)


def task_completed(ts: float, task_id: int, result: str | None) -> dict[str, Any]:
    return event(EventType.TaskCompleted, ts, TaskScheduledId=task_id, Result=result)


def task_failed(ts: float, task_id: int, reason: str, details: str | None) -> dict[str, Any]:
    return event(EventType.TaskFailed, ts, TaskScheduledId=task_id, Reason=reason, Details=details)


def timer_fired(ts: float, timer_id: int, fire_at: str) -> dict[str, Any]:
    return event(EventType.TimerFired, ts, TimerId=timer_id, FireAt=fire_at)


def event_raised(ts: float, name: str, input_json: str | None) -> dict[str, Any]:
    return event(EventType.EventRaised, ts, Name=name, Input=input_json)
