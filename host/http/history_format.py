"""An instance's history as the management API shows it (`GET instances/{id}?showHistory=true`).

The Durable extension does not hand out the raw history the orchestrator replays: it rewrites it
for people (DurableClient.GetDurableOrchestrationStatusAsync, azure-functions-durable-extension
src/WebJobs.Extensions.DurableTask/ContextImplementations/DurableClient.cs). Each completed or
failed activity and sub-orchestration is one event carrying the `FunctionName`, `ScheduledTime`
and `Input` of the event that scheduled it (which is then dropped); `OrchestratorStarted` and
`OrchestratorCompleted` are dropped; event types and orchestration statuses are names, not numbers;
`Result` is parsed JSON (or removed without `showHistoryOutput`); ids and replay flags are removed.
Tools that read history (the job view's timeline) therefore see the same shape on both hosts.
"""
from __future__ import annotations

import json
from typing import Any

from host.durable.events import EventType

# DTFx OrchestrationStatus, as numbers appear in raw history
ORCHESTRATION_STATUS = {0: "Running", 1: "Completed", 2: "ContinuedAsNew", 3: "Failed", 4: "Canceled",
                        5: "Terminated", 6: "Pending", 7: "Suspended"}
_SCHEDULING = {EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated}
_COMPLETIONS = {
    EventType.TaskCompleted: EventType.TaskScheduled,
    EventType.TaskFailed: EventType.TaskScheduled,
    EventType.SubOrchestrationInstanceCompleted: EventType.SubOrchestrationInstanceCreated,
    EventType.SubOrchestrationInstanceFailed: EventType.SubOrchestrationInstanceCreated,
}
_WITH_OUTPUT = {EventType.TaskCompleted, EventType.SubOrchestrationInstanceCompleted, EventType.ExecutionCompleted}
_DROPPED = {EventType.OrchestratorStarted, EventType.OrchestratorCompleted}
_LOCAL_ONLY_KEYS = ("RetryOf",)  # bookkeeping the local host adds for rewind; Azure's events have no such key


def _parsed(value: Any) -> Any:
    """ParseToJToken: JSON text becomes its value; anything else stays as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def management_history(raw: list[dict[str, Any]], show_input: bool = True,
                       show_output: bool = False) -> list[dict[str, Any]]:
    """Raw history events (the replay shape, oldest first) → the management API's `historyEvents`."""
    events = [dict(ev) for ev in raw]
    scheduled: dict[tuple[int, Any], int] = {}  # (scheduling event type, EventId) -> index
    merged: set[int] = set()
    for index, ev in enumerate(events):
        kind = EventType(ev["EventType"])
        if kind in _SCHEDULING:
            scheduled[(kind, ev.get("EventId"))] = index
            ev.pop("Version", None)
        elif kind in _COMPLETIONS:
            origin = scheduled.get((_COMPLETIONS[kind], ev.get("TaskScheduledId")))
            if origin is not None:
                ev["ScheduledTime"] = events[origin]["Timestamp"]
                ev["FunctionName"] = events[origin].get("Name")
                ev["Input"] = events[origin].get("Input")
                merged.add(origin)
            ev.pop("TaskScheduledId", None)
        elif kind is EventType.ExecutionStarted:
            ev["FunctionName"] = ev.pop("Name", None)
            for key in ("OrchestrationInstance", "ParentInstance", "Version", "Tags"):
                ev.pop(key, None)
        elif kind is EventType.ExecutionCompleted:
            status = ev.get("OrchestrationStatus")
            ev["OrchestrationStatus"] = ORCHESTRATION_STATUS.get(status, status)
        elif kind is EventType.TimerFired:
            ev.pop("TimerId", None)
        if kind in _WITH_OUTPUT:
            if show_output:
                ev["Result"] = _parsed(ev.get("Result"))
            else:
                ev.pop("Result", None)
        if not show_input:
            ev.pop("Input", None)
        ev["EventType"] = kind.name
        for key in ("EventId", "IsPlayed", *_LOCAL_ONLY_KEYS):
            ev.pop(key, None)
    return [ev for index, ev in enumerate(events)
            if index not in merged and EventType[ev["EventType"]] not in _DROPPED]
