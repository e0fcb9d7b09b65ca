"""What an agent orchestration's runs go through, so every model call is recorded and checked (issue 19).

`UsageRunner` is the Durable SDK's `DurableOpenAIRunner` with two parts of ours: its model (`_Model`, the SDK's
durable model) adds the usage record `run_model` kept with each response to the orchestration's ledger and
custom status; and `CallLog`, the orchestration's task tracker, names the orchestration in each `run_model`
input (the budget check finds the job by it), turns a result the budget held back into `BudgetReached`, and
notes the activity of each call (the spans of the calls, orchestrations/tracing/spans.py). `run_durably`
(durable.py) runs with it, and so does `Runner.run_sync` in an orchestrator written the Durable docs' way
(runners.py binds each episode's runner as a `UsageRunner`).
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from agents import ModelResponse
from azure.durable_functions.openai_agents.model_invocation_activity import DurableActivityModel
from azure.durable_functions.openai_agents.runner import DurableOpenAIRunner

from orchestrations.job_status import rewrite_status
from orchestrations.usage.budget import INSTANCE_KEY, REACHED, BudgetReached
from orchestrations.usage.ledger import ledger_of, record_of

RUN_MODEL_ACTIVITY = "run_model"  # the SDK's fixed name, registered by run_model.register_run_model


class UsageRunner(DurableOpenAIRunner):
    """The SDK's durable runner, with `_Model` as the model of every run and `CallLog` as the context's tracker."""

    @classmethod
    def of(cls, runner: DurableOpenAIRunner) -> "UsageRunner":
        """The same runner (context, activity) as a `UsageRunner`: what an orchestration's runs go through."""
        return runner if isinstance(runner, cls) else cls(context=runner._context, activity_name=runner._activity_name)

    def _prepare_run_config(self, starting_agent: Any, input: Any, **kwargs: Any) -> tuple[Any, Any, dict[str, Any]]:
        normalized, config, params = super()._prepare_run_config(starting_agent, input, **kwargs)
        sdk = config.model
        model = _Model(sdk.model_name, call_log(self._context), sdk.retry_options, sdk.activity_name)
        model.context, model.agent = self._context, starting_agent.name
        return normalized, replace(config, model=model), params


class CallLog:
    """The SDK's task tracker of an agent orchestration (`context._task_tracker`, which its model and its
    activity tools call), noting the activity each call made, in order (`names`: the n-th is the n-th
    TaskCompleted of the history, as the SDK counts them). A `run_model` call's input names the orchestration
    that makes it (`INSTANCE_KEY`: the budget check finds the job by it), its recorded result is kept as it was
    returned (`last`), and a result that says the budget held the call back raises `BudgetReached` before the
    SDK reads it as a model response."""

    def __init__(self, tracker: Any, instance_id: str):
        self.tracker = tracker
        self.named = f"{{{json.dumps(INSTANCE_KEY)}: {json.dumps(instance_id)}, "
        self.names: list[str] = []
        self.last: Any = None

    def __getattr__(self, name: str) -> Any:  # everything else is the SDK tracker's
        return getattr(self.tracker, name)

    def _input(self, name: str, input: Any) -> Any:
        self.names.append(name)
        if name == RUN_MODEL_ACTIVITY and isinstance(input, str) and input.startswith("{") \
                and not input.startswith("{}"):
            return self.named + input[1:]
        return input

    def _result(self, name: str, result: Any) -> Any:
        if name == RUN_MODEL_ACTIVITY:
            self.last = result
            if isinstance(result, str) and result.startswith(f"{{{json.dumps(REACHED)}"):
                raise BudgetReached(json.loads(result)[REACHED])
        return result

    def get_activity_call_result(self, name: str, input: Any) -> Any:
        return self._result(name, self.tracker.get_activity_call_result(name, self._input(name, input)))

    def get_activity_call_result_with_retry(self, name: str, retry_options: Any, input: Any) -> Any:
        return self._result(name, self.tracker.get_activity_call_result_with_retry(
            name, retry_options, self._input(name, input)))


def call_log(context: Any) -> CallLog:
    """The agent orchestration's `CallLog`, installed as its tracker on first use."""
    tracker = context._task_tracker
    if not isinstance(tracker, CallLog):
        tracker = context._task_tracker = CallLog(tracker, context.instance_id)
    return tracker


class _Model(DurableActivityModel):
    """The SDK's durable model; the usage record `run_model` kept with each response goes to the
    orchestration's ledger (for the agent the run started with), written to its custom status at once with
    its last progress, so a step that fails afterwards still shows every call it made. A replay adds the
    same recorded records in the same order."""

    context: Any = None
    agent: str = "agent"

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        response = await super().get_response(*args, **kwargs)
        record = record_of(self.task_tracker.last)
        if record is not None:
            ledger_of(self.context).add_call(self.agent, record)
            rewrite_status(self.context)
        return response
