"""`Runner.run_sync` in a durable agent orchestrator reaches that orchestration's runner, however many run
at once (issue 17 §3).

The Agents SDK's `Runner.run_sync` goes through one process-wide default runner, and the Durable SDK's
`durable_openai_agent_orchestrator` wrapper (azure-functions-durable 1.7,
`openai_agents/orchestrator_generator.py`) sets it at the start of every episode to a runner bound to that
episode's orchestration. The Python worker runs orchestrator episodes on its thread pool, several at once,
so when another episode starts between an orchestrator's start and its `Runner.run_sync` (or between two of
its `Runner.run_sync` calls), the agent makes its model calls in the other orchestration: the durable
OpenAI agents of the Durable docs mix each other up on Azure as soon as two run at the same time.

`install()` makes the default runner an `OrchestrationRunners`, which hands each call to the runner of the
orchestration whose code runs on the calling thread (or an asyncio task it started), and turns the
wrapper's per-episode `set_default_agent_runner` into "this episode's runner": bound while the SDK's
executor runs that orchestrator's code on the thread, and nowhere else. Code that runs outside any
durable agent orchestrator (an activity, say, on a thread an episode used before) gets the plain
Agents SDK runner, where the wrapper's global would have sent it to a finished episode's orchestration.

It also makes `run_model` the one retry layer of the wrapper's model calls: an orchestrator decorated
without `model_retry_options` gets none (the decorator's default, 5 durable attempts, would multiply
`run_model`'s own retries, which honour Retry-After); one that passes its own keeps them.

Runs the same on Azure and on the local host, which runs the wrapper's code as Azure does
(`--replay azure`) or keeps the agent alive on a thread of its own, calling the wrapper's
`set_default_agent_runner` there (host/durable/agent_session.py).
"""
from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any, Generator

import agents.run
from azure.durable_functions.decorators.durable_app import Blueprint
from azure.durable_functions.openai_agents import orchestrator_generator
from azure.durable_functions.openai_agents.model_invocation_activity import DurableActivityModel
from azure.durable_functions.openai_agents.runner import DurableOpenAIRunner
from azure.durable_functions.openai_agents.task_tracker import TaskTracker

from orchestrations.agents.usage_runner import UsageRunner

# The runner of the orchestration whose code runs here: a thread's own value (the worker's pool threads
# run items in their own context), copied into the asyncio tasks `Runner.run_sync` starts.
_EPISODE_RUNNER: ContextVar[DurableOpenAIRunner | None] = ContextVar("episode_runner", default=None)
# The decorator's default `model_retry_options` object (one object: a default argument's value).
SDK_DEFAULT_MODEL_RETRY = Blueprint.durable_openai_agent_orchestrator.__kwdefaults__["model_retry_options"]
_install_lock = threading.Lock()


class OrchestrationRunners:
    """The Agents SDK's default runner: the runner of the orchestration running on this thread, else
    `fallback` (the SDK's own). A durable runner's inner call, whose model is already the durable one,
    goes to the fallback too."""

    def __init__(self, fallback: Any):
        self.fallback = fallback

    def _runner(self, kwargs: dict[str, Any]) -> Any:
        runner = _EPISODE_RUNNER.get()
        if runner is None or isinstance(getattr(kwargs.get("run_config"), "model", None), DurableActivityModel):
            return self.fallback
        return runner

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self._runner(kwargs).run(*args, **kwargs)

    def run_sync(self, *args: Any, **kwargs: Any) -> Any:
        return self._runner(kwargs).run_sync(*args, **kwargs)

    def run_streamed(self, *args: Any, **kwargs: Any) -> Any:
        return self._runner(kwargs).run_streamed(*args, **kwargs)


def bind_episode_runner(runner: DurableOpenAIRunner) -> None:
    """What the wrapper's `set_default_agent_runner(runner)` does once installed: `runner` is this thread's
    orchestration runner (until `EpisodeTaskTracker` scopes it to the orchestrator's steps), with
    `run_model` as its only retry layer unless the orchestrator asked for durable model retries."""
    agent_context = runner._context
    if agent_context._model_retry_options is SDK_DEFAULT_MODEL_RETRY:
        agent_context._model_retry_options = None
    _EPISODE_RUNNER.set(UsageRunner.of(runner))  # its calls' usage recorded and its budget checked (issue 19)


class EpisodeTaskTracker(TaskTracker):
    """The SDK's TaskTracker, whose orchestrator generator has the episode's runner bound while each of its
    steps runs (the SDK's executor drives it on the episode's thread) and unbound in between."""

    def execute_orchestrator_function(self, func: Any) -> Generator[Any, Any, Any]:
        runner = _EPISODE_RUNNER.get()  # bound by bind_episode_runner just before, on this thread
        _EPISODE_RUNNER.set(None)
        return _bound_steps(runner, super().execute_orchestrator_function(func))


def _bound_steps(runner: DurableOpenAIRunner | None, steps: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """`steps` with `runner` bound around each `send`/`throw`; what goes in and out is unchanged."""
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        token = _EPISODE_RUNNER.set(runner)
        try:
            task = steps.throw(thrown) if thrown is not None else steps.send(sent)
        except StopIteration as stop:
            return stop.value
        finally:
            _EPISODE_RUNNER.reset(token)
        sent, thrown = None, None
        try:
            sent = yield task
        except GeneratorExit:
            steps.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - forwarded to the orchestrator, as `yield from` would
            thrown = exc


def install() -> None:
    """Install the above in this process (once; any app object may call it)."""
    with _install_lock:
        if orchestrator_generator.set_default_agent_runner is bind_episode_runner:
            return
        orchestrator_generator.set_default_agent_runner = bind_episode_runner
        orchestrator_generator.TaskTracker = EpisodeTaskTracker
        current = agents.run.get_default_agent_runner()
        if not isinstance(current, OrchestrationRunners):
            agents.run.set_default_agent_runner(OrchestrationRunners(current or agents.run.AgentRunner()))
