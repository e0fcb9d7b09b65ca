"""Shared set-up for apps and blueprints whose orchestrators run OpenAI agents durably, and the hooks that
turn agent events into job progress."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from agents import Agent, ItemHelpers, RunConfig, RunContextWrapper, RunHooks, RunResult, Tool
from pydantic_core import to_jsonable_python

from orchestrations.agents import runners
from orchestrations.agents.model_payloads import bounded_model_input
from orchestrations.agents.run_model import register_run_model
from orchestrations.agents.usage_runner import RUN_MODEL_ACTIVITY, UsageRunner
from orchestrations.job_status import set_progress
from orchestrations.payloads import PAYLOAD_BUDGET_BYTES, fit, input_bytes
from orchestrations.usage.budget import BudgetPause, BudgetReached

# The SDK stops an agent after 10 turns; a long-running job is allowed more, and a spec may set its own.
DEFAULT_MAX_TURNS = 40


# The function the SDK's `durable_openai_agent_orchestrator` registers as its `run_model` activity on a
# blueprint that has none yet (azure-functions-durable 1.7, Blueprint._create_invoke_model_activity).
SDK_RUN_MODEL = "Blueprint._create_invoke_model_activity.<locals>.run_model_activity"


class AgentApp(df.DFApp):
    """The function app (a `df.DFApp`) for durable OpenAI agents, written the Durable docs' way or ours.

    - Our `run_model` activity is registered first (run_model.py says why), so the SDK registers none.
    - A blueprint made the docs' way (a plain `df.Blueprint()` with `@bp.durable_openai_agent_orchestrator`)
      carries the SDK's own `run_model_activity`, a second function of that name for the one `run_model`
      activity: indexing stopped at "Function run_model_activity does not have a unique function name",
      on Azure and on the local host alike (issue 17 §3). It is left out when the blueprint is registered;
      its orchestrators call ours.
    - `Runner.run_sync` reaches each orchestration's own runner, with several running at once, and model
      calls are retried by `run_model` only (runners.py).
    """

    def __init__(self, http_auth_level: func.AuthLevel | str = func.AuthLevel.FUNCTION):
        super().__init__(http_auth_level=http_auth_level)
        register_run_model(self)
        runners.install()

    def register_functions(self, function_container: Any) -> None:
        """Register a blueprint's functions, except the SDK's `run_model_activity`."""
        super().register_functions(function_container)
        self._function_builders = [builder for builder in self._function_builders
                                   if getattr(builder._function._func, "__qualname__", None) != SDK_RUN_MODEL]

    register_blueprint = register_functions


def agent_blueprint() -> df.Blueprint:
    """A blueprint whose `durable_openai_agent_orchestrator`s use our `run_model` activity
    (registered once on the app by `AgentApp`), not a second SDK copy."""
    bp = df.Blueprint()
    bp._is_durable_openai_agent_setup = True
    return bp


def agent_orchestrator(bp: df.Blueprint) -> Any:
    """`durable_openai_agent_orchestrator` with the durable model retries off: `run_model` owns them."""
    return bp.durable_openai_agent_orchestrator(model_retry_options=None)


def run_durably(context: Any, agent: Agent, prompt: str, **kwargs: Any) -> RunResult:
    """`Runner.run_sync` for a durable agent orchestrator, safe when several run at the same time on any
    app object: a runner bound to this context only (on an `AgentApp`, `Runner.run_sync` is too: runners.py).

    `error_handlers` (the Agents SDK's, e.g. for `max_turns`) are passed on: the durable runner's own
    `run_sync` keeps only a few keyword arguments, so the run is made with its prepared configuration.

    Every model call's input is bounded (`model_payloads.bounded_model_input`, set on the `run_config`
    given or a new one), so a long run stays under the Durable payload limit.

    `prompt` is text, or an Agents SDK input list (a conversation to go on from). Raises `BudgetPause` with
    the conversation so far when the job's budget held a model call back (orchestrations/usage/budget.py)."""
    kwargs["run_config"] = replace(kwargs.get("run_config") or RunConfig(), call_model_input_filter=bounded_model_input)
    runner = UsageRunner(context=context, activity_name=RUN_MODEL_ACTIVITY)
    error_handlers = kwargs.pop("error_handlers", None)
    try:
        if not error_handlers:
            return runner.run_sync(agent, prompt, **kwargs)
        prepared, run_config, params = runner._prepare_run_config(agent, prompt, **kwargs)
        return runner._runner.run_sync(agent, prepared, run_config=run_config, error_handlers=error_handlers, **params)
    except BudgetReached as reached:
        run = reached.run_data
        conversation = [] if run is None else \
            ItemHelpers.input_to_new_input_list(run.input) + [item.to_input_item() for item in run.new_items]
        raise BudgetPause(reached.verdict, to_jsonable_python(conversation)) from None


def agent_output(value: Any) -> Any:
    """An agent orchestrator's output under the Durable payload limit, its longest texts cut with a note:
    the SDK's wrapper returns it as JSON text, which weighs `input_bytes` (issue 21 §2)."""
    return fit(value, PAYLOAD_BUDGET_BYTES, input_bytes)


class ProgressHooks(RunHooks):
    """Turns agent events into job progress (with the usage so far, orchestrations/job_status.py). Replays
    re-run them in the same order, so the custom status an episode writes is the same on every replay."""

    def __init__(self, context: Any):
        self.context = context
        self.model_calls = 0
        self.tool_calls = 0

    async def on_llm_start(self, context: RunContextWrapper, agent: Agent, *args: Any, **kwargs: Any) -> None:
        self.model_calls += 1
        set_progress(self.context, "running", f"model call {self.model_calls}", self.model_calls)

    async def on_tool_start(self, context: RunContextWrapper, agent: Agent, tool: Tool) -> None:
        self.tool_calls += 1
        set_progress(self.context, "running", f"calling tool {tool.name}", self.model_calls)
