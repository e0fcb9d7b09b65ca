"""Run one orchestrator episode through the Durable SDK's own replay code.

This is what the worker's `Orchestrator.handle` does, except that we keep the SDK's context
object: its task table tells us exactly which sequence ids the code allocated, including the
hidden ids of retry timers and re-attempts, so new work gets the ids the SDK expects
(reference/durable-protocol.md §1.7, strategy B). Runs in a worker thread: the OpenAI Agents
integration calls `Runner.run_sync`, which refuses to run under an event loop.
"""
from __future__ import annotations

import inspect
import json
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from azure.durable_functions.models.actions.NoOpAction import NoOpAction
from azure.durable_functions.models.DurableOrchestrationContext import (
    DurableOrchestrationContext,
)
from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from azure.durable_functions.models.Task import (
    AtomicTask,
    CompoundTask,
    RetryAbleTask,
    TaskBase,
    TaskState,
)
from azure.durable_functions.models.TaskOrchestrationExecutor import (
    TaskOrchestrationExecutor,
)
from dateutil.parser import parse as parse_datetime

from host.durable.events import EventType

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"
ACTIVITY_ACTIONS = {0: "activity", 1: "activity", 2: "suborchestration", 3: "suborchestration", 5: "timer", 8: "http"}
HTTP_ACTIVITY = "BuiltIn::HttpActivity"

# A completion the code never asked for is how the SDK sees a changed orchestrator; we detect
# that ourselves (below), so its warning is noise.
warnings.filterwarnings("ignore", message="Potential duplicate Task completion")


@dataclass
class NewWork:
    """A task the code started in this episode that has no scheduling event yet."""

    task_id: int
    kind: str  # activity | timer | suborchestration
    name: str = ""
    input: str | None = None
    fire_at: float = 0.0
    child_instance_id: str | None = None
    retry_of: int | None = None
    canceled: bool = False


@dataclass
class EpisodeResult:
    done: bool = False
    output: Any = None
    error: str | None = None
    custom_status: Any = None
    continue_as_new: bool = False
    continue_as_new_input: str | None = None
    new_work: list[NewWork] = field(default_factory=list)


class NonDeterminismError(Exception):
    """The code scheduled something other than what its history recorded."""


def orchestrator_function(handle: Callable[..., Any]) -> Callable[..., Any]:
    fn = getattr(handle, "orchestrator_function", None)
    if fn is None:
        raise TypeError("orchestrator is not a Durable Functions orchestrator (no orchestrator_function)")
    return fn


class OrchestratorSession:
    """One orchestration's SDK state, kept between episodes when that is safe.

    Azure replays an out-of-process orchestrator from the start of its history on every
    episode, which costs O(n^2) over a long chain. Like the extension's extended sessions, a
    plain generator orchestrator is kept suspended and fed only the new events; on a cache miss
    (restart, eviction) it is rebuilt by a full replay. Orchestrators that are not plain
    generators (the OpenAI Agents wrapper peeks at the history and re-runs its agent loop on
    every replay) always get a full replay.
    """

    def __init__(self, handle: Callable[..., Any], *, instance_id: str, parent_instance_id: str | None,
                 input_value: Any, head: list[dict[str, Any]]):
        self.function = orchestrator_function(handle)
        self.reusable = inspect.isgeneratorfunction(self.function)
        self.instance_id = instance_id
        self.ctx = DurableOrchestrationContext(
            history=head,
            instanceId=instance_id,
            isReplaying=False,
            parentInstanceId=parent_instance_id,
            input=input_value,
            upperSchemaVersion=1,
            upperSchemaVersionNew=2,
            maximumShortTimerDuration=None,
            longRunningTimerIntervalDuration=None,
            defaultHttpAsyncRequestSleepTimeMillseconds=30000,
        )
        self.ctx._input_expected_type = getattr(handle, "_df_input_type", None)
        self.executor = TaskOrchestrationExecutor()
        self.allocated: dict[int, TaskBase] = {}
        self.described: set[int] = set()
        original_add = self.ctx._add_to_open_tasks

        def record(task: TaskBase) -> None:
            original_add(task)
            _collect(task, self.allocated)

        self.ctx._add_to_open_tasks = record  # type: ignore[method-assign]

    def replay(self, events: list[HistoryEvent], now: float, scheduled: dict[int, dict[str, Any]]) -> EpisodeResult:
        """Run the code from the start over the whole history (what Azure does every episode)."""
        self.ctx._histories = events
        try:
            state_json = self.executor.execute(self.ctx, self.ctx.histories, self.function)
        except Exception as exc:  # the SDK reports orchestrator failures by raising
            return self._result(_failed_state(exc), now, scheduled, check_history=True)
        return self._result(json.loads(state_json), now, scheduled, check_history=True)

    def feed(self, new_events: list[HistoryEvent], now: float, scheduled: dict[int, dict[str, Any]]) -> EpisodeResult:
        """Resume the suspended code with this episode's events only."""
        executor = self.executor
        executor._is_processing_new_events = True
        for event in new_events:
            self.ctx._histories.append(event)
            executor.process_event(event)
            if executor.has_execution_completed:
                break
        try:
            state = json.loads(executor.get_orchestrator_state_str())
        except Exception as exc:
            state = _failed_state(exc)
        return self._result(state, now, scheduled, check_history=False)

    def _result(self, state: dict[str, Any], now: float, scheduled: dict[int, dict[str, Any]],
                check_history: bool) -> EpisodeResult:
        if check_history:
            stray = sorted(k for k in self.ctx.deferred_tasks if isinstance(k, int))
            if stray and not state.get("error") and not state.get("isDone"):
                raise NonDeterminismError(
                    f"Non-Deterministic workflow detected: the history records the completion of task(s) {stray}, "
                    f"which the orchestrator code no longer schedules. Was the code changed while an instance "
                    f"was running?"
                )
        result = EpisodeResult(error=state.get("error"), done=bool(state.get("isDone")), output=state.get("output"),
                               custom_status=state.get("customStatus"))
        for action in _flatten(state.get("actions") or []):
            if action.get("actionType") == 4:
                result.continue_as_new = True
                result.continue_as_new_input = action.get("input")
            elif action.get("actionType") in (7, 9):
                result.error = result.error or "Durable entities are not supported by the local host"
        if result.error is None:
            result.new_work = self._new_work(scheduled, now, check_history)
        return result

    def _new_work(self, scheduled: dict[int, dict[str, Any]], now: float, check_history: bool) -> list[NewWork]:
        work: list[NewWork] = []
        for task_id in sorted(self.allocated.keys() - self.described):
            task = self.allocated[task_id]
            if task_id in scheduled:
                if check_history:
                    _check_matches(_describe(task, self.instance_id, now), scheduled[task_id])
                self.described.add(task_id)
                continue
            if task.state is not TaskState.RUNNING:
                continue
            work.append(_describe(task, self.instance_id, now))
        return work


def _failed_state(exc: Exception) -> dict[str, Any]:
    message = str(exc)
    if OUT_OF_PROC_MARKER in message:
        return json.loads(message.split(OUT_OF_PROC_MARKER, 1)[1])
    return {"isDone": False, "error": message or type(exc).__name__}


def _collect(task: TaskBase, allocated: dict[int, TaskBase]) -> None:
    if isinstance(task, CompoundTask):
        for child in task.children:
            _collect(child, allocated)
    elif isinstance(task, AtomicTask) and isinstance(task.id, int) and task.id >= 0:
        allocated.setdefault(task.id, task)


def _flatten(actions: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in actions:
        if isinstance(item, list):
            out.extend(_flatten(item))
        elif isinstance(item, dict):
            out.append(item)
            out.extend(_flatten(item.get("compoundActions") or []))
    return out


def _describe(task: TaskBase, instance_id: str, now: float) -> NewWork:
    action = task.action_repr[0] if isinstance(task.action_repr, list) else task.action_repr
    retry_of = None
    if isinstance(action, NoOpAction):
        parent = task.parent
        if not isinstance(parent, RetryAbleTask):
            raise NonDeterminismError(f"internal task {task.id} has no retry parent")
        retry_of = parent.children[0].id
        if action.metadata == "-WithRetry timer":
            delay = parent.retry_options.first_retry_interval_in_milliseconds / 1000.0
            return NewWork(task.id, "timer", fire_at=now + delay, retry_of=retry_of)
        action = parent.actions[0] if isinstance(parent.actions, list) else parent.actions
    data = action.to_json()
    kind = ACTIVITY_ACTIONS.get(data.get("actionType"))
    if kind == "timer":
        return NewWork(task.id, "timer", fire_at=parse_datetime(data["fireAt"]).timestamp(),
                       canceled=bool(data.get("isCanceled")), retry_of=retry_of)
    if kind == "http":
        return NewWork(task.id, "activity", name=HTTP_ACTIVITY, input=json.dumps(data.get("httpRequest")),
                       retry_of=retry_of)
    if kind == "suborchestration":
        child_id = data.get("instanceId") or f"{instance_id}:{task.id:04X}"
        return NewWork(task.id, "suborchestration", name=data.get("functionName", ""), input=data.get("input"),
                       child_instance_id=child_id, retry_of=retry_of)
    if kind == "activity":
        return NewWork(task.id, "activity", name=data.get("functionName", ""), input=data.get("input"),
                       retry_of=retry_of)
    raise NonDeterminismError(f"task {task.id}: unsupported action type {data.get('actionType')}")


def _check_matches(item: NewWork, recorded: dict[str, Any]) -> None:
    expected = {
        "activity": EventType.TaskScheduled,
        "timer": EventType.TimerCreated,
        "suborchestration": EventType.SubOrchestrationInstanceCreated,
    }[item.kind]
    recorded_type = EventType(recorded["EventType"])
    same_name = item.kind == "timer" or (recorded.get("Name") or "").lower() == item.name.lower()
    if recorded_type is not expected or not same_name:
        raise NonDeterminismError(
            f"Non-Deterministic workflow detected: a previous execution of this orchestration scheduled "
            f"{recorded_type.name} {recorded.get('Name') or ''} with sequence number {recorded['EventId']}, "
            f"but the orchestrator code now schedules {expected.name} {item.name} there. "
            f"Was the code changed while an instance was running?"
        )
