"""Rewind: take a failed instance back to just before its failure, in one transaction.

The last failed attempt of every failed task is undone (its failure event removed, and the extra retry
timer the SDK waits for after a final attempt), so replay finds the task still running and the host runs
that attempt again. Everything that completed stays in history and is not run again. A failed
sub-orchestration is rewound in place rather than re-created, so its own finished steps are kept too.
The whole tree is rewound in the same transaction (issue 8, item 7): a crash leaves it failed, or running
with all its work re-armed, never in between.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dateutil.parser import parse as parse_datetime

from host.durable import events as he
from host.durable.errors import InstanceEnded, InstanceNotFound
from host.durable.events import COMPLETION_EVENTS, FAILURE_EVENTS, EventType
from host.durable.faults import crash_point
from host.durable.model import InstanceRow, PendingActivity, PendingTimer, RuntimeStatus
from host.durable.store import Operation, Transaction, dumps


@dataclass
class RewindPlan:
    history: list[dict[str, Any]]
    activities_to_rerun: list[dict[str, Any]] = field(default_factory=list)
    timers_to_rearm: list[tuple[int, float]] = field(default_factory=list)
    pending_children: list[tuple[int, str]] = field(default_factory=list)
    children_to_rewind: list[str] = field(default_factory=list)


def rewind_operation(instance_id: str, reason: str | None, now: float) -> Operation:
    """The transaction that rewinds `instance_id` and its failed sub-orchestrations."""

    def op(txn: Transaction) -> None:
        row = txn.instance(instance_id)
        if row is None:
            raise InstanceNotFound(f"No instance with ID '{instance_id}' was found.")
        if row.status is not RuntimeStatus.FAILED:
            raise InstanceEnded("Rewind is only supported on failed orchestration instances.")
        _rewind(txn, row, reason, now)

    return op


def _rewind(txn: Transaction, row: InstanceRow, reason: str | None, now: float) -> None:
    instance_id = row.instance_id
    plan = plan_rewind(txn.history(instance_id))
    for child_id in plan.children_to_rewind:
        child = txn.instance(child_id)
        if child is not None and child.status is RuntimeStatus.FAILED:
            _rewind(txn, child, reason, now)
    txn.clear_history(instance_id)
    txn.append_history(instance_id, 0, [dumps(event) for event in plan.history])
    txn.reopen(instance_id, now)
    crash_point("rewind:history-rewritten")
    txn.add_activities([PendingActivity(instance_id, row.execution_id, event["EventId"], event["Name"],
                                        event.get("Input")) for event in plan.activities_to_rerun])
    txn.add_timers([PendingTimer(instance_id, row.execution_id, timer_id, fire_at)
                    for timer_id, fire_at in plan.timers_to_rearm])
    txn.enqueue(instance_id, he.event(EventType.GenericEvent, now, Data=f"rewind: {reason or ''}"))
    for task_id, child_id in plan.pending_children:
        child = txn.instance(child_id)
        if child is not None and child.status is RuntimeStatus.FAILED:
            _rewind(txn, child, reason, now)
        elif child is not None and child.status is RuntimeStatus.COMPLETED:
            txn.enqueue(instance_id, he.event(EventType.SubOrchestrationInstanceCompleted, now,
                                              TaskScheduledId=task_id, Result=child.output))


def plan_rewind(history: list[dict[str, Any]]) -> RewindPlan:
    """What rewinding a failed execution's history keeps, and which work it must run again (pure)."""
    scheduled = {ev["EventId"]: ev for ev in history
                 if ev["EventType"] in (EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated,
                                        EventType.TimerCreated)}
    drop: set[int] = set()  # positions in history
    dropped_timer_ids: set[int] = set()
    children_to_rewind: list[str] = []
    for pos, ev in enumerate(history):
        if ev["EventType"] == EventType.ExecutionCompleted:
            drop.add(pos)
        if ev["EventType"] not in FAILURE_EVENTS:
            continue
        task_id = ev["TaskScheduledId"]
        attempt = scheduled.get(task_id, {})
        root = attempt.get("RetryOf", task_id)
        later = [s for s in scheduled.values() if s.get("RetryOf") == root and s["EventId"] > task_id]
        if any(s["EventType"] != EventType.TimerCreated for s in later):
            continue  # an intermediate attempt: the SDK retried it, and that is history
        drop.add(pos)
        dropped_timer_ids.update(s["EventId"] for s in later)
        if attempt.get("EventType") == EventType.SubOrchestrationInstanceCreated:
            children_to_rewind.append(attempt["InstanceId"])
    for pos, ev in enumerate(history):
        if ev["EventType"] == EventType.TimerCreated and ev["EventId"] in dropped_timer_ids:
            drop.add(pos)
        if ev["EventType"] == EventType.TimerFired and ev["TimerId"] in dropped_timer_ids:
            drop.add(pos)
    kept = [ev for pos, ev in enumerate(history) if pos not in drop]
    finished = {ev[COMPLETION_EVENTS[EventType(ev["EventType"])]] for ev in kept
                if ev["EventType"] in COMPLETION_EVENTS}
    plan = RewindPlan(kept, children_to_rewind=children_to_rewind)
    for ev in kept:
        if ev["EventType"] in (EventType.TaskScheduled, EventType.TimerCreated,
                               EventType.SubOrchestrationInstanceCreated) and ev["EventId"] not in finished:
            if ev["EventType"] == EventType.TaskScheduled:
                plan.activities_to_rerun.append(ev)
            elif ev["EventType"] == EventType.TimerCreated:
                plan.timers_to_rearm.append((ev["EventId"], parse_datetime(ev["FireAt"]).timestamp()))
            elif ev["InstanceId"] not in children_to_rewind:
                plan.pending_children.append((ev["EventId"], ev["InstanceId"]))
    return plan
