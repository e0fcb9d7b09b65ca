"""Call an app function with its bindings filled in, as the Python worker does.

Async functions run on the host's one long-lived event loop (the Durable SDK caches a
loop-bound aiohttp session); sync functions run in worker threads, where no loop is
running (the OpenAI Agents SDK's `Runner.run_sync` refuses to run otherwise). Every execution
`invoke` makes is bounded by host.json's `functionTimeout`, as the Functions host bounds it
(`host/functions/timeout.py` says what Azure does and what happens to a thread here).
"""
from __future__ import annotations

import asyncio
import inspect
import threading
import uuid
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any, Callable

import azure.functions as func

from host.functions.loader import AppFunction
from host.functions.timeout import Deadlines, FunctionTimeout, FunctionTimeoutError


class UnsupportedBindingError(Exception):
    """The function uses a binding the local host does not provide."""


class InvocationContext(func.Context):
    """The `context` argument the worker passes to functions that ask for one."""

    def __init__(self, function: AppFunction, directory: str):
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function.name
        self._directory = directory
        self._local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:
        return self._local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


class FunctionInvoker:
    """Fills input bindings and runs a function on the right thread, for at most `timeout`."""

    def __init__(self, executor: Executor, app_directory: str, durable_client_binding: Callable[[], str],
                 timeout: FunctionTimeout = FunctionTimeout()):
        self._executor = executor
        self._directory = app_directory
        self._durable_client_binding = durable_client_binding
        self.timeout = timeout
        self.deadlines = Deadlines(timeout)  # every execution in flight, invoked here or run by the caller (`call`)
        self._wants_context: dict[str, bool] = {}  # by function name: inspect.signature is slow per call

    def binding_arguments(self, function: AppFunction, trigger_value: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {function.trigger["name"]: trigger_value}
        for binding in function.input_bindings():
            kind = binding.get("type")
            if kind == "durableClient":
                kwargs[binding["name"]] = self._durable_client_binding()
            elif kind in ("http",):
                continue
            else:
                raise UnsupportedBindingError(
                    f"function {function.name}: input binding type {kind!r} is not supported by the local host"
                )
        wants_context = self._wants_context.get(function.name)
        if wants_context is None:
            wants_context = "context" in inspect.signature(function.user_function).parameters
            self._wants_context[function.name] = wants_context
        if wants_context and "context" not in kwargs:
            kwargs["context"] = InvocationContext(function, self._directory)
        return kwargs

    def call(self, function: AppFunction, trigger_value: Any) -> Any:
        """Run a sync function in the calling thread (a worker thread, where no event loop runs), unbounded:
        the caller owns its deadline (`host/durable/activities.py`)."""
        return function.user_function(**self.binding_arguments(function, trigger_value))

    async def invoke(self, function: AppFunction, trigger_value: Any) -> Any:
        """The function's result, or what it raised; `FunctionTimeoutError` once it has run for longer than
        `timeout`: an async function is then cancelled, a sync one's thread runs on and what it returns is
        dropped (a call still waiting for a thread never starts)."""
        kwargs = self.binding_arguments(function, trigger_value)
        user = function.user_function
        thread = None
        if inspect.iscoroutinefunction(user):
            execution = _Execution(asyncio.ensure_future(user(**kwargs)))
        else:
            thread = self._executor.submit(partial(user, **kwargs))
            execution = _Execution(asyncio.wrap_future(thread))
        deadline = self.deadlines.watch(execution.expire)
        try:
            result = await execution.running
            if inspect.isawaitable(result):  # a sync function that returned a coroutine: it runs on the loop
                execution.running = asyncio.ensure_future(result)
                result = await execution.running
        except BaseException:
            if not execution.expired:  # its own failure, or the caller gave up (a terminated job, a closed request)
                raise
        finally:
            self.deadlines.done(deadline)
        if execution.expired:  # whatever it did once cancelled (raised, or returned after all), it timed out
            raise self._timed_out(function, thread) from None
        return result

    def _timed_out(self, function: AppFunction, thread: Future | None) -> FunctionTimeoutError:
        """Log the timeout; a thread still running the function has what it returns dropped when it does."""
        runs_on = thread is not None and not thread.cancel() and not thread.done()
        error = self.timeout.exceeded(function, runs_on)
        if runs_on:
            thread.add_done_callback(lambda _: self.timeout.returned_late(function))
        return error


class _Execution:
    """What `invoke` awaits, and whether its deadline stopped it."""

    __slots__ = ("expired", "running")

    def __init__(self, running: asyncio.Future):
        self.running = running
        self.expired = False

    def expire(self) -> None:
        self.expired = True
        self.running.cancel()
