"""Shared set-up for blueprints whose orchestrators run OpenAI agents durably."""
from __future__ import annotations

from typing import Any

import azure.durable_functions as df
from agents import Agent, RunResult
from azure.durable_functions.openai_agents.runner import DurableOpenAIRunner

RUN_MODEL_ACTIVITY = "run_model"  # the SDK's fixed name, registered by run_model.register_run_model


def agent_blueprint() -> df.Blueprint:
    """A blueprint whose `durable_openai_agent_orchestrator`s use our `run_model` activity
    (registered once on the app by `run_model.register_run_model`), not a second SDK copy."""
    bp = df.Blueprint()
    bp._is_durable_openai_agent_setup = True
    return bp


def agent_orchestrator(bp: df.Blueprint) -> Any:
    """`durable_openai_agent_orchestrator` with the durable model retries off: `run_model` owns them."""
    return bp.durable_openai_agent_orchestrator(model_retry_options=None)


def run_durably(context: Any, agent: Agent, prompt: str, **kwargs: Any) -> RunResult:
    """`Runner.run_sync` for a durable agent orchestrator, safe when several run at the same time.

    `Runner.run_sync` goes through the SDK's process-wide default runner, which every durable agent
    orchestrator episode replaces with one bound to its own context: two agent orchestrators replayed
    at once in two threads (a fan-out, or concurrent jobs) then make each other's model calls and one
    ends with an empty result. A runner of our own is bound to this context only."""
    return DurableOpenAIRunner(context=context, activity_name=RUN_MODEL_ACTIVITY).run_sync(agent, prompt, **kwargs)
