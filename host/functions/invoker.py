"""Call an app function with its bindings filled in, as the Python worker does.

Async functions run on the host's one long-lived event loop (the Durable SDK caches a
loop-bound aiohttp session); sync functions run in worker threads, where no loop is
running (the OpenAI Agents SDK's `Runner.run_sync` refuses to run otherwise).
"""
from __future__ import annotations

import asyncio
import inspect
import threading
import uuid
from concurrent.futures import Executor
from functools import partial
from typing import Any, Callable

import azure.functions as func

from host.functions.loader import AppFunction


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
    """Fills input bindings and runs a function on the right thread."""

    def __init__(self, executor: Executor, app_directory: str, durable_client_binding: Callable[[], str]):
        self._executor = executor
        self._directory = app_directory
        self._durable_client_binding = durable_client_binding
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
        """Run a sync function in the calling thread (a worker thread, where no event loop runs)."""
        return function.user_function(**self.binding_arguments(function, trigger_value))

    async def invoke(self, function: AppFunction, trigger_value: Any) -> Any:
        kwargs = self.binding_arguments(function, trigger_value)
        user = function.user_function
        if inspect.iscoroutinefunction(user):
            return await user(**kwargs)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._executor, partial(user, **kwargs))
        if inspect.isawaitable(result):
            return await result
        return result
