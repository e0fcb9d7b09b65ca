"""The executor: one orchestrator episode, from an instance's new events to the decisions it makes.

`run_episode` is a function of the instance's history (its `InstanceState`: the row, the tasks still open,
and the SDK session that has replayed everything so far) and of the messages it takes in; it changes
nothing outside that state and returns an `EpisodeDecisions`: the history events to append, the instance's
new row, the activities, timers and sub-orchestrations to start and the messages to other instances. The
backend writes it in one transaction (`EpisodeDecisions.write`) and only then acts on it. Its work is
proportional to the new events; the whole history is read only when a session is (re)built by a replay.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from azure.durable_functions.models.utils.df_serialization import df_dumps

from host.durable import events as he
from host.durable.config import EngineConfig
from host.durable.events import COMPLETION_EVENTS, EventType
from host.durable.model import InstanceRow, PendingActivity, PendingTimer, RuntimeStatus
from host.durable.payloads import activity_input_bytes, extension_json, stored_bytes
from host.durable.replay import (
    EpisodeResult,
    NewWork,
    NonDeterminismError,
    OrchestratorSession,
    UnsupportedFeature,
)
from host.durable.store import HistoryStore, InstanceGone, Transaction, dumps
from host.functions.loader import LoadedApp

SCHEDULING_EVENTS = frozenset((EventType.TaskScheduled, EventType.TimerCreated,
                               EventType.SubOrchestrationInstanceCreated))
# Azure fails an orchestration whose custom status is over 16 KB of UTF-16 JSON (the Durable extension's
# DurableOrchestrationContext.SetCustomStatus via MessagePayloadDataConverter.Serialize; sizes in whole KB).
CUSTOM_STATUS_LIMIT_KB = 16


@dataclass
class Message:
    """A new event for an instance: durable in its inbox (`inbox_id`), or an activity's result or a timer's
    firing, held in memory until the episode that records it commits (the row in `activity` / `timer`
    is deleted in that same transaction, so a crash before it runs the activity or fires the timer again)."""

    event: dict[str, Any]
    inbox_id: int | None = None
    activity: PendingActivity | None = None
    timer: PendingTimer | None = None

    @property
    def execution_id(self) -> str | None:
        pending = self.activity or self.timer
        return pending.execution_id if pending else None


@dataclass
class InstanceState:
    """What the host keeps in memory of one instance between its episodes."""

    row: InstanceRow
    history_length: int = 0
    open_tasks: dict[int, dict[str, Any]] = field(default_factory=dict)  # scheduling events not completed yet
    session: OrchestratorSession | None = None
    # The history, kept only while there is no session that can be fed (a new one replays it all).
    history: list[dict[str, Any]] | None = field(default_factory=list)
    parsed: list[HistoryEvent] | None = None

    def drop_session(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


def load_state(store: HistoryStore, instance_id: str) -> InstanceState | None:
    """Read an instance and its history (in a worker thread: a cache miss, or the first episode after a restart)."""
    row = store.get_instance(instance_id)
    if row is None:
        return None
    history = [json.loads(text) for text in store.load_history(instance_id)]
    state = InstanceState(row, len(history), history=history)
    for event in history:
        _track(state.open_tasks, event)
    return state


@dataclass
class EpisodeDecisions:
    """Everything one episode changes, written in one transaction by `write`."""

    instance_id: str
    execution_id: str  # the execution the episode ran against: the commit checks it is still current
    history_start: int
    consumed: list[Message] = field(default_factory=list)  # taken in: their rows go
    left: list[Message] = field(default_factory=list)  # not taken (the instance is suspended)
    history: list[dict[str, Any]] = field(default_factory=list)
    row: InstanceRow | None = None
    reset_history: bool = False  # continue-as-new: the history starts over
    finished: bool = False  # terminal: the execution's pending activities and timers go
    stopped: bool = False  # terminated: its in-flight work is to stop
    activities: list[PendingActivity] = field(default_factory=list)
    timers: list[PendingTimer] = field(default_factory=list)
    children: list[tuple[InstanceRow, dict[str, Any]]] = field(default_factory=list)  # (row, ExecutionStarted)
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (instance id, event), if it exists

    def write(self, txn: Transaction) -> None:
        instance_id = self.instance_id
        if txn.execution_id(instance_id) != self.execution_id:
            raise InstanceGone(instance_id)
        txn.delete_inbox([m.inbox_id for m in self.consumed if m.inbox_id is not None])
        txn.finish_activities([m.activity for m in self.consumed if m.activity is not None])
        txn.finish_timers([m.timer for m in self.consumed if m.timer is not None])
        if self.reset_history:
            txn.clear_history(instance_id)
        if self.finished or self.reset_history:
            txn.end_pending_work(instance_id)
        if self.history:
            txn.append_history(instance_id, 0 if self.reset_history else self.history_start,
                               [dumps(event) for event in self.history])
        if self.row is not None:
            txn.update_instance(self.row)
        txn.add_activities(self.activities)
        txn.add_timers(self.timers)
        for child, started in self.children:
            status = txn.status(child.instance_id)
            if status is not None:
                if not status.is_terminal:
                    continue
                txn.delete_instance(child.instance_id)
            txn.create_instance(child, started)
        for target, event in self.messages:
            if txn.status(target) is not None:
                txn.enqueue(target, event)
        if self.stopped:
            txn.stop(instance_id)


def run_episode(app: LoadedApp, state: InstanceState, messages: list[Message], now: float,
                config: EngineConfig) -> EpisodeDecisions:
    """Take `messages` into the instance and run its orchestrator on them (in an orchestrator thread).

    `state` is advanced as if the decisions were committed; if the commit fails the caller drops it."""
    row = state.row
    decisions = EpisodeDecisions(row.instance_id, row.execution_id, state.history_length)
    if row.is_terminal:
        decisions.consumed = list(messages)  # nothing happens to an ended instance any more
        return decisions
    status = row.status
    control: list[dict[str, Any]] = []
    new_events: list[dict[str, Any]] = []
    terminated: dict[str, Any] | None = None
    for message in messages:
        event = message.event
        kind = event["EventType"]
        if terminated is not None or (message.execution_id not in (None, row.execution_id)):
            decisions.consumed.append(message)  # after a termination, or for an earlier execution: dropped
        elif kind == EventType.ExecutionTerminated:
            decisions.consumed.append(message)
            terminated = event
            control.append(event)
        elif kind in (EventType.ExecutionSuspended, EventType.ExecutionResumed):
            decisions.consumed.append(message)
            status = RuntimeStatus.SUSPENDED if kind == EventType.ExecutionSuspended else RuntimeStatus.RUNNING
            control.append(event)
        elif status is RuntimeStatus.SUSPENDED:
            decisions.left.append(message)
        else:
            decisions.consumed.append(message)
            if _is_new(state.open_tasks, event):
                new_events.append(event)
    if terminated is not None:
        reason = terminated.get("Input")
        return _finish(state, decisions, control, RuntimeStatus.TERMINATED, dumps(reason), now,
                       failure_reason=f"Sub-orchestration terminated: {reason}", stopped=True)
    if not new_events:
        if control:
            if status is not RuntimeStatus.PENDING:
                row.status = status
            row.updated_at = now
            decisions.row = row
            _append(state, decisions, control)
        return decisions
    episode = control + [he.event(EventType.OrchestratorStarted, now)] + new_events
    result, error = _run_orchestrator(app, state, episode, now, config.keeps_sessions)
    custom_status = None
    if result is not None:
        custom_status, status_error = _custom_status_json(result.custom_status)
        error = result.error or status_error or _size_error(result, config.max_payload_bytes)
    if error is not None:
        message = f"Orchestrator function '{row.name}' failed: {error}"
        return _finish(state, decisions, episode, RuntimeStatus.FAILED, dumps(message), now,
                       failure_reason=message, custom_status=custom_status)
    assert result is not None
    if result.done and result.continue_as_new:
        return _continue_as_new(state, decisions, result.continue_as_new_input, custom_status, now)
    if result.done:
        return _finish(state, decisions, episode, RuntimeStatus.COMPLETED, dumps(result.output), now,
                       custom_status=custom_status)
    scheduling = _schedule(app, state, decisions, result.new_work, now)
    row.status = RuntimeStatus.RUNNING
    row.custom_status = custom_status
    row.updated_at = now
    decisions.row = row
    _append(state, decisions, episode + scheduling + [he.event(EventType.OrchestratorCompleted, now)])
    return decisions


def _run_orchestrator(app: LoadedApp, state: InstanceState, episode: list[dict[str, Any]],
                      now: float, keep: bool) -> tuple[EpisodeResult | None, str | None]:
    """Feed the kept session, or build one by replaying the whole history (every episode when not `keep`);
    (result, or the error)."""
    row = state.row
    orchestrator = app.orchestrator(row.name)
    if orchestrator is None:
        return None, f"The function '{row.name}' doesn't exist, is disabled, or is not an orchestrator function."
    parsed_episode = [he.to_sdk_event(event) for event in episode]
    try:
        if state.session is not None:
            return state.session.feed(parsed_episode, now, state.open_tasks), None
        history = (state.history or []) + episode
        started = next((event for event in history if event["EventType"] == EventType.ExecutionStarted), None)
        if started is None:
            return None, "The instance's history has no ExecutionStarted event."
        head = [next(event for event in history if event["EventType"] == EventType.OrchestratorStarted), started]
        session = OrchestratorSession(orchestrator.user_function, instance_id=row.instance_id,
                                      parent_instance_id=row.parent_instance_id,
                                      input_value=_context_input(row.input), head=head, keep=keep)
        parsed = (state.parsed if state.parsed is not None else
                  [he.to_sdk_event(event) for event in state.history or []]) + parsed_episode
        scheduled = {event["EventId"]: event for event in history if event["EventType"] in SCHEDULING_EVENTS}
        state.session = session
        result = session.replay(parsed, now, scheduled)
        if session.reusable:
            state.history, state.parsed = None, None
        else:  # replayed whole every episode: keep the history (this episode's events are added by _append)
            state.session = None
            state.history, state.parsed = history[:len(history) - len(episode)], parsed[:len(parsed) - len(episode)]
        return result, None
    except NonDeterminismError as exc:
        state.drop_session()
        return None, str(exc)
    except UnsupportedFeature as exc:
        state.drop_session()
        return None, str(exc)
    except Exception as exc:  # the SDK itself broke on this history
        state.drop_session()
        return None, f"{type(exc).__name__}: {exc}"


def _append(state: InstanceState, decisions: EpisodeDecisions, events: list[dict[str, Any]]) -> None:
    decisions.history = events
    state.history_length += len(events)
    if state.history is not None and state.session is None:
        state.history.extend(events)
        state.parsed = None if state.parsed is None else state.parsed + [he.to_sdk_event(e) for e in events]


def _schedule(app: LoadedApp, state: InstanceState, decisions: EpisodeDecisions, work: list[NewWork],
              now: float) -> list[dict[str, Any]]:
    row = state.row
    scheduling: list[dict[str, Any]] = []
    for item in work:
        extra = {} if item.retry_of is None else {"RetryOf": item.retry_of}
        if item.kind == "timer":
            if item.canceled:
                continue
            event = he.event(EventType.TimerCreated, now, item.task_id, FireAt=he.iso(item.fire_at), **extra)
            decisions.timers.append(PendingTimer(row.instance_id, row.execution_id, item.task_id, item.fire_at))
        elif item.kind == "activity":
            event = he.event(EventType.TaskScheduled, now, item.task_id, Name=item.name, Input=item.input, **extra)
            decisions.activities.append(PendingActivity(row.instance_id, row.execution_id, item.task_id, item.name,
                                                        item.input))
        else:
            child_id = item.child_instance_id or f"{row.instance_id}:{item.task_id:04X}"
            event = he.event(EventType.SubOrchestrationInstanceCreated, now, item.task_id, Name=item.name,
                             InstanceId=child_id, Input=item.input, **extra)
            child_input = None if item.input is None else dumps(item.input)
            orchestrator = app.orchestrator(item.name)
            name = orchestrator.durable_name if orchestrator else item.name
            child = InstanceRow(child_id, name, uuid.uuid4().hex, RuntimeStatus.PENDING, child_input, None, None,
                                now, now, row.instance_id, item.task_id, row.execution_id)
            parent = {"Name": row.name, "TaskScheduleId": item.task_id,
                      "OrchestrationInstance": {"InstanceId": row.instance_id, "ExecutionId": row.execution_id}}
            decisions.children.append(
                (child, he.execution_started(now, name, child_id, child.execution_id, child_input, parent)))
        state.open_tasks[item.task_id] = event
        scheduling.append(event)
    return scheduling


def _continue_as_new(state: InstanceState, decisions: EpisodeDecisions, input_json: str | None,
                     custom_status: str | None, now: float) -> EpisodeDecisions:
    row = state.row
    row.execution_id = uuid.uuid4().hex
    row.input = None if input_json is None else dumps(input_json)
    row.status = RuntimeStatus.RUNNING
    row.output = None
    row.custom_status = custom_status
    row.updated_at = now
    decisions.row = row
    decisions.reset_history = True
    decisions.messages.append(
        (row.instance_id, he.execution_started(now, row.name, row.instance_id, row.execution_id, row.input)))
    state.drop_session()
    state.history_length, state.open_tasks, state.history, state.parsed = 0, {}, [], None
    return decisions


def _finish(state: InstanceState, decisions: EpisodeDecisions, episode: list[dict[str, Any]],
            status: RuntimeStatus, output_json: str, now: float, failure_reason: str | None = None,
            custom_status: str | None = None, stopped: bool = False) -> EpisodeDecisions:
    row = state.row
    closing = [he.event(EventType.OrchestratorCompleted, now)] if any(
        event["EventType"] == EventType.OrchestratorStarted for event in episode) else []
    closing.append(he.event(EventType.ExecutionCompleted, now, OrchestrationStatus=status.value, Result=output_json))
    row.status = status
    row.output = output_json
    if custom_status is not None:
        row.custom_status = custom_status
    row.updated_at = now
    decisions.row = row
    decisions.finished = True
    decisions.stopped = stopped
    if row.parent_instance_id and row.parent_task_id is not None:
        if status is RuntimeStatus.COMPLETED:
            notice = he.event(EventType.SubOrchestrationInstanceCompleted, now, TaskScheduledId=row.parent_task_id,
                              Result=output_json)
        else:
            notice = he.event(EventType.SubOrchestrationInstanceFailed, now, TaskScheduledId=row.parent_task_id,
                              Reason=failure_reason,
                              Details=json.loads(output_json) if status is RuntimeStatus.FAILED else None)
        decisions.messages.append((row.parent_instance_id, notice))
    state.drop_session()
    _append(state, decisions, episode + closing)
    return decisions


def _custom_status_json(value: Any) -> tuple[str | None, str | None]:
    """The custom status as stored (JSON text), and Azure's error when it is over its 16 KB of UTF-16."""
    if value is None:
        return None, None
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except TypeError:  # custom objects: serialised the SDK's way
        text = df_dumps(value)
    size_kb = len(extension_json(json.loads(text)).encode("utf-16-le", "surrogatepass")) // 1024
    if size_kb > CUSTOM_STATUS_LIMIT_KB:
        return text, (f"The UTF-16 size of the JSON-serialized payload must not exceed {CUSTOM_STATUS_LIMIT_KB:,} KB. "
                      f"The current payload size is {size_kb:,} KB.")
    return text, None


def _size_error(result: EpisodeResult, limit: int) -> str | None:
    """What is over the payload limit as Azure counts it (`payloads`): a new activity's input (in
    DTFx's parameters array), a sub-orchestration's or continue-as-new's input, or the output."""
    sizes = [(f"the input of {work.kind} '{work.name}'",
              activity_input_bytes(work.input) if work.kind == "activity" else stored_bytes(work.input))
             for work in result.new_work if work.input is not None]
    if result.done and result.continue_as_new:
        sizes.append(("the continue-as-new input", stored_bytes(result.continue_as_new_input)))
    elif result.done:
        sizes.append(("the output", stored_bytes(result.output)))
    for what, size in sizes:
        if size > limit:
            return f"{what} is {size} bytes, over the local host's limit of {limit} bytes"
    return None


def _context_input(stored: str | None) -> str | None:
    """The context's "input" must be JSON text for the SDK's get_input(). The SDK client sends JSON
    text, which stays as it is; any other value (a raw HTTP body: an object, a number, a plain
    string) is serialised, where Azure would hand the SDK something it cannot decode."""
    if stored is None:
        return None
    value = json.loads(stored)
    if isinstance(value, str):
        try:
            json.loads(value)
            return value
        except ValueError:
            pass
    return stored


def _is_new(open_tasks: dict[int, dict[str, Any]], event: dict[str, Any]) -> bool:
    """A completion counts once, for a task this execution scheduled and that is still open; anything
    else (a duplicate, a task of another execution) is dropped. Other events always count."""
    key = COMPLETION_EVENTS.get(event["EventType"])
    if key is None:
        return True
    return open_tasks.pop(event.get(key), None) is not None


def _track(open_tasks: dict[int, dict[str, Any]], event: dict[str, Any]) -> None:
    kind = event["EventType"]
    if kind in SCHEDULING_EVENTS:
        open_tasks[event["EventId"]] = event
    else:
        key = COMPLETION_EVENTS.get(kind)
        if key is not None:
            open_tasks.pop(event.get(key), None)
