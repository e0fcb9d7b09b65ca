"""Activities: run each one as the worker and the Durable extension do, and hand its outcome to its
orchestration as the history event it will see (TaskCompleted, or TaskFailed with Azure's wording).

An activity runs at least once: its row stays in the store until the episode that records its result
commits, so a crash before that runs it again. A terminated or purged instance's running activities are
stopped (issue 9, item 8): an async activity is cancelled where it waits (a model call in its 429
backoff, say); a sync one runs in a worker thread, which Python cannot interrupt, so it finishes and
its result is dropped. On Azure a terminated instance's activities run to completion.
"""
from __future__ import annotations

import asyncio
import time
import traceback
from typing import Any, Callable

from azure.functions import meta

from host.durable import events as he
from host.durable.config import EngineConfig
from host.durable.episode import Message
from host.durable.http_activity import run_http_activity
from host.durable.model import PendingActivity
from host.durable.replay import HTTP_ACTIVITY
from host.functions.invoker import FunctionInvoker
from host.functions.loader import LoadedApp


class ActivityRunner:
    """Runs activities on the event loop (async ones) or the function threads (sync ones), at most
    `max_concurrent_activities` at a time, and delivers each outcome with `deliver(instance_id, message)`."""

    def __init__(self, app: LoadedApp, invoker: FunctionInvoker, config: EngineConfig,
                 deliver: Callable[[str, Message], None]):
        self.app = app
        self.invoker = invoker
        self.config = config
        self._deliver = deliver
        self._slots: asyncio.Semaphore | None = None
        self._running: dict[str, set[asyncio.Task]] = {}

    def start(self, activities: list[PendingActivity]) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.max_concurrent_activities)
        loop = asyncio.get_running_loop()
        for item in activities:
            task = loop.create_task(self._run(item))
            tasks = self._running.setdefault(item.instance_id, set())
            tasks.add(task)
            task.add_done_callback(lambda done, key=item.instance_id: self._finished(key, done))

    def stop(self, instance_id: str) -> None:
        """Cancel the instance's running activities (a sync one's thread runs on; its result is dropped)."""
        for task in self._running.pop(instance_id, ()):
            task.cancel()

    async def close(self) -> None:
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
        value = await invoker.invoke(function, decode_input(item.input))
        result = encode_result(value)
    except Exception as exc:
        return he.task_failed(time.time(), item.task_id, f"Activity function '{function.durable_name}' failed: {exc}",
                              "".join(traceback.format_exception_only(type(exc), exc)).strip())
    size = 0 if result is None else len(result.encode())
    if size > max_payload_bytes:
        return he.task_failed(time.time(), item.task_id,
                              f"Activity function '{function.durable_name}' failed: its result is {size} bytes, "
                              f"over the local host's limit of {max_payload_bytes} bytes", "")
    return he.task_completed(time.time(), item.task_id, result)


_CONVERTER = meta.get_binding_registry().get("activityTrigger")


def decode_input(text: str | None) -> Any:
    """The worker's activityTrigger conversion: JSON text to a value, plain text passed through."""
    return _CONVERTER.decode(meta.Datum(text, "string"), trigger_metadata=None)


def encode_result(value: Any) -> str | None:
    return _CONVERTER.encode(value, expected_type=None).value
