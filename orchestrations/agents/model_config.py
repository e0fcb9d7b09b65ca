"""Which model the agents call, configured once from the environment when function_app.py is imported.

The durable integration gives no per-app way to choose a model client: `durable_openai_agent_orchestrator`
rejects every `model_provider`, and the `run_model` activity builds a fresh `OpenAIProvider()` per call.
So the choice is made process-wide through the Agents SDK's defaults (`set_default_openai_client`,
`set_default_openai_api`, `OPENAI_DEFAULT_MODEL`), which that provider reads. Providers, first match wins:

- Azure OpenAI: `AZURE_OPENAI_ENDPOINT` and `AZURE_OPENAI_DEPLOYMENT`, authenticated with
  `AZURE_OPENAI_API_KEY` or else a managed identity / developer login (`DefaultAzureCredential`).
  `AZURE_OPENAI_API_VERSION` (or `OPENAI_API_VERSION`) defaults to `DEFAULT_AZURE_API_VERSION`, the
  first preview with the Responses API. The deployment is the default model (written to
  `OPENAI_DEFAULT_MODEL`, overriding it); the client is not pinned to it, so an agent that names a model
  names another deployment, in both APIs.
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
has not set them for itself (`apply_model_settings`). Clients get `max_retries=0`: the durable retry policy of the
`run_model` activity is the single source of backoff (client retries would multiply with it).
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
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import agents
from agents.models import get_default_model
from openai import AsyncAzureOpenAI, AsyncOpenAI

log = logging.getLogger(__name__)

API_MODES = ("responses", "chat_completions")
DEFAULT_MAX_OUTPUT_TOKENS = 8192
DEFAULT_AZURE_API_VERSION = "2025-04-01-preview"
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

    @property
    def configured(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        if self.problem:
            return self.problem
        settings = f"max output tokens {self.max_output_tokens or 'unlimited'}"
        if self.temperature is not None:
            settings += f", temperature {self.temperature:g}"
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


def _model_settings() -> tuple[int | None, float | None]:
    """`MODEL_MAX_OUTPUT_TOKENS` and `MODEL_TEMPERATURE`; `ValueError` saying what is allowed."""
    raw_tokens, raw_temperature = _env("MODEL_MAX_OUTPUT_TOKENS"), _env("MODEL_TEMPERATURE")
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
    return tokens, temperature


def _azure_client() -> tuple[AsyncAzureOpenAI, str]:
    """An Azure OpenAI client and how it authenticates (key, else a token from DefaultAzureCredential)."""
    options = {
        "azure_endpoint": _env("AZURE_OPENAI_ENDPOINT"),
        "api_version": _env("AZURE_OPENAI_API_VERSION") or _env("OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION,
        "max_retries": 0,
    }
    key = _env("AZURE_OPENAI_API_KEY")
    if key:
        return AsyncAzureOpenAI(api_key=key, **options), "api key"
    # The synchronous credential, as in the official durable sample: it is not bound to an event loop,
    # and it caches the token, so it blocks only on a refresh.
    from azure.identity import DefaultAzureCredential, get_bearer_token_provider

    token_provider = get_bearer_token_provider(DefaultAzureCredential(), AZURE_TOKEN_SCOPE)
    return AsyncAzureOpenAI(azure_ad_token_provider=token_provider, **options), "managed identity"


def _build() -> tuple[ModelConfig, AsyncOpenAI | None]:
    api = (_env("OPENAI_API_MODE") or "responses").lower()
    if api not in API_MODES:
        return ModelConfig(problem=f"OPENAI_API_MODE must be one of {', '.join(API_MODES)}, not {api!r}"), None
    try:
        settings = _model_settings()
    except ValueError as exc:
        return ModelConfig(problem=str(exc)), None
    if _env("AZURE_OPENAI_ENDPOINT"):
        deployment = _env("AZURE_OPENAI_DEPLOYMENT")
        if not deployment:
            return ModelConfig(problem="AZURE_OPENAI_ENDPOINT is set but AZURE_OPENAI_DEPLOYMENT is not: set it to "
                                       "the name of the model deployment the agents should use"), None
        client, auth = _azure_client()
        os.environ["OPENAI_DEFAULT_MODEL"] = deployment
        provider = f"azure-openai ({public_url(_env('AZURE_OPENAI_ENDPOINT'))}, {auth})"
        return ModelConfig(provider, deployment, api, public_url(str(client.base_url)), None, *settings), client
    base_url, key = _env("OPENAI_BASE_URL"), _env("OPENAI_API_KEY")
    if not (base_url or key):
        return ModelConfig(problem=NOT_CONFIGURED), None
    client = AsyncOpenAI(api_key=key or NO_KEY_PLACEHOLDER, base_url=base_url, max_retries=0)
    provider = f"openai-compatible ({public_url(base_url)})" if base_url else "openai"
    return ModelConfig(provider, get_default_model(), api, public_url(str(client.base_url)), None, *settings), client


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
    tokens and temperature filled in where the agent set none."""
    filled = dict(model_settings)
    if filled.get("max_tokens") is None and _current.max_output_tokens is not None:
        filled["max_tokens"] = _current.max_output_tokens
    if filled.get("temperature") is None and _current.temperature is not None:
        filled["temperature"] = _current.temperature
    return filled


def require_model() -> ModelConfig:
    """The configuration, or `ModelNotConfiguredError` saying what to set: call it before starting an agent job."""
    if not _current.configured:
        raise ModelNotConfiguredError(_current.describe())
    return _current
