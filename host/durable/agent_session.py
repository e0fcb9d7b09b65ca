"""Keep a durable OpenAI agent orchestrator's agent loop alive between episodes (issue 10, item 1).

The SDK's `durable_openai_agent_orchestrator` wrapper runs the app's function (which calls
`Runner.run_sync`) from the start on every episode: each model or tool call whose result the history
already holds is answered from it (the n-th call gets the n-th TaskCompleted result), and the first call
without one raises `YieldException`, which unwinds the agent and ends the episode. Replayed like that,
turn n re-runs the n - 1 turns before it, and a job costs O(turns^2).

For any app's wrapper (recognised by the SDK's own wrapper code, azure-functions-durable 1.x), this module
runs the app's function in a thread of its own (no event loop runs there, as `Runner.run_sync` requires),
and a call without a result *parks* that thread instead of raising: the SDK's executor gets the same tasks
in the same order as the SDK's own generator yields them in a replay (so they get the same sequence ids and
the history written is the same), the episode ends, and the next one, fed only its new events, wakes the
agent where it stopped. A new session (after a restart, an eviction, or on a host that replays) starts by
replaying the history through the same code, so a job started on one host version resumes on another.

While the agent runs, the context's `current_utc_datetime` is the one of the step that started it, as in a
replay (where a step runs whole while one event is processed). `Runner.run_sync` goes through the agents
SDK's process-wide default runner, which the wrapper sets at the start of every episode with its module's
`set_default_agent_runner`; here the agent's thread calls that same function each time it goes on, so an
app gets what it would get on Azure: with the SDK's function, one process-wide runner that concurrent
agents can take from each other; with an app's own (orchestrations/agents/runners.py), whatever it does.
The host installs no runner of its own.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import queue
import threading
from functools import partial
from types import CodeType
from typing import Any, Callable, Generator

from azure.durable_functions.models.history.HistoryEventType import HistoryEventType
from azure.durable_functions.openai_agents import orchestrator_generator
from azure.durable_functions.openai_agents.context import DurableAIAgentContext
from azure.durable_functions.openai_agents.runner import DurableOpenAIRunner
from azure.durable_functions.openai_agents.task_tracker import TaskTracker
from azure.durable_functions.openai_agents.usage_telemetry import UsageTelemetry

_PARK, _YIELD, _RETURN, _RAISE = "park", "yield", "return", "raise"


class SessionClosed(BaseException):
    """Raised in a parked agent thread whose session the host dropped, to unwind it."""


def live_agent_orchestrator(fn: Callable[..., Any]) -> "LiveAgentOrchestrator | None":
    """For the SDK's `durable_openai_agent_orchestrator` wrapper, an equivalent orchestrator function whose
    agent stays alive between episodes; None for any other function (it is replayed as usual)."""
    code = getattr(fn, "__code__", None)
    if code is None or code is not _wrapper_code() or not getattr(fn, "__closure__", None):
        return None
    cells = dict(zip(code.co_freevars, (cell.cell_contents for cell in fn.__closure__)))
    try:
        return LiveAgentOrchestrator(cells["func"], cells["model_retry_options"], cells["activity_name"])
    except KeyError:
        return None


def _wrapper_code() -> CodeType | None:
    """The code object of the SDK's `generator_wrapper` (the function its decorator returns)."""
    global _WRAPPER_CODE
    if _WRAPPER_CODE is False:
        from azure.durable_functions.decorators.durable_app import Blueprint

        _WRAPPER_CODE = _nested_code(Blueprint.durable_openai_agent_orchestrator.__code__,
                                     ("generator_wrapper_wrapper", "generator_wrapper"))
    return _WRAPPER_CODE


_WRAPPER_CODE: Any = False


def _nested_code(code: CodeType, names: tuple[str, ...]) -> CodeType | None:
    for const in code.co_consts:
        if isinstance(const, CodeType) and const.co_name == names[0]:
            return const if len(names) == 1 else _nested_code(const, names[1:])
    return None


class LiveAgentOrchestrator:
    """The orchestrator function the host runs instead of the SDK's wrapper; `close()` ends its agent thread."""

    def __init__(self, func: Callable[..., Any], model_retry_options: Any, activity_name: str):
        self.func = func
        self.model_retry_options = model_retry_options
        self.activity_name = activity_name
        self.run: AgentRun | None = None

    def __call__(self, context: Any) -> Generator[Any, Any, Any]:
        self.run = AgentRun(self.func, context, self.model_retry_options, self.activity_name)
        return self.run.generator()

    def close(self) -> None:
        if self.run is not None:
            self.run.close()


class AgentRun:
    """One orchestration's agent: the SDK's wrapper set-up, with the app's function on its own thread."""

    def __init__(self, func: Callable[..., Any], context: Any, model_retry_options: Any, activity_name: str):
        UsageTelemetry.log_usage_once()
        self.ctx = context
        self.tracker = _ParkingTracker(context, self)
        agent_context = DurableAIAgentContext(context, self.tracker, model_retry_options)
        self.runner = DurableOpenAIRunner(context=agent_context, activity_name=activity_name)
        self.call = partial(func, agent_context)
        self.is_generator = inspect.isgeneratorfunction(func)
        self._to_agent: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._to_driver: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._step_time: Any = None

    # ---- the driver: the thread that runs the SDK's executor ----------------------------------------
    def generator(self) -> Generator[Any, Any, Any]:
        """What the SDK's `TaskTracker.execute_orchestrator_function` yields, in the same order."""
        try:
            outcome = self._step("start")
            if self.is_generator:
                return (yield from self._drive(outcome))
            try:
                outcome = yield from self._through_parks(outcome)
                if outcome[0] == _RAISE:
                    raise outcome[1]
                return TaskTracker._durable_serializer(outcome[1])
            finally:
                yield from self._queued()
        finally:
            self.close()

    def _drive(self, outcome: tuple[str, Any]) -> Generator[Any, Any, Any]:
        """The generator case of `execute_orchestrator_function`: forward values and errors to the app's
        generator (an error of a task answered from history before its first yield is not forwarded)."""
        forwarding = False
        while True:
            outcome = yield from self._through_parks(outcome)
            if outcome[0] == _RAISE:
                raise outcome[1]
            if outcome[0] == _RETURN:
                yield from self._queued()
                return TaskTracker._durable_serializer(outcome[1])
            value = outcome[1]
            if not forwarding:
                yield from self._queued()
                forwarding = True
            try:
                yield from self._queued()
                sent = yield value
            except GeneratorExit:
                raise
            except BaseException as exc:
                outcome = self._step("throw", exc)
            else:
                outcome = self._step("send", sent)

    def _through_parks(self, outcome: tuple[str, Any]) -> Generator[Any, Any, tuple[str, Any]]:
        """While the agent waits for a task's result: yield that task (after the ones answered from
        history before it), and wake the agent once the executor has its result."""
        while outcome[0] == _PARK:
            yield from self._queued()
            yield outcome[1]  # a failure is thrown in here and ends the orchestration, as in the SDK
            outcome = self._resume()
        return outcome

    def _queued(self) -> Generator[Any, Any, None]:
        tasks = self.tracker._tasks_to_yield
        while tasks:
            yield tasks.pop(0)

    def _step(self, command: str, value: Any = None) -> tuple[str, Any]:
        self._step_time = self.ctx.current_utc_datetime
        if self._thread is None:
            self._thread = threading.Thread(target=self._agent_main, name=f"agent-{self.ctx.instance_id}",
                                            daemon=True)
            self._thread.start()
        self._to_agent.put((command, value))
        return self._to_driver.get()

    def _resume(self) -> tuple[str, Any]:
        now = self.ctx.current_utc_datetime
        self.ctx.current_utc_datetime = self._step_time
        try:
            self._to_agent.put(("resume", None))
            return self._to_driver.get()
        finally:
            self.ctx.current_utc_datetime = now

    def close(self) -> None:
        """End the agent thread (a parked agent unwinds with `SessionClosed`); safe to call more than once."""
        if not self._closed:
            self._closed = True
            self.tracker._tasks_to_yield.clear()
            if self._thread is not None:
                self._to_agent.put(("close", None))

    # ---- the agent thread ---------------------------------------------------------------------
    def park(self, task: Any) -> None:
        """Called on the agent thread by a call whose result is not in the history yet."""
        if self._closed:
            raise SessionClosed()
        self._to_driver.put((_PARK, task))
        command, _ = self._to_agent.get()
        if command != "resume":
            raise SessionClosed()
        self._set_default_runner()

    def _set_default_runner(self) -> None:
        """What the SDK's wrapper does when an episode starts, on the thread that runs the agent (looked up
        in the wrapper's module when called, as the wrapper does)."""
        orchestrator_generator.set_default_agent_runner(self.runner)

    def _agent_main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        generator = None
        try:
            while True:
                command, value = self._to_agent.get()
                if command == "close":
                    return
                self._set_default_runner()
                try:
                    if command == "start" and self.is_generator:
                        generator = iter(self.call())
                        outcome = (_YIELD, next(generator))
                    elif command == "start":
                        outcome = (_RETURN, self.call())
                    elif command == "send":
                        outcome = (_YIELD, generator.send(value))
                    else:
                        outcome = (_YIELD, generator.throw(type(value), value, value.__traceback__))
                except StopIteration as stop:
                    outcome = (_RETURN, stop.value)
                except SessionClosed as closed:  # dropped while a step ran (the host stops): free the driver
                    self._to_driver.put((_RAISE, closed))
                    return
                except BaseException as exc:  # the app's error, reported where the SDK would report it
                    outcome = (_RAISE, exc)
                self._to_driver.put(outcome)
                if outcome[0] != _YIELD:
                    return
        finally:
            if generator is not None:
                try:
                    generator.close()
                except BaseException:  # noqa: BLE001 - an app generator that refuses to close is not our error
                    pass
            asyncio.set_event_loop(None)
            loop.close()


class _ParkingTracker(TaskTracker):
    """The SDK's TaskTracker, which parks the agent thread where the SDK's raises `YieldException`, and
    finds the n-th TaskCompleted result without scanning the whole history on every call."""

    def __init__(self, context: Any, run: AgentRun):
        super().__init__(context)
        self._run = run
        self._results: list[str] = []
        self._scanned = 0

    def _completed_results(self) -> list[str]:
        history = self._context.histories
        results, index = self._results, self._scanned
        while index < len(history):
            event = history[index]
            if event.event_type == HistoryEventType.TASK_COMPLETED:
                results.append(event.Result)
            index += 1
        self._scanned = index
        return results

    def _get_activity_result_or_raise(self, task: Any) -> Any:
        self.record_activity_call()
        number = self._activities_called
        results = self._completed_results()
        if len(results) < number:
            self._run.park(task)  # the driver yields `task` itself, so it is not queued
            results = self._completed_results()
            if len(results) < number:
                raise RuntimeError(f"the durable agent was woken without the result of its call {number}")
        else:
            self._tasks_to_yield.append(task)
        return json.loads(results[number - 1])
