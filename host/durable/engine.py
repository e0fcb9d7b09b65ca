"""The durable engine: runs orchestrator episodes, activities, timers and sub-orchestrations.

Everything that changes state goes through `HistoryStore` first and takes effect (an
activity dispatched, a timer armed, a parent woken) only after the commit, so a SIGKILL at
any point leaves a store from which `start()` picks up: inboxes are replayed, activities
that were scheduled but not recorded run again (at least once), and timers are re-armed
(firing late if their time passed while the host was down). An activity whose completion
was committed is never run again.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import OrderedDict
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Iterable

from azure.durable_functions.models.history.HistoryEvent import HistoryEvent

from host.durable import events as he
from host.durable.activities import execute_activity
from host.durable.config import EngineConfig
from host.durable.errors import (
    EngineError,
    InstanceEnded,
    InstanceExists,
    InstanceNotFound,
    PayloadTooLarge,
    UnknownFunction,
)
from host.durable.events import EventType
from host.durable.replay import NewWork, NonDeterminismError, OrchestratorSession
from host.durable.rewind import plan_rewind
from host.durable.store import (
    TERMINAL_STATUSES,
    EpisodeCommit,
    HistoryStore,
    InstanceGone,
    InstanceRow,
    PendingActivity,
    PendingTimer,
    dumps,
)
from host.functions.invoker import FunctionInvoker
from host.functions.loader import AppFunction, LoadedApp

log = logging.getLogger("host.engine")

LIVE_STATUSES = ("Pending", "Running", "Suspended", "ContinuedAsNew")


@dataclass
class InstanceState:
    """The in-memory copy of one instance's history, so a step does not re-read or re-parse it."""

    row: InstanceRow
    history: list[dict[str, Any]] = field(default_factory=list)
    parsed: list[HistoryEvent] = field(default_factory=list)
    scheduled: dict[int, dict[str, Any]] = field(default_factory=dict)
    completed: set[int] = field(default_factory=set)
    session: OrchestratorSession | None = None

    def append(self, events: list[dict[str, Any]], parsed: list[HistoryEvent]) -> None:
        self.history.extend(events)
        self.parsed.extend(parsed)
        for ev in events:
            _index_event(self, ev)


def _index_event(state: InstanceState, ev: dict[str, Any]) -> None:
    kind = ev["EventType"]
    if kind in (EventType.TaskScheduled, EventType.TimerCreated, EventType.SubOrchestrationInstanceCreated):
        state.scheduled[ev["EventId"]] = ev
    else:
        key = he.COMPLETION_EVENTS.get(EventType(kind)) if kind in he.COMPLETION_EVENTS else None
        if key:
            state.completed.add(ev[key])


@dataclass
class Intake:
    """What one episode takes in: inbox rows (durable) and activity results handed over in memory."""

    inbox_ids: list[int] = field(default_factory=list)
    delivered: list[tuple[PendingActivity, dict[str, Any]]] = field(default_factory=list)

    @property
    def delivered_activities(self) -> list[PendingActivity]:
        return [item for item, _ in self.delivered]


class Engine:
    """Owns the scheduling of every instance; the management API and the MCP layer call into it."""

    def __init__(self, app: LoadedApp, store: HistoryStore, invoker: FunctionInvoker,
                 orchestrator_pool: Executor, config: EngineConfig | None = None):
        self.app = app
        self.store = store
        self.invoker = invoker
        self.config = config or EngineConfig()
        self._pool = orchestrator_pool
        self._cache: OrderedDict[str, InstanceState] = OrderedDict()
        self._ready: set[str] = set()
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._activity_slots: asyncio.Semaphore | None = None
        self._listeners: dict[str, list[asyncio.Future]] = {}
        self._mailbox: dict[str, list[tuple[PendingActivity, dict[str, Any]]]] = {}
        # Instances that may have rows in their durable inbox. An episode woken only by activity
        # results handed over in memory skips the inbox query.
        self._inbox_hint: set[str] = set()
        self._stopping = False

    # ---- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Pick up where the last process stopped: re-arm timers, re-run unrecorded activities, drain inboxes."""
        self._activity_slots = asyncio.Semaphore(self.config.max_concurrent_activities)
        for timer in self.store.pending_timers():
            self._arm_timer(timer)
        for activity in self.store.pending_activities():
            self._spawn(self._run_activity(activity))
        for instance_id in self.store.instances_with_inbox():
            self._mark_ready(instance_id)

    async def stop(self) -> None:
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- management operations ----------------------------------------------------------------
    def check_payload(self, what: str, text: str | None) -> None:
        if text is not None and len(text.encode()) > self.config.max_payload_bytes:
            raise PayloadTooLarge(
                f"{what} is {len(text.encode())} bytes, over the local host's limit of "
                f"{self.config.max_payload_bytes} bytes"
            )

    async def start_new(self, name: str, instance_id: str | None = None, input_value: Any = None,
                        replace_terminal: bool = True) -> str:
        orchestrator = self.app.orchestrator(name)
        if orchestrator is None:
            raise UnknownFunction(f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function.")
        instance_id = instance_id or uuid.uuid4().hex
        if instance_id.startswith("@") or not instance_id.strip() or len(instance_id) > 256:
            raise EngineError(f"Invalid instance id {instance_id!r}")
        input_json = None if input_value is None else dumps(input_value)
        self.check_payload("The orchestration input", input_json)
        now = time.time()
        execution_id = uuid.uuid4().hex
        row = InstanceRow(instance_id, orchestrator.durable_name, execution_id, "Pending", input_json, None, None,
                          now, now)
        started = he.execution_started(now, row.name, instance_id, execution_id, input_json)
        created = await self.store.write(self.store.op_create_instance(row, dumps(started), replace_terminal))
        if not created:
            raise InstanceExists(f"An instance with ID '{instance_id}' already exists and is not in a terminal state.")
        self._cache.pop(instance_id, None)
        self._mark_ready(instance_id)
        return instance_id

    def get_instance(self, instance_id: str) -> InstanceRow | None:
        return self.store.get_instance(instance_id)

    def get_history(self, instance_id: str) -> list[dict[str, Any]]:
        return [json.loads(ev) for ev in self.store.load_history(instance_id)]

    async def raise_event(self, instance_id: str, name: str, value: Any) -> None:
        input_json = dumps(value)
        self.check_payload("The event data", input_json)
        await self._enqueue_control(instance_id, he.event_raised(time.time(), name, input_json))

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        await self._enqueue_control(instance_id, he.event(EventType.ExecutionTerminated, time.time(), Input=reason))

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        await self._enqueue_control(instance_id, he.event(EventType.ExecutionSuspended, time.time(), Reason=reason))

    async def resume(self, instance_id: str, reason: str | None) -> None:
        await self._enqueue_control(instance_id, he.event(EventType.ExecutionResumed, time.time(), Reason=reason))

    async def _enqueue_control(self, instance_id: str, event: dict[str, Any]) -> None:
        status = await self.store.write(self.store.op_enqueue(instance_id, dumps(event), only_if_status=LIVE_STATUSES))
        if status is None:
            raise InstanceNotFound(f"No instance with ID '{instance_id}' was found.")
        if status in TERMINAL_STATUSES:
            raise InstanceEnded(f"The instance '{instance_id}' is in the {status} state.")
        self._mark_ready(instance_id)

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        """Continue a failed instance from its failure; recorded steps are not run again."""
        row = self.store.get_instance(instance_id)
        if row is None:
            raise InstanceNotFound(f"No instance with ID '{instance_id}' was found.")
        if row.status != "Failed":
            raise InstanceEnded("Rewind is only supported on failed orchestration instances.")
        history = self.get_history(instance_id)
        plan = plan_rewind(history)
        for child_id in plan.children_to_rewind:
            child = self.store.get_instance(child_id)
            if child is not None and child.status == "Failed":
                await self.rewind(child_id, reason)
        wake = he.event(EventType.GenericEvent, time.time(), Data=f"rewind: {reason or ''}")
        await self.store.write(self.store.op_rewrite_history(
            instance_id, "Running", [dumps(ev) for ev in plan.history], dumps(wake)))
        self._cache.pop(instance_id, None)
        activities = [PendingActivity(instance_id, row.execution_id, ev["EventId"], ev["Name"], ev.get("Input"))
                      for ev in plan.activities_to_rerun]
        timers = [PendingTimer(instance_id, row.execution_id, timer_id, fire_at)
                  for timer_id, fire_at in plan.timers_to_rearm]
        await self.store.write(self.store.op_rearm(activities, timers))
        for activity in activities:
            self._spawn(self._run_activity(activity))
        for timer in timers:
            self._arm_timer(timer)
        for task_id, child_id in plan.pending_children:
            child = self.store.get_instance(child_id)
            if child is not None and child.status == "Failed":
                await self.rewind(child_id, reason)
            elif child is not None and child.status == "Completed":
                done = he.event(EventType.SubOrchestrationInstanceCompleted, time.time(), TaskScheduledId=task_id,
                                Result=child.output)
                await self.store.write(self.store.op_enqueue(instance_id, dumps(done)))
        self._mark_ready(instance_id)

    async def restart(self, instance_id: str, new_instance_id: bool) -> str:
        row = self.store.get_instance(instance_id)
        if row is None:
            raise InstanceNotFound(f"No instance with ID '{instance_id}' was found.")
        input_value = None if row.input is None else json.loads(row.input)
        return await self.start_new(row.name, None if new_instance_id else instance_id, input_value)

    async def purge(self, instance_id: str) -> int:
        self._cache.pop(instance_id, None)
        return await self.store.write(self.store.op_purge(instance_id))

    async def purge_by(self, statuses: Iterable[str] | None, created_from: float | None,
                       created_to: float | None) -> int:
        self._cache.clear()
        return await self.store.write(self.store.op_purge_by(statuses, created_from, created_to))

    async def wait_for_change(self, instance_id: str, timeout: float) -> None:
        """Return when the instance next commits a step, or after `timeout` seconds."""
        future = asyncio.get_running_loop().create_future()
        self._listeners.setdefault(instance_id, []).append(future)
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            waiting = self._listeners.get(instance_id, [])
            if future in waiting:
                waiting.remove(future)
            if not waiting:
                self._listeners.pop(instance_id, None)

    def _notify(self, instance_id: str) -> None:
        for future in self._listeners.pop(instance_id, []):
            if not future.done():
                future.set_result(None)

    # ---- scheduling -----------------------------------------------------------------------------
    def _mark_ready(self, instance_id: str, inbox: bool = True) -> None:
        """Schedule an episode; `inbox=False` when the wake-up is only an in-memory activity result."""
        if self._stopping:
            return
        if inbox:
            self._inbox_hint.add(instance_id)
        self._ready.add(instance_id)
        if instance_id not in self._running:
            self._running.add(instance_id)
            self._spawn(self._drain(instance_id))

    async def _drain(self, instance_id: str) -> None:
        try:
            while instance_id in self._ready:
                self._ready.discard(instance_id)
                try:
                    await self._episode(instance_id)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("episode of %s failed in the host", instance_id)
                    self._cache.pop(instance_id, None)
        finally:
            self._running.discard(instance_id)

    def _load_state(self, instance_id: str) -> InstanceState | None:
        state = self._cache.get(instance_id)
        if state is not None:
            self._cache.move_to_end(instance_id)
            return state
        row = self.store.get_instance(instance_id)
        if row is None:
            return None
        state = InstanceState(row)
        events = [json.loads(text) for text in self.store.load_history(instance_id)]
        state.append(events, [he.to_sdk_event(ev) for ev in events])
        self._cache[instance_id] = state
        while len(self._cache) > self.config.cache_size:
            self._cache.popitem(last=False)
        return state

    async def _episode(self, instance_id: str) -> None:
        has_inbox = instance_id in self._inbox_hint
        self._inbox_hint.discard(instance_id)
        inbox = self.store.load_inbox(instance_id) if has_inbox else []
        delivered = self._mailbox.pop(instance_id, [])
        if not inbox and not delivered:
            return
        state = self._load_state(instance_id)
        if state is None:
            return
        row = state.row
        now = time.time()
        intake = Intake()
        control: list[dict[str, Any]] = []
        new_events: list[dict[str, Any]] = []
        terminate_reason: str | None = None
        terminated = False
        status = row.status
        left_behind = False
        for rowid, text in inbox:
            ev = json.loads(text)
            kind = ev["EventType"]
            if row.is_terminal:
                intake.inbox_ids.append(rowid)
                continue
            if kind == EventType.ExecutionTerminated:
                intake.inbox_ids.append(rowid)
                terminated, terminate_reason = True, ev.get("Input")
                control.append(ev)
                break
            if kind in (EventType.ExecutionSuspended, EventType.ExecutionResumed):
                intake.inbox_ids.append(rowid)
                status = "Suspended" if kind == EventType.ExecutionSuspended else "Running"
                control.append(ev)
                continue
            if status == "Suspended":
                left_behind = True
                continue
            intake.inbox_ids.append(rowid)
            if not _is_stale(state, ev):
                new_events.append(ev)
        if row.is_terminal:
            await self.store.write(self.store.op_delete_inbox(intake.inbox_ids))
            return
        if terminated:
            await self._finish(state, intake, control, "Terminated", dumps(terminate_reason), now,
                               failure_reason=f"Sub-orchestration terminated: {terminate_reason}")
            return
        if status == "Suspended":
            await self._persist_results(delivered)
        else:
            for item, ev in delivered:
                if item.execution_id == row.execution_id and not _is_stale(state, ev):
                    intake.delivered.append((item, ev))
                    new_events.append(ev)
        if not new_events:
            row.status = status if status != "Pending" else row.status
            await self._commit(state, EpisodeCommit(row, intake.inbox_ids, [], [], [], []), intake, control, [])
            if left_behind and status != "Suspended":
                self._mark_ready(instance_id)
            return
        await self._replay_and_commit(state, intake, control, new_events, now)
        if left_behind and state.row.status not in ("Suspended", *TERMINAL_STATUSES):
            self._mark_ready(instance_id)

    async def _persist_results(self, delivered: list[tuple[PendingActivity, dict[str, Any]]]) -> None:
        """Results for a suspended instance wait in its durable inbox, not in memory."""
        for item, ev in delivered:
            await self.store.write(
                self.store.op_complete_activity(item.instance_id, item.execution_id, item.task_id, dumps(ev)))

    async def _replay_and_commit(self, state: InstanceState, intake: Intake, control: list[dict[str, Any]],
                                 new_events: list[dict[str, Any]], now: float) -> None:
        row = state.row
        episode = control + [he.event(EventType.OrchestratorStarted, now)] + new_events
        parsed_new = [he.to_sdk_event(ev) for ev in episode]
        for ev in state.parsed:
            ev._is_played = True
        events = state.parsed + parsed_new
        full = state.history + episode
        orchestrator = self.app.orchestrator(row.name)
        result = None
        error: str | None = None
        starts = [ev for ev in full if ev["EventType"] == EventType.ExecutionStarted]
        if orchestrator is None:
            error = f"The function '{row.name}' doesn't exist, is disabled, or is not an orchestrator function."
        elif not starts:
            error = "The instance's history has no ExecutionStarted event."
        else:
            head = [next(ev for ev in full if ev["EventType"] == EventType.OrchestratorStarted), starts[0]]
            input_value = _context_input(row.input)
            try:
                result = await asyncio.get_running_loop().run_in_executor(self._pool, partial(
                    self._run_orchestrator, state, orchestrator, head, input_value, events, parsed_new, now))
            except NonDeterminismError as exc:
                state.session = None
                error = str(exc)
            except Exception as exc:  # the SDK itself broke on this history
                state.session = None
                error = f"{type(exc).__name__}: {exc}"
            else:
                error = result.error
        if error is None and result is not None:
            error = self._check_result_size(result)
        if error is not None:
            message = f"Orchestrator function '{row.name}' failed: {error}"
            await self._finish(state, intake, episode, "Failed", dumps(message), now,
                               failure_reason=message, parsed=parsed_new,
                               custom_status=result.custom_status if result else None)
            return
        assert result is not None
        if result.done and result.continue_as_new:
            await self._continue_as_new(state, intake, result, now)
            return
        if result.done:
            await self._finish(state, intake, episode, "Completed", dumps(result.output), now, parsed=parsed_new,
                               custom_status=result.custom_status)
            return
        scheduling, activities, timers, children = self._schedule(row, result.new_work, now)
        episode = episode + scheduling + [he.event(EventType.OrchestratorCompleted, now)]
        parsed_new = parsed_new + [he.to_sdk_event(ev) for ev in episode[len(parsed_new):]]
        row.status = "Running"
        row.custom_status = None if result.custom_status is None else dumps(result.custom_status)
        row.updated_at = now
        commit = EpisodeCommit(row, intake.inbox_ids, [], activities, timers, children)
        await self._commit(state, commit, intake, episode, parsed_new)

    @staticmethod
    def _run_orchestrator(state: InstanceState, orchestrator: AppFunction, head: list[dict[str, Any]],
                          input_value: Any, events: list[HistoryEvent], new_events: list[HistoryEvent],
                          now: float) -> Any:
        """Runs in an orchestrator thread: resume the kept session, or replay the whole history."""
        if state.session is not None:
            return state.session.feed(new_events, now, state.scheduled)
        session = OrchestratorSession(orchestrator.user_function, instance_id=state.row.instance_id,
                                      parent_instance_id=state.row.parent_instance_id, input_value=input_value,
                                      head=head)
        result = session.replay(events, now, state.scheduled)
        state.session = session if session.reusable else None
        return result

    def _check_result_size(self, result: Any) -> str | None:
        for work in result.new_work:
            if work.input is not None and len(work.input.encode()) > self.config.max_payload_bytes:
                return (f"the input of {work.kind} '{work.name}' is {len(work.input.encode())} bytes, over the "
                        f"local host's limit of {self.config.max_payload_bytes} bytes")
        if result.done and not result.continue_as_new:
            size = len(dumps(result.output).encode())
            if size > self.config.max_payload_bytes:
                return f"the output is {size} bytes, over the local host's limit of {self.config.max_payload_bytes} bytes"
        return None

    def _schedule(self, row: InstanceRow, work: list[NewWork], now: float):
        scheduling: list[dict[str, Any]] = []
        activities: list[PendingActivity] = []
        timers: list[PendingTimer] = []
        children: list[tuple[InstanceRow, str]] = []
        for item in work:
            extra = {} if item.retry_of is None else {"RetryOf": item.retry_of}
            if item.kind == "timer":
                if item.canceled:
                    continue
                scheduling.append(he.event(EventType.TimerCreated, now, item.task_id, FireAt=he.iso(item.fire_at),
                                           **extra))
                timers.append(PendingTimer(row.instance_id, row.execution_id, item.task_id, item.fire_at))
            elif item.kind == "activity":
                scheduling.append(he.event(EventType.TaskScheduled, now, item.task_id, Name=item.name,
                                           Input=item.input, **extra))
                activities.append(PendingActivity(row.instance_id, row.execution_id, item.task_id, item.name,
                                                  item.input))
            else:
                child_id = item.child_instance_id or f"{row.instance_id}:{item.task_id:04X}"
                scheduling.append(he.event(EventType.SubOrchestrationInstanceCreated, now, item.task_id,
                                           Name=item.name, InstanceId=child_id, Input=item.input, **extra))
                execution_id = uuid.uuid4().hex
                child_input = None if item.input is None else dumps(item.input)
                orchestrator = self.app.orchestrator(item.name)
                name = orchestrator.durable_name if orchestrator else item.name
                child = InstanceRow(child_id, name, execution_id, "Pending", child_input, None, None, now, now,
                                    row.instance_id, item.task_id, row.execution_id)
                parent = {"Name": row.name, "TaskScheduleId": item.task_id,
                          "OrchestrationInstance": {"InstanceId": row.instance_id, "ExecutionId": row.execution_id}}
                started = he.execution_started(now, name, child_id, execution_id, child_input, parent)
                children.append((child, dumps(started)))
        return scheduling, activities, timers, children

    async def _continue_as_new(self, state: InstanceState, intake: Intake, result: Any, now: float) -> None:
        row = state.row
        row.execution_id = uuid.uuid4().hex
        row.input = None if result.continue_as_new_input is None else dumps(result.continue_as_new_input)
        row.status = "Running"
        row.output = None
        row.custom_status = None if result.custom_status is None else dumps(result.custom_status)
        row.updated_at = now
        started = he.execution_started(now, row.name, row.instance_id, row.execution_id, row.input)
        commit = EpisodeCommit(row, intake.inbox_ids, [], [], [], [], reset_history=True,
                               enqueue=[(row.instance_id, dumps(started))])
        await self._commit(state, commit, intake, [], [])

    async def _finish(self, state: InstanceState, intake: Intake, episode: list[dict[str, Any]], status: str,
                      output_json: str, now: float, failure_reason: str | None = None,
                      parsed: list[HistoryEvent] | None = None, custom_status: Any = None) -> None:
        row = state.row
        closing = [he.event(EventType.OrchestratorCompleted, now)] if any(
            ev["EventType"] == EventType.OrchestratorStarted for ev in episode) else []
        closing.append(he.event(EventType.ExecutionCompleted, now, OrchestrationStatus=status, Result=output_json))
        row.status = status
        row.output = output_json
        if custom_status is not None:
            row.custom_status = dumps(custom_status)
        row.updated_at = now
        enqueue = []
        if row.parent_instance_id and row.parent_task_id is not None:
            if status == "Completed":
                parent_event = he.event(EventType.SubOrchestrationInstanceCompleted, now,
                                        TaskScheduledId=row.parent_task_id, Result=output_json)
            else:
                parent_event = he.event(EventType.SubOrchestrationInstanceFailed, now,
                                        TaskScheduledId=row.parent_task_id, Reason=failure_reason,
                                        Details=json.loads(output_json) if status == "Failed" else None)
            enqueue.append((row.parent_instance_id, dumps(parent_event)))
        commit = EpisodeCommit(row, intake.inbox_ids, [], [], [], [], finished=True, enqueue=enqueue)
        await self._commit(state, commit, intake, episode + closing, None)

    async def _commit(self, state: InstanceState, commit: EpisodeCommit, intake: Intake,
                      episode: list[dict[str, Any]], parsed: list[HistoryEvent] | None) -> None:
        row = state.row
        base = 0 if commit.reset_history else len(state.history)
        commit.new_history = [(base + i, dumps(ev)) for i, ev in enumerate(episode)]
        commit.delivered = intake.delivered_activities
        try:
            started_children = await self.store.write(self.store.op_commit_episode(commit))
        except InstanceGone:
            self._cache.pop(row.instance_id, None)
            return
        except Exception:
            self._cache.pop(row.instance_id, None)
            if intake.delivered:  # not recorded: hand the results to the next episode
                self._mailbox.setdefault(row.instance_id, [])[:0] = intake.delivered
                self._mark_ready(row.instance_id)
            raise
        if commit.finished:
            self._cache.pop(row.instance_id, None)
        elif commit.reset_history:
            state.history, state.parsed, state.scheduled, state.completed = [], [], {}, set()
            state.session = None
        else:
            state.append(episode, parsed if parsed is not None else [he.to_sdk_event(ev) for ev in episode])
        for activity in commit.activities:
            self._spawn(self._run_activity(activity))
        for timer in commit.timers:
            self._arm_timer(timer)
        for child_id in started_children:
            self._mark_ready(child_id)
        for target, _ in commit.enqueue:
            self._mark_ready(target)
        self._notify(row.instance_id)

    # ---- activities and timers ----------------------------------------------------------------------
    async def _run_activity(self, item: PendingActivity) -> None:
        assert self._activity_slots is not None
        async with self._activity_slots:
            event = await execute_activity(self.app, self.invoker, item, self.config.max_payload_bytes)
        # The result is recorded by the orchestrator's next episode, in the same commit as its history
        # (one fsync per step, not two). Until then it is only in memory: a crash re-runs the activity,
        # which at-least-once semantics allow; a recorded result is never run again.
        self._mailbox.setdefault(item.instance_id, []).append((item, event))
        self._mark_ready(item.instance_id, inbox=False)

    def _arm_timer(self, timer: PendingTimer) -> None:
        if self._stopping:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, timer.fire_at - time.time())
        loop.call_later(delay, lambda: self._spawn(self._fire_timer(timer)))

    async def _fire_timer(self, timer: PendingTimer) -> None:
        event = he.timer_fired(time.time(), timer.timer_id, he.iso(timer.fire_at))
        fired = await self.store.write(
            self.store.op_fire_timer(timer.instance_id, timer.execution_id, timer.timer_id, dumps(event)))
        if fired:
            self._mark_ready(timer.instance_id)


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


def _is_stale(state: InstanceState, ev: dict[str, Any]) -> bool:
    """A completion for a task this execution never scheduled, or one already recorded, is dropped."""
    kind = ev["EventType"]
    if kind not in he.COMPLETION_EVENTS:
        return False
    task_id = ev.get(he.COMPLETION_EVENTS[EventType(kind)])
    return task_id not in state.scheduled or task_id in state.completed
