"""Our own `run_model` activity: the model call behind every durable agent turn.

Registered before the first `durable_openai_agent_orchestrator`, with the app's
`_is_durable_openai_agent_setup` flag set so the SDK does not register its own. It does what
the SDK's activity does not:

1. Drops `None` fields from the returned output items. With openai 3.x / openai-agents 0.2x, a
   replayed `function_call` item carries `namespace: null`, which the next turn's request model
   rejects, so every durable agent that calls a tool failed on its second model call
   (reference/durable-protocol.md §4). Runs identically on Azure. Nothing a later turn needs is
   null: a reasoning model's `reasoning` item keeps its id, `summary` (a list, possibly empty) and
   `encrypted_content` (a string, when asked for), which go back with the turn's other items; only
   its null `encrypted_content` / `status` / `content` go, which the API reads as absent. `usage`
   (with the reasoning token counts) is returned as the model gave it.
2. Classifies provider errors: 429, 408/409 and 5xx (and connection errors) are retried here,
   honouring `Retry-After`/`retry-after-ms`; 400/401/403/404/422 fail at once with the
   provider's message. The OpenAI client is built with max_retries=0, and durable agent
   orchestrators get no durable model retries unless they ask (`runners.bind_episode_runner`),
   so this is the only retry layer: no multiplied retries.
3. Refuses to run when no model is configured, saying what to set.
4. Makes a request a server refuses in a way a different request can avoid (too long for the context
   window, a tool call it could not parse) again, smaller or with a nudge (`recovery.py`), instead of
   retrying it unchanged or failing the step.
5. Fills in the configured model settings (max output tokens, temperature, reasoning effort) where
   the agent set none, in the form the model takes, so they apply to every agent of every workflow:
   for reasoning models no temperature unless the effort is none, `max_completion_tokens` on Chat
   Completions, and stateless Responses calls carrying the encrypted reasoning
   (model_config.apply_model_settings).
6. Keeps the answer under the Durable payload limit (model_payloads.bounded_answer).
7. Hands the conversation to the model as the plain JSON data it is (`call_model`): the SDK's activity
   sent every list inside an input item (a message's content parts, a reasoning summary) as the repr
   of a pydantic iterator.
8. Adds the call's usage record (tokens as the API returned them, the model, the cost) to its result,
   so the usage is part of the durable history (orchestrations/usage/ledger.py, issue 19); holds the call
   back when the job's budget is reached (usage/budget.py), and waits for a free slot of the deployment
   while `MODEL_MAX_CONCURRENT_CALLS` requests are in flight (usage/model_slots.py).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from contextvars import ContextVar
from typing import Any

import openai
from agents.items import ModelResponse
from azure.durable_functions.openai_agents.model_invocation_activity import DurableModelActivityInput, ModelInvoker

from orchestrations.agents.recovery import recovered_request
from orchestrations.agents.model_config import apply_model_settings, require_model
from orchestrations.agents.model_payloads import bounded_answer
from orchestrations.code_swarm.crash_points import crash_point
from orchestrations.usage.budget import INSTANCE_KEY
from orchestrations.usage.budget_check import held_back
from orchestrations.usage.ledger import with_usage_record
from orchestrations.usage.model_slots import SLOTS

log = logging.getLogger(__name__)

MAX_ATTEMPTS = int(os.environ.get("MODEL_MAX_ATTEMPTS", "6"))
MAX_DELAY_SECONDS = float(os.environ.get("MODEL_MAX_RETRY_DELAY_SECONDS", "60"))
RETRYABLE_STATUS = {408, 409, 429}


# Set while `invoke_model` makes a call: it reports each failure itself, once (see `_ReportedByRunModel`).
_IN_RUN_MODEL: ContextVar[bool] = ContextVar("in_run_model", default=False)


class _ReportedByRunModel(logging.Filter):
    """Drops the Agents SDK's `ERROR openai.agents: Error getting response` for the calls `invoke_model`
    makes: it logs every failed request at ERROR, a 429 about to be retried too, and `invoke_model`
    already says what happened at the right level (a retry as a warning, the last failure as an error)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_IN_RUN_MODEL.get() and record.getMessage().startswith("Error getting response"))


logging.getLogger("openai.agents").addFilter(_ReportedByRunModel())


class ModelCallFailed(Exception):
    """A model call that will not succeed by retrying (bad request, auth, unknown model)."""


def strip_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nones(v) for v in value]
    return value


def clean_model_response(response_json: str) -> str:
    response = json.loads(response_json)
    if isinstance(response.get("output"), list):
        response["output"] = [strip_nones(item) for item in response["output"]]
    return json.dumps(bounded_answer(response))


def retry_delay(error: Exception, attempt: int) -> float:
    """Server-directed delay when given, else exponential backoff with jitter."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw:
            try:
                return min(MAX_DELAY_SECONDS, max(0.0, float(raw) * scale))
            except ValueError:
                pass
    return min(MAX_DELAY_SECONDS, (2 ** attempt) * 0.5 * (1 - 0.25 * random.random()))


def is_retryable(error: Exception) -> bool:
    if isinstance(error, (openai.APIConnectionError, openai.APITimeoutError)):
        return True
    status = getattr(error, "status_code", None)
    return isinstance(status, int) and (status in RETRYABLE_STATUS or status >= 500)


def provider_message(error: Exception) -> str:
    """One sentence for a failed model request: the HTTP status and the provider's message, or, when no
    answer came (connection refused, timeout), where the model was asked (and, for a timeout, how long)."""
    status = getattr(error, "status_code", None)
    if not isinstance(status, int):
        config = require_model()
        where = config.base_url or "the configured endpoint"
        if isinstance(error, openai.APITimeoutError):
            return (f"model request failed: no answer from {where} within {config.request_timeout:g} s "
                    f"(MODEL_REQUEST_TIMEOUT_SECONDS)")
        return f"model request failed: no answer from {where} ({error})"
    body = getattr(error, "body", None)
    detail = body.get("message") if isinstance(body, dict) else None
    return f"model request failed with HTTP {status}: {detail or error}"


async def call_model(activity_input: str) -> str:
    """One model request for a `run_model` activity input (the SDK's `DurableModelActivityInput` JSON),
    as the SDK's `durable_openai_agent_activity` makes it, but with the conversation handed on as the
    plain JSON data it is. The SDK (azure-functions-durable 1.7, ModelInvoker.invoke_model_activity) reads
    the validated `input` back through `json.dumps(..., default=str)`, and validation makes every list of
    a TypedDict's `Iterable` field (a message's content parts, a reasoning summary) a lazy
    `ValidatorIterator`, written as its repr: an agent that wrote text along with a tool call was sent
    "ValidatorIterator(index=0, schema=...)" as its own words in the next call, and a continued
    conversation every earlier answer so (issue 18 §2)."""
    request = DurableModelActivityInput.from_json(activity_input)
    request.input = json.loads(activity_input)["input"]
    response = await ModelInvoker().invoke_model_activity(request)
    return ModelResponse.__pydantic_serializer__.to_json(response).decode()


async def invoke_model(activity_input: str, client: Any = None) -> str:
    """One model call with the retries above, unless the job's budget holds it back (then the result says
    so, orchestrations/usage/budget.py). Logs one line per failed request: a warning with the wait before a
    retry, an error when the call fails for good (then `ModelCallFailed`)."""
    config = require_model()
    request = json.loads(activity_input)
    held = await held_back(client, request)
    if held is not None:
        return held
    request["model_settings"] = apply_model_settings(request.get("model_settings") or {})
    activity_input = json.dumps(request)
    model = request.get("model_name") or config.model
    reporting = _IN_RUN_MODEL.set(True)
    try:
        for attempt in range(MAX_ATTEMPTS):
            try:
                async with SLOTS.slot(f"{config.base_url} {model}", request.get(INSTANCE_KEY)):
                    response = clean_model_response(await call_model(activity_input))
                crash_point("model_answered")  # crash tests: answered, but not recorded yet
                return with_usage_record(response, model)
            except openai.APIError as error:
                changed, how = recovered_request(activity_input, getattr(error, "status_code", None),
                                                 provider_message(error))
                if changed is not None:  # a different request can avoid this error (recovery.py)
                    log.warning("model call failed (%s); trying again: %s", provider_message(error), how)
                    activity_input = changed
                    continue
                if not is_retryable(error) or attempt == MAX_ATTEMPTS - 1:
                    reason = provider_message(error) if not is_retryable(error) else \
                        f"{provider_message(error)} (gave up after {MAX_ATTEMPTS} attempts)"
                    log.error("model call failed: %s", reason)
                    raise ModelCallFailed(reason) from None
                delay = retry_delay(error, attempt)
                log.warning("model call failed (%s); retry %d of %d in %.1f s", provider_message(error),
                            attempt + 1, MAX_ATTEMPTS - 1, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")
    finally:
        _IN_RUN_MODEL.reset(reporting)


def register_run_model(app: Any) -> None:
    """Register `run_model` on the app before any durable_openai_agent_orchestrator does (`AgentApp` does)."""

    @app.activity_trigger(input_name="input", activity="run_model")
    @app.durable_client_input(client_name="client")
    async def run_model_activity(input: str, client: Any) -> str:
        return await invoke_model(input, client)

    app._is_durable_openai_agent_setup = True
