"""Shared set-up for blueprints whose orchestrators run OpenAI agents durably."""
from __future__ import annotations

from typing import Any

import azure.durable_functions as df


def agent_blueprint() -> df.Blueprint:
    """A blueprint whose `durable_openai_agent_orchestrator`s use our `run_model` activity
    (registered once on the app by `run_model.register_run_model`), not a second SDK copy."""
    bp = df.Blueprint()
    bp._is_durable_openai_agent_setup = True
    return bp


def agent_orchestrator(bp: df.Blueprint) -> Any:
    """`durable_openai_agent_orchestrator` with the durable model retries off: `run_model` owns them."""
    return bp.durable_openai_agent_orchestrator(model_retry_options=None)
