"""Which model the agents call, configured once from the environment when function_app.py is imported.

The durable integration gives no per-app way to choose a model client: `durable_openai_agent_orchestrator`
rejects every `model_provider`, and the `run_model` activity builds a fresh `OpenAIProvider()` per call.
So the choice is made process-wide through the Agents SDK's defaults (`set_default_openai_client`,
`set_default_openai_api`, `OPENAI_DEFAULT_MODEL`), which that provider reads. Providers, first match wins:

- Azure OpenAI: `AZURE_OPENAI_ENDPOINT` and `AZURE_OPENAI_DEPLOYMENT`, authenticated with
  `AZURE_OPENAI_API_KEY` or else a managed identity / developer login (`DefaultAzureCredential`).
  By default the v1 API (`<endpoint>/openai/v1/`, no api-version) with the plain OpenAI client: Azure's
  docs say it is required for the latest features ("Use the Azure OpenAI Responses API": API support;
  "API version lifecycle": API evolution), and its examples for reasoning models and encrypted reasoning
  items use it. `AZURE_OPENAI_API_VERSION` (or `OPENAI_API_VERSION`) pins a dated API version instead
  (the Azure client, `<endpoint>/openai/...?api-version=`). The deployment is the default model (written
  to `OPENAI_DEFAULT_MODEL`, overriding it); the client is not pinned to it, so an agent that names a
  model names another deployment, in both APIs.
- OpenAI, or any OpenAI-compatible server (Ollama, vLLM, LM Studio): `OPENAI_API_KEY` and/or
  `OPENAI_BASE_URL`; a server that needs no key gets a placeholder one.
  Model: `OPENAI_DEFAULT_MODEL`, else the SDK's own default (`agents.models.get_default_model()`,
  "gpt-5.6-luna" in openai-agents 0.24), kept rather than pinned here because the SDK tunes its default
  model settings to it; a local server usually needs `OPENAI_DEFAULT_MODEL` set to a model it serves.

`OPENAI_API_MODE=chat_completions` switches to the Chat Completions API for servers without the
Responses API (default `responses`).

Model settings for every agent (issue 9.9; the Agents SDK itself sends none, and a local model served
over the OpenAI-compatible API answered with over 7,800 tokens at once): `MODEL_MAX_OUTPUT_TOKENS`
caps each answer (default `DEFAULT_MAX_OUTPUT_TOKENS`; `0` sends no cap), `MODEL_TEMPERATURE` sets the
sampling temperature (default: the provider's). `run_model` applies them to every model call an agent
has not set them for itself (`apply_model_settings`).

Reasoning models (issue 17 §2: GPT-5 family, o-series; Azure's default deployment is one): `MODEL_REASONING_EFFORT`
(`REASONING_EFFORTS`) says the model is one and sets the effort of every call that sets none; a model the Agents
SDK knows by name as a GPT-5 model (`gpt_5_reasoning_settings_required`) or an o-series name counts as one too
(on Azure the model name is the deployment's, so only the setting tells). For them (Azure OpenAI reasoning
models, "Not Supported" and "API & feature support"):
- Responses API: `store: false` with `include: ["reasoning.encrypted_content"]`, so the reasoning items each
  answer starts with come back on the next turn whole, from the durable history (the `run_model` activity's
  recorded results), not by id from the provider's storage, which keeps responses 30 days on Azure OpenAI
  ("Use the Azure OpenAI Responses API": "Delete response"; "Encrypted Reasoning Items"): a job resumed after
  a crash, an approval weeks later or a `retry_job` still has what its model needs.
- Chat Completions: the output cap goes as `max_completion_tokens` (reasoning models refuse `max_tokens`).
- `MODEL_TEMPERATURE` is sent only with reasoning effort `none`: reasoning models refuse a temperature otherwise.

Clients get `max_retries=0`: the durable retry policy of the
`run_model` activity is the single source of backoff (client retries would multiply with it).
They also get a bounded request timeout, `MODEL_REQUEST_TIMEOUT_SECONDS` (default
`DEFAULT_REQUEST_TIMEOUT_SECONDS`, 180 s; connecting: at most `CONNECT_TIMEOUT_SECONDS`): the longest a model
call waits to connect, send, or for the next part of the answer (the openai client's own default is 600 s, in
which a stalled local model held a job's model call). `run_model` retries a timed-out call like any other
answer that never came, so its worst case is `MODEL_MAX_ATTEMPTS` timeouts plus the waits between them; with the
defaults (6 x 180 s + 5 x 60 s = 23 min) that fits the 30 minutes Azure gives a function on Flex Consumption
(MS Learn "Function app timeout duration": default 30 min; host.json sets no `functionTimeout`), after which the
worker process is restarted with every other function it runs; 6 x 600 s did not.
Tracing export is turned off (it would upload to OpenAI, and warn without an OpenAI key) unless
`OPENAI_AGENTS_DISABLE_TRACING` is set to `false` or `0`.

Nothing here raises at import: without a usable configuration the app still starts, `model_status()`
says what to set, and `require_model()` raises that message when a job is started. `configure_model()`
logs one line saying which model is configured (provider, model, base URL without secrets), or that
none is and what to set (issue 9.10).
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import agents
import openai
from agents.models import get_default_model, gpt_5_reasoning_settings_required
from openai import AsyncAzureOpenAI, AsyncOpenAI

log = logging.getLogger(__name__)

API_MODES = ("responses", "chat_completions")
DEFAULT_MAX_OUTPUT_TOKENS = 8192
DEFAULT_REQUEST_TIMEOUT_SECONDS = 180.0
CONNECT_TIMEOUT_SECONDS = 5.0  # the openai client's own connect timeout (openai._constants.DEFAULT_TIMEOUT)
# Azure OpenAI reasoning models, "NEW GPT-5 reasoning features": reasoning_effort options
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
ENCRYPTED_REASONING = "reasoning.encrypted_content"
O_SERIES = re.compile(r"^o\d")
AZURE_V1_PATH = "/openai/v1/"
AZURE_TOKEN_SCOPE = "https://cognitiveservices.azure.com/.default"
NO_KEY_PLACEHOLDER = "not-needed"  # OpenAI-compatible servers without auth still get a syntactically valid key

NOT_CONFIGURED = (
    "no model is configured: set OPENAI_API_KEY (OpenAI); or OPENAI_BASE_URL for an OpenAI-compatible server "
    "such as Ollama, vLLM or LM Studio (with OPENAI_API_MODE=chat_completions if it lacks the Responses API) and "
    "OPENAI_DEFAULT_MODEL; or AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_DEPLOYMENT (Azure OpenAI, with "
    "AZURE_OPENAI_API_KEY or a managed identity). Put them in the environment or in local.settings.json Values."
)


@dataclass(frozen=True)
class ModelConfig:
    """What `configure_model()` set up, or the `problem` that stopped it."""

    provider: str | None = None
    model: str | None = None
    api: str = "responses"
    base_url: str | None = None
    problem: str | None = None
    max_output_tokens: int | None = DEFAULT_MAX_OUTPUT_TOKENS
    temperature: float | None = None
    reasoning_effort: str | None = None
    reasoning: bool = False
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS

    @property
    def configured(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        if self.problem:
            return self.problem
        settings = f"max output tokens {self.max_output_tokens or 'unlimited'}"
        if self.reasoning:
            settings += f", reasoning model (effort {self.reasoning_effort or 'the model default'})"
        if self.temperature is not None:
            settings += f", temperature {self.temperature:g}"
            if self.reasoning:
                settings += " (sent only with reasoning effort none: reasoning models refuse it otherwise)"
        if self.request_timeout != DEFAULT_REQUEST_TIMEOUT_SECONDS:
            settings += f", request timeout {self.request_timeout:g} s"
        return f"configured: {self.provider}, model {self.model}, api {self.api}, {settings}"


class ModelNotConfiguredError(RuntimeError):
    """Starting an agent job without a usable model; the message says what to set."""


_current = ModelConfig(problem="no model is configured: configure_model() has not run")


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def public_url(url: str | None) -> str | None:
    """A URL fit for a log line: no user, password, query or fragment (keys hide there)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _model_settings() -> tuple[int | None, float | None, str | None]:
    """`MODEL_MAX_OUTPUT_TOKENS`, `MODEL_TEMPERATURE` and `MODEL_REASONING_EFFORT`; `ValueError` saying what is
    allowed."""
    raw_tokens, raw_temperature = _env("MODEL_MAX_OUTPUT_TOKENS"), _env("MODEL_TEMPERATURE")
    effort = (_env("MODEL_REASONING_EFFORT") or "").lower() or None
    if effort is not None and effort not in REASONING_EFFORTS:
        raise ValueError(f"MODEL_REASONING_EFFORT must be one of {', '.join(REASONING_EFFORTS)} (or unset for a model "
                         f"that does not reason), not {_env('MODEL_REASONING_EFFORT')!r}")
    tokens: int | None = DEFAULT_MAX_OUTPUT_TOKENS
    if raw_tokens is not None:
        if not raw_tokens.isdigit():
            raise ValueError(f"MODEL_MAX_OUTPUT_TOKENS must be a whole number (0 for no cap), not {raw_tokens!r}")
        tokens = int(raw_tokens) or None
    temperature = None
    if raw_temperature is not None:
        try:
            temperature = float(raw_temperature)
        except ValueError:
            temperature = -1.0
        if not 0 <= temperature <= 2:
            raise ValueError(f"MODEL_TEMPERATURE must be a number from 0 to 2, not {raw_temperature!r}")
    return tokens, temperature, effort


def _request_timeout() -> float:
    """`MODEL_REQUEST_TIMEOUT_SECONDS` in seconds, else the default; `ValueError` saying what is allowed."""
    raw = _env("MODEL_REQUEST_TIMEOUT_SECONDS")
    if raw is None:
        return DEFAULT_REQUEST_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ValueError(f"MODEL_REQUEST_TIMEOUT_SECONDS must be a number of seconds above 0, not {raw!r}")
    return seconds


def client_timeout(seconds: float) -> openai.Timeout:
    """The model client's timeout: `seconds` to send, to wait for each part of the answer and for a pooled
    connection, and at most `CONNECT_TIMEOUT_SECONDS` to connect."""
    return openai.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT_SECONDS))


def is_reasoning_model(model: str, effort: str | None) -> bool:
    """A reasoning effort is set, or the name is one the Agents SDK treats as a GPT-5 model, or an o-series one."""
    name = model.lower()
    return effort is not None or gpt_5_reasoning_settings_required(name) or bool(O_SERIES.match(name))


def _azure_client(timeout: openai.Timeout) -> tuple[AsyncOpenAI, str]:
    """An Azure OpenAI client and how it authenticates (key, else a token from DefaultAzureCredential): the v1
    API by default, a dated API version when one is set."""
    endpoint, key = _env("AZURE_OPENAI_ENDPOINT") or "", _env("AZURE_OPENAI_API_KEY")
    version = _env("AZURE_OPENAI_API_VERSION") or _env("OPENAI_API_VERSION")
    token_provider = None
    if not key:
        # The synchronous credential, as in the official durable sample: it is not bound to an event loop,
        # and it caches the token, so it blocks only on a refresh.
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider

        token_provider = get_bearer_token_provider(DefaultAzureCredential(), AZURE_TOKEN_SCOPE)
    auth = "api key" if key else "managed identity"
    if version:
        return AsyncAzureOpenAI(azure_endpoint=endpoint, api_version=version, api_key=key,
                                azure_ad_token_provider=token_provider, max_retries=0, timeout=timeout), auth

    async def token() -> str:
        return token_provider()

    return AsyncOpenAI(base_url=endpoint.rstrip("/") + AZURE_V1_PATH, api_key=key or token, max_retries=0,
                       timeout=timeout), auth


def _build() -> tuple[ModelConfig, AsyncOpenAI | None]:
    api = (_env("OPENAI_API_MODE") or "responses").lower()
    if api not in API_MODES:
        return ModelConfig(problem=f"OPENAI_API_MODE must be one of {', '.join(API_MODES)}, not {api!r}"), None
    try:
        settings, seconds = _model_settings(), _request_timeout()
    except ValueError as exc:
        return ModelConfig(problem=str(exc)), None
    timeout = client_timeout(seconds)
    if _env("AZURE_OPENAI_ENDPOINT"):
        deployment = _env("AZURE_OPENAI_DEPLOYMENT")
        if not deployment:
            return ModelConfig(problem="AZURE_OPENAI_ENDPOINT is set but AZURE_OPENAI_DEPLOYMENT is not: set it to "
                                       "the name of the model deployment the agents should use"), None
        client, auth = _azure_client(timeout)
        os.environ["OPENAI_DEFAULT_MODEL"] = deployment
        provider = f"azure-openai ({public_url(_env('AZURE_OPENAI_ENDPOINT'))}, {auth})"
        return ModelConfig(provider, deployment, api, public_url(str(client.base_url)), None, *settings,
                           reasoning=is_reasoning_model(deployment, settings[2]), request_timeout=seconds), client
    base_url, key = _env("OPENAI_BASE_URL"), _env("OPENAI_API_KEY")
    if not (base_url or key):
        return ModelConfig(problem=NOT_CONFIGURED), None
    client = AsyncOpenAI(api_key=key or NO_KEY_PLACEHOLDER, base_url=base_url, max_retries=0, timeout=timeout)
    provider = f"openai-compatible ({public_url(base_url)})" if base_url else "openai"
    model = get_default_model()
    return ModelConfig(provider, model, api, public_url(str(client.base_url)), None, *settings,
                       reasoning=is_reasoning_model(model, settings[2]), request_timeout=seconds), client


def configure_model() -> ModelConfig:
    """Read the environment and set the Agents SDK's process-wide model client and API; never raises."""
    global _current
    if (_env("OPENAI_AGENTS_DISABLE_TRACING") or "true").lower() not in ("false", "0"):
        agents.set_tracing_disabled(True)
    try:
        config, client = _build()
    except Exception as exc:  # a broken setting must not stop the app from starting; report it instead
        config, client = ModelConfig(problem=f"the model client could not be created: {exc}"), None
    if client is not None:
        agents.set_default_openai_client(client, use_for_tracing=False)
        agents.set_default_openai_api(config.api)  # type: ignore[arg-type]
    _current = config
    if config.configured:
        log.info("model %s", config.describe())
    else:
        log.warning("model: %s", config.describe())
    return config


def model_status() -> str:
    """"configured: <provider>, model <name>, api <api>", or what to set to configure a model."""
    return _current.describe()


def apply_model_settings(model_settings: dict[str, Any]) -> dict[str, Any]:
    """A model call's settings (the Agents SDK's `ModelSettings` as JSON) with the configured max output
    tokens, temperature and reasoning effort filled in where the agent set none, in the form the configured
    model takes (reasoning models: see the module docstring)."""
    config = _current
    filled = dict(model_settings)
    if filled.get("max_tokens") is None and config.max_output_tokens is not None:
        filled["max_tokens"] = config.max_output_tokens
    if not config.reasoning:
        if filled.get("temperature") is None and config.temperature is not None:
            filled["temperature"] = config.temperature
        return filled
    reasoning = dict(filled.get("reasoning") or {})
    if reasoning.get("effort") is None and config.reasoning_effort is not None:
        reasoning["effort"] = config.reasoning_effort
        filled["reasoning"] = reasoning
    if filled.get("temperature") is None and config.temperature is not None and reasoning.get("effort") == "none":
        filled["temperature"] = config.temperature
    if config.api == "chat_completions":
        if filled.get("max_tokens") is not None:
            filled["extra_args"] = {"max_completion_tokens": filled["max_tokens"], **(filled.get("extra_args") or {})}
            filled["max_tokens"] = None
        return filled
    if filled.get("store") is None:
        filled["store"] = False
    include = list(filled.get("response_include") or [])
    if filled["store"] is False and ENCRYPTED_REASONING not in include:
        filled["response_include"] = [*include, ENCRYPTED_REASONING]
    return filled


def require_model() -> ModelConfig:
    """The configuration, or `ModelNotConfiguredError` saying what to set: call it before starting an agent job."""
    if not _current.configured:
        raise ModelNotConfiguredError(_current.describe())
    return _current
