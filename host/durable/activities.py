"""Activities: run each one as the worker and the Durable extension do, and hand its outcome to its
orchestration as the history event it will see (TaskCompleted, or TaskFailed with Azure's wording).

An activity runs at least once: its row stays in the store until the episode that records its result
commits, so a crash before that runs it again. A terminated or purged instance's running activities are
stopped (issue 9, item 8): an async activity is cancelled where it waits (a model call in its 429
backoff, say); a sync one runs in a worker thread, which Python cannot interrupt, so it finishes and
its result is dropped. On Azure a terminated instance's activities run to completion.

An activity that runs past host.json's `functionTimeout` (`host/functions/timeout.py`) fails as on Azure:
TaskFailed "Activity function '<name>' failed: Timeout value of 00:30:00 was exceeded by function:
Functions.<name>" (the Durable extension's TaskActivityShim turns the Functions host's
FunctionTimeoutException into that failure), and the orchestration's retry policy applies to it like to
any failure; the orchestration itself goes on. Deadlines are kept by the invoker's `Deadlines`:
`FunctionInvoker.invoke` applies them to async activities and to every activity with `Replay.AZURE`;
the sync ones of `Replay.KEPT`, which run on worker threads without a future, are watched here. Either
way an activity's outcome is delivered once: a thread that returns after its timeout has its result
dropped (the deadline's failure was delivered instead), so it cannot complete a later attempt of the same
task either (a rewind runs the task again under the same id). The HTTP activity (`call_http`) is not a
function execution and has no deadline.
"""
from __future__ import annotations

import asyncio
import inspect
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from azure.functions import meta

from host.durable import events as he
from host.durable.config import EngineConfig, Replay
from host.durable.episode import Message
from host.durable.handoff import ThreadToLoop
from host.durable.http_activity import run_http_activity
from host.durable.model import PendingActivity
from host.durable.payloads import activity_result_bytes
from host.durable.replay import HTTP_ACTIVITY
from host.durable.workers import WorkerThreads
from host.functions.invoker import FunctionInvoker
from host.functions.loader import AppFunction, LoadedApp
from host.functions.timeout import Deadline, FunctionTimeoutError


@dataclass(eq=False)
class _ThreadRun:
    """A sync activity on a worker thread (`Replay.KEPT`): its deadline, and whether it passed."""

    item: PendingActivity
    function: AppFunction
    deadline: Deadline | None = None
    expired: bool = False


class ActivityRunner:
    """Runs activities - sync ones on worker threads (where no event loop runs), async ones on the event loop,
    at most `max_concurrent_activities` of those at a time - and delivers each outcome with
    `deliver(instance_id, message)`. With `Replay.AZURE` sync activities run on the invoker's pool (the
    worker's one thread pool, which orchestrator episodes share) and count towards the same limit, as the
    Durable extension's maxConcurrentActivityFunctions counts every activity it hands the worker."""

    def __init__(self, app: LoadedApp, invoker: FunctionInvoker, config: EngineConfig,
                 deliver: Callable[[str, Message], None]):
        self.app = app
        self.invoker = invoker
        self.config = config
        self._deliver = deliver
        self._threads = WorkerThreads(config.activity_threads, "activities")
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: ThreadToLoop[tuple[_ThreadRun, dict[str, Any]]] | None = None
        self._running: dict[str, set[asyncio.Task]] = {}

    def start(self, activities: list[PendingActivity]) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._slots = asyncio.Semaphore(self.config.max_concurrent_activities)
            self._done = ThreadToLoop(self._loop, self._finished_in_threads)
        for item in activities:
            function = self.app.activity(item.name) if item.name != HTTP_ACTIVITY else None
            if (self.config.replay is Replay.KEPT and function is not None
                    and not inspect.iscoroutinefunction(function.user_function)):
                run = _ThreadRun(item, function)
                run.deadline = self.invoker.deadlines.watch(lambda run=run: self._expire(run))
                self._threads.submit(self._run_in_thread, run)
                continue
            task = self._loop.create_task(self._run(item))
            tasks = self._running.setdefault(item.instance_id, set())
            tasks.add(task)
            task.add_done_callback(lambda done, key=item.instance_id: self._finished(key, done))

    def stop(self, instance_id: str) -> None:
        """Cancel the instance's running async activities; a sync one's thread runs on, its result is dropped."""
        for task in self._running.pop(instance_id, ()):
            task.cancel()

    async def close(self) -> None:
        self._threads.close()
        tasks = [task for running in self._running.values() for task in running]
        self._running.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _finished(self, instance_id: str, task: asyncio.Task) -> None:
        running = self._running.get(instance_id)
        if running is not None:
            running.discard(task)
            if not running:
                del self._running[instance_id]

    async def _run(self, item: PendingActivity) -> None:
        assert self._slots is not None
        async with self._slots:
            event = await execute_activity(self.app, self.invoker, item, self.config.max_payload_bytes)
        self._deliver(item.instance_id, Message(event, activity=item))

    def _run_in_thread(self, run: _ThreadRun) -> None:
        item, function = run.item, run.function
        try:
            value = self.invoker.call(function, decode_input(item.input))
            if inspect.isawaitable(value):  # a sync function that returns a coroutine: it runs on the loop
                assert self._loop is not None
                value = asyncio.run_coroutine_threadsafe(_awaited(value), self._loop).result()
            event = completed_event(item, function, value, self.config.max_payload_bytes)
        except Exception as exc:
            event = failed_event(item, function, exc)
        assert self._done is not None
        self._done.post((run, event))

    def _finished_in_threads(self, outcomes: list[tuple[_ThreadRun, dict[str, Any]]]) -> None:
        for run, event in outcomes:
            if run.expired:
                self.invoker.timeout.returned_late(run.function)
                continue
            self.invoker.deadlines.done(run.deadline)
            self._deliver(run.item.instance_id, Message(event, activity=run.item))

    def _expire(self, run: _ThreadRun) -> None:
        """The deadline of a sync activity still on its thread: it fails now, as on Azure."""
        run.expired = True
        error = self.invoker.timeout.exceeded(run.function, runs_on=True)
        self._deliver(run.item.instance_id, Message(failed_event(run.item, run.function, error), activity=run.item))


async def execute_activity(app: LoadedApp, invoker: FunctionInvoker, item: PendingActivity,
                           max_payload_bytes: int) -> dict[str, Any]:
    if item.name == HTTP_ACTIVITY:
        try:
            return he.task_completed(time.time(), item.task_id, await run_http_activity(item.input))
        except Exception as exc:
            return he.task_failed(time.time(), item.task_id, f"Durable HTTP request failed: {exc}", "")
    function = app.activity(item.name)
    if function is None:
        return he.task_failed(time.time(), item.task_id,
                              f"The function '{item.name}' doesn't exist, is disabled, or is not an activity function.",
                              "")
    try:
        return completed_event(item, function, await invoker.invoke(function, decode_input(item.input)),
                               max_payload_bytes)
    except Exception as exc:
        return failed_event(item, function, exc)


def completed_event(item: PendingActivity, function: AppFunction, value: Any, max_payload_bytes: int) -> dict[str, Any]:
    """TaskCompleted with the result as the worker encodes it, or TaskFailed if it is over the payload limit
    as Azure counts it (`payloads.activity_result_bytes`; raises if the value cannot be encoded, as the
    worker fails the activity then)."""
    result = encode_result(value)
    size = activity_result_bytes(result)
    if size > max_payload_bytes:
        return he.task_failed(time.time(), item.task_id,
                              f"Activity function '{function.durable_name}' failed: its result is {size} bytes, "
                              f"over the local host's limit of {max_payload_bytes} bytes", "")
    return he.task_completed(time.time(), item.task_id, result)


def failed_event(item: PendingActivity, function: AppFunction, exc: Exception) -> dict[str, Any]:
    """TaskFailed with the Durable extension's wording (Listener/TaskActivityShim.cs: "Activity function
    '<name>' failed: <the exception's message>")."""
    details = (exc.details if isinstance(exc, FunctionTimeoutError)
               else "".join(traceback.format_exception_only(type(exc), exc)).strip())
    return he.task_failed(time.time(), item.task_id, f"Activity function '{function.durable_name}' failed: {exc}",
                          details)


async def _awaited(value: Any) -> Any:
    return await value


_CONVERTER = meta.get_binding_registry().get("activityTrigger")


def decode_input(text: str | None) -> Any:
    """The worker's activityTrigger conversion: JSON text to a value, plain text passed through."""
    return _CONVERTER.decode(meta.Datum(text, "string"), trigger_metadata=None)


def encode_result(value: Any) -> str | None:
    return _CONVERTER.encode(value, expected_type=None).value
