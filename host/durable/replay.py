"""Run an orchestrator through the Durable SDK's own replay code, and say what it asks for next.

This is what the worker's `Orchestrator.handle` does, except that we keep the SDK's context object:
its task table tells us exactly which sequence ids the code allocated, including the hidden ids of retry
timers and re-attempts, so new work gets the ids the SDK expects (reference/durable-protocol.md §1.7,
strategy B). Runs in a worker thread: the OpenAI Agents integration calls `Runner.run_sync`, which
refuses to run under an event loop.

Azure replays an out-of-process orchestrator from the start of its history on every episode, which costs
O(n^2) over a long job. Like the extension's extended sessions, a session is kept between episodes when
that is safe and is fed only each episode's new events (`feed`), with work proportional to them: a plain
generator orchestrator stays suspended in the SDK's executor, and the SDK's OpenAI agent wrapper runs its
agent on a thread that waits for the next result (`agent_session`). Anything else - an orchestrator that
returns a generator from a plain function, say - is replayed whole on every episode, as on Azure. A new
session (a restart, an eviction from the host's cache) always starts with a full replay (`replay`). With
`keep=False` (`Replay.AZURE`) nothing is kept: every episode is a full replay through the SDK's own code,
its agent wrapper included.
"""
from __future__ import annotations

import importlib
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

from host.durable.agent_session import live_agent_orchestrator
from host.durable.events import EventType, to_sdk_event

ACTIVITY_ACTIONS = {0: "activity", 1: "activity", 2: "suborchestration", 3: "suborchestration", 5: "timer", 8: "http"}
CONTINUE_AS_NEW_ACTION = 4
ENTITY_ACTIONS = (7, 9)
ENTITIES_UNSUPPORTED = "Durable entities are not supported by the local host"
HTTP_ACTIVITY = "BuiltIn::HttpActivity"

# A completion the code never asked for is how the SDK sees a changed orchestrator; we detect
# that ourselves (below), so its warning is noise.
warnings.filterwarnings("ignore", message="Potential duplicate Task completion")

# Two costs the SDK pays per new orchestration session, paid once here (issue 10, item 3): its context parses
# the events it is built with by dateutil (it gets the host's events instead: ISO 8601 in UTC, parsed when
# read), and its executor builds a namedtuple class (a new executor takes the prototype's table).
importlib.import_module(DurableOrchestrationContext.__module__).HistoryEvent = lambda **data: to_sdk_event(data)
_EXECUTOR_PROTOTYPE = TaskOrchestrationExecutor()


def _new_executor() -> TaskOrchestrationExecutor:
    executor = TaskOrchestrationExecutor.__new__(TaskOrchestrationExecutor)
    executor.event_to_SetTaskValuePayload = _EXECUTOR_PROTOTYPE.event_to_SetTaskValuePayload
    executor.task_completion_events = _EXECUTOR_PROTOTYPE.task_completion_events
    executor.initialize()
    return executor


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
    """What the orchestrator code decided in one episode (the SDK's OrchestratorState, read directly)."""

    done: bool = False
    output: Any = None
    error: str | None = None
    custom_status: Any = None  # None when the code set none, or a falsy one (the SDK drops those)
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
    """One orchestration's SDK state; `reusable` when it can be fed episode by episode."""

    def __init__(self, handle: Callable[..., Any], *, instance_id: str, parent_instance_id: str | None,
                 input_value: Any, head: list[dict[str, Any]], keep: bool = True):
        self.function = orchestrator_function(handle)
        self._live = live_agent_orchestrator(self.function) if keep else None
        self.reusable = keep and (self._live is not None or inspect.isgeneratorfunction(self.function))
        self.holds_thread = self._live is not None
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
        self.executor = _new_executor()
        self._allocated: set[int] = set()
        self._fresh: list[TaskBase] = []  # tasks given a sequence id since the last episode, in id order
        self._actions_seen = 0
        original_add = self.ctx._add_to_open_tasks

        def record(task: TaskBase) -> None:
            original_add(task)
            _collect(task, self._allocated, self._fresh)

        self.ctx._add_to_open_tasks = record  # type: ignore[method-assign]

    def replay(self, events: list[HistoryEvent], now: float, scheduled: dict[int, dict[str, Any]]) -> EpisodeResult:
        """Run the code from the start over the whole history (what Azure does every episode);
        `scheduled` indexes every scheduling event of the history by task id."""
        self.ctx._histories = events
        try:
            self.executor.execute(self.ctx, self.ctx.histories, self._live or self.function)
        except Exception:  # the SDK reports an orchestrator's failure by raising; it is in executor.exception
            if self.executor.exception is None:
                raise
        return self._result(now, scheduled, check_history=True)

    def feed(self, new_events: list[HistoryEvent], now: float, open_tasks: dict[int, dict[str, Any]]) -> EpisodeResult:
        """Resume the suspended code with this episode's events only."""
        executor = self.executor
        executor._is_processing_new_events = True
        history = self.ctx._histories
        for event in new_events:
            history.append(event)
            executor.process_event(event)
            if executor.has_execution_completed:
                break
        return self._result(now, open_tasks, check_history=False)

    def close(self) -> None:
        """Drop the session (ends a live agent's thread)."""
        if self._live is not None:
            self._live.close()

    def _result(self, now: float, scheduled: dict[int, dict[str, Any]], check_history: bool) -> EpisodeResult:
        executor, ctx = self.executor, self.ctx
        if executor.output is not None:  # as the SDK's get_orchestrator_state_str: an output must be JSON
            try:
                json.dumps(executor.output)
            except Exception as exc:
                executor.output, executor.exception = None, exc
        error = None
        if executor.exception is not None:
            error = str(executor.exception) or str(type(executor.exception))
        elif check_history:
            stray = sorted(k for k in ctx.deferred_tasks if isinstance(k, int))
            if stray and not executor.orchestration_invocation_succeeded:
                raise NonDeterminismError(
                    f"Non-Deterministic workflow detected: the history records the completion of task(s) {stray}, "
                    f"which the orchestrator code no longer schedules. Was the code changed while an instance "
                    f"was running?"
                )
        result = EpisodeResult(done=executor.orchestration_invocation_succeeded, output=executor.output,
                               error=error, custom_status=ctx.custom_status or None)
        actions = ctx._action_payload_v2
        for action in actions[self._actions_seen:]:
            kind = action.action_type
            if kind == CONTINUE_AS_NEW_ACTION:
                result.continue_as_new, result.continue_as_new_input = True, action.input_
            elif kind in ENTITY_ACTIONS:
                result.error = result.error or ENTITIES_UNSUPPORTED
        self._actions_seen = len(actions)
        fresh, self._fresh = self._fresh, []
        if result.error is None:
            result.new_work = self._new_work(fresh, scheduled, now, check_history)
        return result

    def _new_work(self, fresh: list[TaskBase], scheduled: dict[int, dict[str, Any]], now: float,
                  check_history: bool) -> list[NewWork]:
        work: list[NewWork] = []
        for task in fresh:
            if task.id in scheduled:
                if check_history:
                    _check_matches(_describe(task, self.instance_id, now), scheduled[task.id])
                continue
            if task.state is TaskState.RUNNING:
                work.append(_describe(task, self.instance_id, now))
        return work


def _collect(task: TaskBase, allocated: set[int], fresh: list[TaskBase]) -> None:
    if isinstance(task, CompoundTask):
        for child in task.children:
            _collect(child, allocated, fresh)
    elif isinstance(task, AtomicTask) and isinstance(task.id, int) and task.id >= 0 and task.id not in allocated:
        allocated.add(task.id)
        fresh.append(task)


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
    if data.get("actionType") in ENTITY_ACTIONS:
        raise UnsupportedFeature(ENTITIES_UNSUPPORTED)
    raise NonDeterminismError(f"task {task.id}: unsupported action type {data.get('actionType')}")


class UnsupportedFeature(Exception):
    """The code uses a Durable feature the local host does not provide."""


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
