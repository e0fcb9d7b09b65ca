"""History events in the shape the Durable extension sends them (DTFx names, PascalCase keys).

The SDK reads `EventType`, `EventId`, `IsPlayed`, `Timestamp` and a few per-type fields; the
host adds `RetryOf` to the events it creates for the SDK's retry bookkeeping, so rewind can
tell a retry chain apart from the user's own timers (unknown keys are ignored by the SDK).
"""
from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone
from enum import IntEnum
from typing import Any

from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from dateutil.parser import parse as parse_datetime


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


class _HistoryEvent(HistoryEvent):
    """The SDK's HistoryEvent, with its timestamp parsed only when read (the SDK reads it only for
    OrchestratorStarted) and without dateutil, which dominated short orchestrations."""

    @property
    def timestamp(self) -> datetime:
        value = self._timestamp
        if isinstance(value, str):
            value = self._timestamp = parse_timestamp(value)
        return value


def to_sdk_event(data: dict[str, Any]) -> HistoryEvent:
    """The SDK's view of one history event: the same attributes as `HistoryEvent(**data)`."""
    attrs = dict(_SDK_DEFAULTS)
    attrs.update(data)
    attrs["_event_type"] = attrs.pop("EventType")
    attrs["_event_id"] = attrs.pop("EventId")
    attrs["_is_played"] = attrs.pop("IsPlayed")
    attrs["_timestamp"] = attrs.pop("Timestamp")
    attrs["_is_processed"] = False
    ev = _HistoryEvent.__new__(_HistoryEvent)
    ev.__dict__ = attrs
    return ev


_SDK_DEFAULTS = dict.fromkeys(("Name", "InstanceId", "TaskScheduledId", "Reason", "Details", "Input"))


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 time as the history holds it (`2024-05-01T12:00:00.123456Z`), as an aware UTC datetime.

    `datetime.fromisoformat` takes a trailing `Z` only from Python 3.11 on, and fractions of 3 or 6
    digits only before 3.11; the fast path reads the form this host writes, any other goes through dateutil
    (as the SDK does)."""
    if len(text) == 27 and text[26] == "Z" and text[19] == ".":
        return datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                        int(text[17:19]), int(text[20:26]), tzinfo=timezone.utc)
    value = parse_datetime(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


_FRACTION = re.compile(r"(?<=:\d\d)\.(\d+)")


def fromisoformat(text: str) -> datetime:
    """`datetime.fromisoformat` as Python 3.11 reads it, on 3.10 too: a trailing `Z`, and fractions of
    seconds of any length (.NET clients send seven digits; 3.10 takes only three or six). ValueError if not ISO."""
    text = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    return datetime.fromisoformat(_FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1))


_second = (-1, "")  # (whole second, its formatted prefix): one tuple, so threads swap it atomically


def iso(ts: float) -> str:
    """`ts` (seconds since the epoch) as the Durable extension writes history times, to the microsecond.

    The date and time of day are formatted once per second; the same text as
    `datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")`."""
    global _second
    fraction, whole_float = math.modf(ts)
    whole, micros = int(whole_float), round(fraction * 1_000_000)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    cached = _second
    if cached[0] != whole:
        cached = _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{cached[1]}.{micros:06d}Z"


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
